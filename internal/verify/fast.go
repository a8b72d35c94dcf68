//go:build linux && rego

package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/Microsoft/hcsshim/pkg/securitypolicy"
	"github.com/open-policy-agent/opa/ast"
	"github.com/open-policy-agent/opa/rego"
	"github.com/open-policy-agent/opa/storage"
	"github.com/open-policy-agent/opa/storage/inmem"
	oci "github.com/opencontainers/runtime-spec/specs-go"
)

// The fast enforcer asks hcsshim's framework the questions hcsshim's
// regoEnforcer asks (securitypolicyenforcer_rego.go, v0.14.1), with the
// same inputs and the same handling of the answers, against a frame compiled
// once per process instead of once per policy. It only ever settles a
// container as allowed: a denial, or anything hcsshim's enforcer would
// treat as an error, marks it spoiled, and [Policy] and [Classify] then ask
// hcsshim's enforcer itself, whose decision and reason text are the ones
// reported. A denial it reports for a probe (a debug shell, the allow-all
// probe) is the framework's own verdict.
type fastEnforcer struct {
	c             *compiled // the Verifier's
	compiler      *ast.Compiler
	policy        map[string]any
	store         storage.Store
	defaultMounts []oci.Mount
	metadata      map[string]map[string]bool
	// versions keys the answers about enforcement points: the frame and
	// the policy's API version.
	versions string
	// spoiled is the first thing that did not go as in a plain allowed
	// replay; the replay's result is then not used.
	spoiled error
}

// errFastDenied is the fast enforcer's denial: the framework said no.
var errFastDenied = errors.New("denied by the policy")

type pointInfo struct {
	available bool
	defaults  map[string]any
}

// newFastEnforcer returns nil when the policy is not one the fast enforcer
// evaluates exactly as hcsshim's (see split) or no frame is available.
func newFastEnforcer(c *compiled, mod *policyModule) *fastEnforcer {
	sig, policy, ok := split(mod)
	if !ok {
		return nil
	}
	compiler, ok := c.frameFor(sig)
	if !ok {
		return nil
	}
	f := &fastEnforcer{
		c:             c,
		compiler:      compiler,
		policy:        policy,
		defaultMounts: criMounts(),
		metadata:      map[string]map[string]bool{},
		versions:      versionsKey(sig, policy),
	}
	// The data hcsshim's newRegoPolicy gives its interpreter, plus the
	// policy's data.
	f.store = inmem.NewFromObjectWithOpts(map[string]any{
		"defaultMounts":                   mountData(f.defaultMounts),
		"privilegedMounts":                mountData(criPrivilegedMounts()),
		"sandboxPrefix":                   sandboxPrefix,
		"hugePagesPrefix":                 "hugepages://",
		"plan9Prefix":                     "plan9://",
		"defaultUnprivilegedCapabilities": securitypolicy.DefaultUnprivilegedCapabilities(),
		"defaultPrivilegedCapabilities":   securitypolicy.DefaultPrivilegedCapabilities(),
		"metadata":                        map[string]any{},
		"policy":                          policy,
	}, inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
	return f
}

func (f *fastEnforcer) spoil(err error) error {
	if f.spoiled == nil {
		f.spoiled = err
	}
	return err
}

// query is regopolicyinterpreter's Query: the result object without its
// metadata operations, which it applies.
func (f *fastEnforcer) query(ctx context.Context, rule string, input map[string]any) (map[string]any, error) {
	rs, err := rego.New(rego.ParsedQuery(f.c.parsedQuery(rule)), rego.Compiler(f.compiler), rego.Store(f.store), rego.Input(input)).Eval(ctx)
	if err != nil {
		return nil, f.spoil(err)
	}
	if len(rs) == 0 {
		return map[string]any{}, nil
	}
	result, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return nil, f.spoil(fmt.Errorf("%s: not an object", rule))
	}
	if ops, ok := result["metadata"]; ok {
		if err := f.applyMetadata(ctx, ops); err != nil {
			return nil, f.spoil(err)
		}
		delete(result, "metadata")
	}
	return result, nil
}

// parsedQuery parses a query once per Verifier, as OPA's v0 Rego (what
// rego.Query(rule) does on every call).
func (c *compiled) parsedQuery(rule string) ast.Body {
	if q, ok := c.queries.Load(rule); ok {
		return q.(ast.Body)
	}
	q := ast.MustParseBody(rule)
	c.queries.Store(rule, q)
	return q
}

// applyMetadata applies the framework's metadata operations as the
// interpreter does; adding a key that exists is an error there.
func (f *fastEnforcer) applyMetadata(ctx context.Context, raw any) error {
	ops, ok := raw.([]any)
	if !ok {
		return errors.New("metadata: not an array")
	}
	return storage.Txn(ctx, f.store, storage.WriteParams, func(txn storage.Transaction) error {
		for _, raw := range ops {
			op, ok := raw.(map[string]any)
			name, okName := op["name"].(string)
			action, okAction := op["action"].(string)
			key, okKey := op["key"].(string)
			value, okValue := op["value"]
			if !ok || !okName || !okAction || !okKey {
				return errors.New("metadata: malformed operation")
			}
			if f.metadata[name] == nil {
				f.metadata[name] = map[string]bool{}
				if err := f.store.Write(ctx, txn, storage.AddOp, storage.Path{"metadata", name}, map[string]any{}); err != nil {
					return err
				}
			}
			path := storage.Path{"metadata", name, key}
			switch {
			case action == "add" && okValue && !f.metadata[name][key]:
			case action == "update" && okValue:
			case action == "remove":
				if f.metadata[name][key] {
					delete(f.metadata[name], key)
					if err := f.store.Write(ctx, txn, storage.RemoveOp, path, nil); err != nil {
						return err
					}
				}
				continue
			default:
				return fmt.Errorf("metadata: cannot %s %s[%s]", action, name, key)
			}
			f.metadata[name][key] = true
			if err := f.store.Write(ctx, txn, storage.AddOp, path, value); err != nil {
				return err
			}
		}
		return nil
	})
}

// enforce is regoEnforcer.enforce: the rule's result over the enforcement
// point's defaults, allowed or not.
func (f *fastEnforcer) enforce(ctx context.Context, point string, input map[string]any) (map[string]any, error) {
	result, err := f.query(ctx, "data.policy."+point, input)
	if err != nil {
		return nil, err
	}
	info, err := f.point(ctx, point)
	if err != nil {
		return nil, err
	}
	if len(result) == 0 && info.available {
		return nil, f.spoil(fmt.Errorf("rule for %s is missing from policy", point))
	}
	merged := map[string]any{}
	for k, v := range info.defaults {
		merged[k] = v
	}
	for k, v := range result {
		merged[k] = v
	}
	allowed, ok := merged["allowed"].(bool)
	switch {
	case !ok:
		return nil, f.spoil(fmt.Errorf("%s: allowed is not a boolean", point))
	case !allowed:
		return nil, errFastDenied
	}
	return merged, nil
}

// compiled.points holds the answers of data.framework.enforcement_point_info.
// The framework computes it from data.api, the frame's, the policy's
// api_version (or its deprecated api_svn) and the point's name alone.

func versionsKey(sig string, policy map[string]any) string {
	v, _ := json.Marshal([]any{policy["api_version"], policy["api_svn"]})
	_, hasVersion := policy["api_version"]
	_, hasSVN := policy["api_svn"]
	return fmt.Sprintf("%s\x00%s %t %t", sig, v, hasVersion, hasSVN)
}

// point is regoEnforcer.queryEnforcementPoint, asked once per Verifier for
// each frame, API version and point.
func (f *fastEnforcer) point(ctx context.Context, point string) (pointInfo, error) {
	key := f.versions + "\x00" + point
	if info, ok := f.c.points.Load(key); ok {
		return info.(pointInfo), nil
	}
	r, err := f.query(ctx, "data.framework.enforcement_point_info", map[string]any{"name": point, "rule": point})
	if err != nil {
		return pointInfo{}, err
	}
	unknown, ok1 := r["unknown"].(bool)
	invalid, ok2 := r["invalid"].(bool)
	missing, ok3 := r["version_missing"].(bool)
	defaults, ok4 := r["default_results"].(map[string]any)
	available, ok5 := r["available"].(bool)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || unknown || invalid || missing {
		return pointInfo{}, f.spoil(fmt.Errorf("enforcement point %s: %v", point, r))
	}
	info := pointInfo{available: available, defaults: defaults}
	f.c.points.Store(key, info)
	return info, nil
}

func (f *fastEnforcer) EnforceDeviceMountPolicy(ctx context.Context, target, deviceHash string) error {
	_, err := f.enforce(ctx, "mount_device", map[string]any{"target": target, "deviceHash": deviceHash})
	return err
}

func (f *fastEnforcer) EnforceOverlayMountPolicy(ctx context.Context, containerID string, layerPaths []string, target string) error {
	_, err := f.enforce(ctx, "mount_overlay", map[string]any{"containerID": containerID, "layerPaths": layerPaths, "target": target})
	return err
}

func (f *fastEnforcer) ExtendDefaultMounts(mounts []oci.Mount) error {
	f.defaultMounts = append(f.defaultMounts, mounts...)
	ctx := context.Background()
	return storage.WriteOne(ctx, f.store, storage.ReplaceOp, storage.Path{"defaultMounts"}, mountData(f.defaultMounts))
}

func (f *fastEnforcer) EnforceCreateContainerPolicy(ctx context.Context, sandboxID, containerID string,
	argList, envList []string, workingDir string, mounts []oci.Mount, privileged, noNewPrivileges bool,
	user securitypolicy.IDName, groups []securitypolicy.IDName, umask string,
	caps *oci.LinuxCapabilities, seccompProfileSHA256 string,
) (securitypolicy.EnvList, *oci.LinuxCapabilities, bool, error) {
	if caps == nil {
		return nil, nil, false, f.spoil(errors.New("capabilities are nil"))
	}
	result, err := f.enforce(ctx, "create_container", map[string]any{
		"containerID":          containerID,
		"argList":              argList,
		"envList":              envList,
		"workingDir":           workingDir,
		"sandboxDir":           guestRoot + "/" + sandboxID + "/sandboxMounts",
		"hugePagesDir":         guestRoot + "/" + sandboxID + "/hugepages",
		"mounts":               mountData(mounts),
		"privileged":           privileged,
		"noNewPrivileges":      noNewPrivileges,
		"user":                 idNameInput(user),
		"groups":               idNamesInput(groups),
		"umask":                umask,
		"capabilities":         capsInput(caps),
		"seccompProfileSHA256": seccompProfileSHA256,
	})
	if err != nil {
		return nil, nil, false, err
	}
	return f.keep(result, envList, caps)
}

func (f *fastEnforcer) EnforceExecExternalProcessPolicy(ctx context.Context, argList, envList []string, workingDir string) (securitypolicy.EnvList, bool, error) {
	result, err := f.enforce(ctx, "exec_external", map[string]any{"argList": argList, "envList": envList, "workingDir": workingDir})
	if err != nil {
		return nil, false, err
	}
	env, err := f.envToKeep(result, envList)
	if err != nil {
		return nil, false, err
	}
	stdio, ok := result["allow_stdio_access"].(bool)
	if !ok {
		return nil, false, f.spoil(errors.New("exec_external: allow_stdio_access is not a boolean"))
	}
	return env, stdio, nil
}

func (f *fastEnforcer) EnforceDumpStacksPolicy(ctx context.Context) error {
	_, err := f.enforce(ctx, "dump_stacks", map[string]any{})
	return err
}

func (f *fastEnforcer) EnforceRuntimeLoggingPolicy(ctx context.Context) error {
	_, err := f.enforce(ctx, "runtime_logging", map[string]any{})
	return err
}

// keep reads what the guest keeps of a created container's environment and
// capabilities (getEnvsToKeep, getCapsToKeep) and its stdio access.
func (f *fastEnforcer) keep(result map[string]any, envList []string, caps *oci.LinuxCapabilities) (securitypolicy.EnvList, *oci.LinuxCapabilities, bool, error) {
	env, err := f.envToKeep(result, envList)
	if err != nil {
		return nil, nil, false, err
	}
	keptCaps, err := f.capsToKeep(result, caps)
	if err != nil {
		return nil, nil, false, err
	}
	allowStdio, ok := result["allow_stdio_access"].(bool)
	if !ok {
		return nil, nil, false, f.spoil(errors.New("allow_stdio_access is not a boolean"))
	}
	return env, keptCaps, allowStdio, nil
}

func (f *fastEnforcer) envToKeep(result map[string]any, envList []string) (securitypolicy.EnvList, error) {
	raw, ok := result["env_list"]
	if !ok || raw == nil {
		return envList, nil
	}
	keep, err := f.strings(raw, "env_list")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range envList {
		if keep[e] {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fastEnforcer) capsToKeep(result map[string]any, caps *oci.LinuxCapabilities) (*oci.LinuxCapabilities, error) {
	raw, ok := result["caps_list"]
	if !ok || raw == nil {
		return caps, nil
	}
	sets, ok := raw.(map[string]any)
	if !ok {
		return nil, f.spoil(errors.New("caps_list is not an object"))
	}
	out := &oci.LinuxCapabilities{}
	for _, s := range []struct {
		name     string
		supplied []string
		kept     *[]string
	}{
		{"bounding", caps.Bounding, &out.Bounding},
		{"effective", caps.Effective, &out.Effective},
		{"inheritable", caps.Inheritable, &out.Inheritable},
		{"permitted", caps.Permitted, &out.Permitted},
		{"ambient", caps.Ambient, &out.Ambient},
	} {
		keep, err := f.strings(sets[s.name], "caps_list."+s.name)
		if err != nil {
			return nil, err
		}
		for _, c := range s.supplied {
			if keep[c] {
				*s.kept = append(*s.kept, c)
			}
		}
	}
	return out, nil
}

// strings reads an array of strings from a result; anything else is an
// error in hcsshim's enforcer.
func (f *fastEnforcer) strings(raw any, what string) (map[string]bool, error) {
	list, ok := raw.([]any)
	if !ok {
		return nil, f.spoil(fmt.Errorf("%s is not an array", what))
	}
	set := map[string]bool{}
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return nil, f.spoil(fmt.Errorf("%s holds a value that is not a string", what))
		}
		set[s] = true
	}
	return set, nil
}

// mountData is hcsshim's appendMountData.
func mountData(mounts []oci.Mount) []any {
	out := make([]any, 0, len(mounts))
	for _, m := range mounts {
		out = append(out, map[string]any{"destination": m.Destination, "source": m.Source, "options": m.Options, "type": m.Type})
	}
	return out
}

func idNameInput(n securitypolicy.IDName) map[string]any {
	return map[string]any{"id": n.ID, "name": n.Name}
}

func idNamesInput(ns []securitypolicy.IDName) []any {
	out := []any{}
	for _, n := range ns {
		out = append(out, idNameInput(n))
	}
	return out
}

// capsInput is hcsshim's mapifyCapabilities: nil or empty sets become [].
func capsInput(caps *oci.LinuxCapabilities) map[string]any {
	set := func(s []string) []any {
		out := make([]any, 0, len(s))
		for _, c := range s {
			out = append(out, c)
		}
		return out
	}
	return map[string]any{
		"bounding":    set(caps.Bounding),
		"effective":   set(caps.Effective),
		"inheritable": set(caps.Inheritable),
		"permitted":   set(caps.Permitted),
		"ambient":     set(caps.Ambient),
	}
}
