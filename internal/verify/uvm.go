//go:build linux && rego

package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/Microsoft/hcsshim/pkg/securitypolicy"
	"github.com/open-policy-agent/opa/rego"
	oci "github.com/opencontainers/runtime-spec/specs-go"

	"cocofy.dev/cocofy/internal/guest"
)

const (
	// enforcerName selects hcsshim's Rego enforcer, the one the guest uses
	// for a non-empty policy (it converts legacy JSON policies to Rego).
	enforcerName = "rego"
	// defaultSandboxID is the sandbox a container belongs to when no
	// sandbox container was started (Classify's probe).
	defaultSandboxID = "cocofy-sandbox"
	// guestRoot is where the guest keeps per-container state
	// (hcsshim internal/guestpath.LCOWRootPrefixInUVM). Sandbox mount
	// sources, networking files and overlay targets live below it.
	guestRoot = "/run/gcs/c"
	// sandboxPrefix marks a sandbox mount source in the container spec
	// (hcsshim internal/guestpath.SandboxMountPrefix).
	sandboxPrefix = "sandbox://"
	// probe is the layer hash and command of a container no policy lists.
	probe = "cocofy-allow-all-probe"
)

// debugShells are the processes confcom --debug-mode lets anyone exec.
var debugShells = []string{"/bin/sh", "/bin/bash"}

// enforcer is what the replay asks of an enforcer: the part of hcsshim's
// securitypolicy.SecurityPolicyEnforcer the guest uses to start a pod.
type enforcer interface {
	EnforceDeviceMountPolicy(ctx context.Context, target, deviceHash string) error
	EnforceOverlayMountPolicy(ctx context.Context, containerID string, layerPaths []string, target string) error
	ExtendDefaultMounts(mounts []oci.Mount) error
	EnforceCreateContainerPolicy(ctx context.Context, sandboxID, containerID string,
		argList, envList []string, workingDir string, mounts []oci.Mount, privileged, noNewPrivileges bool,
		user securitypolicy.IDName, groups []securitypolicy.IDName, umask string,
		caps *oci.LinuxCapabilities, seccompProfileSHA256 string,
	) (securitypolicy.EnvList, *oci.LinuxCapabilities, bool, error)
	EnforceExecExternalProcessPolicy(ctx context.Context, argList, envList []string, workingDir string) (securitypolicy.EnvList, bool, error)
	EnforceDumpStacksPolicy(ctx context.Context) error
	EnforceRuntimeLoggingPolicy(ctx context.Context) error
}

// uvm is one simulated utility VM with one enforcer, like the ACI guest
// for one pod.
type uvm struct {
	enforcer enforcer
	// fast is the enforcer when it is the fast one; its results count only
	// when it settled them (see exact).
	fast       *fastEnforcer
	sandboxID  string
	devices    int
	containers int
	// networking is set once the guest's networking mounts are among the
	// enforcer's default mounts.
	networking bool
}

// newGuest returns a guest with the fast enforcer when the policy is plain
// data it evaluates exactly as hcsshim's enforcer does, else with hcsshim's.
func newGuest(c *compiled, policyText string) (*uvm, error) {
	mod, err := loadable(policyText)
	if err != nil {
		return nil, err
	}
	if mod != nil {
		if f := newFastEnforcerOrNil(c, mod); f != nil {
			return &uvm{enforcer: f, fast: f, sandboxID: defaultSandboxID}, nil
		}
	}
	return hcsshimGuest(policyText)
}

// newHcsshimGuest returns a guest with hcsshim's own enforcer.
func newHcsshimGuest(policyText string) (*uvm, error) {
	if _, err := loadable(policyText); err != nil {
		return nil, err
	}
	return hcsshimGuest(policyText)
}

// hcsshimGuest is newHcsshimGuest for a policy loadable has accepted.
func hcsshimGuest(policyText string) (g *uvm, err error) {
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, (&uvm{}).panicked(r)
		}
	}()
	// The guest receives the annotation value, base64 of the policy text.
	encoded := base64.StdEncoding.EncodeToString([]byte(policyText))
	// maxErrorMessageLength 0: the guest truncates decisions to 3 KiB for
	// the orchestrator; we want the whole decision.
	e, err := securitypolicy.CreateSecurityPolicyEnforcer(enforcerName, encoded, criMounts(), criPrivilegedMounts(), 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnparsable, err)
	}
	return &uvm{enforcer: e, sandboxID: defaultSandboxID}, nil
}

// loadable refuses what verify does not evaluate (see checkShape) and
// returns the Rego module, nil for a legacy JSON policy.
func loadable(policyText string) (*policyModule, error) {
	if strings.TrimSpace(policyText) == "" {
		// The guest would start with the open-door enforcer: there is no
		// policy to check.
		return nil, fmt.Errorf("%w: empty policy", ErrUnparsable)
	}
	return checkShape(policyText)
}

// newFastEnforcerOrNil is newFastEnforcer, with nil (hcsshim's enforcer
// decides) when loading the data panics in OPA.
func newFastEnforcerOrNil(c *compiled, mod *policyModule) (f *fastEnforcer) {
	defer func() {
		if recover() != nil {
			f = nil
		}
	}()
	return newFastEnforcer(c, mod)
}

// panicked is what a panic r in g's enforcer comes to: the fast enforcer's
// replay is spoiled (nil error: the caller asks hcsshim's enforcer, which
// may load it fine or report why not); a panic in hcsshim's own enforcer
// is reported as a policy the guest cannot load, never passed on.
func (g *uvm) panicked(r any) error {
	err := fmt.Errorf("%w: hcsshim's enforcer fails on it: panic: %v", ErrUnparsable, r)
	if g.fast != nil {
		g.fast.spoil(err)
		return nil
	}
	return err
}

// fastData is the policy's data when the fast enforcer evaluates it.
func (g *uvm) fastData() map[string]any {
	if g.fast == nil {
		return nil
	}
	return g.fast.policy
}

// exact reports whether ds are the decisions hcsshim's enforcer gives: the
// fast enforcer settles only replays in which every container is allowed
// and nothing else unexpected happened.
func (g *uvm) exact(ds []Decision) bool {
	if g.fast == nil {
		return true
	}
	if g.fast.spoiled != nil {
		return false
	}
	for _, d := range ds {
		if !d.Allowed {
			return false
		}
	}
	return true
}

// run replays what the guest does to start c: mount each layer device, mount
// the overlay, create the container. The
// sandbox container's ID becomes the sandbox ID of the containers after it,
// as the CRI annotation io.kubernetes.cri.sandbox-id makes it in the guest.
func (g *uvm) run(ctx context.Context, c guest.Container, sandbox bool) Decision {
	d := Decision{Name: c.Name}
	g.containers++
	id := fmt.Sprintf("cocofy-%d", g.containers)
	if sandbox {
		g.sandboxID = id
	}

	// The guest mounts each layer (a dm-verity device) at its own path and
	// checks the device's root hash against every layer of every container.
	targets := make([]string, len(c.Layers))
	for i, hash := range c.Layers {
		g.devices++
		targets[i] = fmt.Sprintf("/run/layers/p%d", g.devices)
		if err := g.enforcer.EnforceDeviceMountPolicy(ctx, targets[i], hash); err != nil {
			return deny(d, "mount_device", err)
		}
	}
	// The overlay lists the layers top first; the framework compares
	// layerPaths[i] with layers[len-1-i].
	slices.Reverse(targets)
	if err := g.enforcer.EnforceOverlayMountPolicy(ctx, id, targets, path.Join(guestRoot, id, "rootfs")); err != nil {
		return deny(d, "mount_overlay", err)
	}

	// Every container creation adds the sandbox's /etc/hostname, /etc/hosts
	// and /etc/resolv.conf to the mounts any container may have
	// (hcsshim internal/guest/policy.ExtendPolicyWithNetworkingMounts).
	if !g.networking {
		if err := g.enforcer.ExtendDefaultMounts(g.networkingMounts(nil)); err != nil {
			return deny(d, "create_container", err)
		}
		g.networking = true
	}

	user, groups, umask := c.User, c.Groups, c.Umask
	if user == (guest.IDName{}) {
		user = guest.IDName{ID: "0", Name: "root"}
	}
	if len(groups) == 0 {
		groups = []guest.IDName{{ID: "0", Name: "root"}}
	}
	if umask == "" {
		umask = "0022"
	}
	wd := c.WorkingDir
	if wd == "" {
		wd = "/"
	}
	caps := c.Capabilities
	if caps == nil {
		caps = guest.DefaultCapabilities(c.Privileged)
	}
	ociCaps := caps
	// A run-time value of a known form is replayed as a value of that
	// form: a policy must admit every such value, not the placeholder.
	env := make([]string, len(c.Env))
	for i, kv := range c.Env {
		env[i] = guest.Sample(kv)
	}
	keepEnv, keepCaps, _, err := g.enforcer.EnforceCreateContainerPolicy(ctx, g.sandboxID, id,
		c.Command, env, wd, g.specMounts(c, sandbox), c.Privileged, c.NoNewPrivileges,
		toIDName(user), toIDNames(groups), umask, ociCaps, c.SeccompProfileSHA256)
	if err != nil {
		return deny(d, "create_container", err)
	}
	d.Allowed = true
	d.DroppedEnv = droppedEnv(env, keepEnv)
	d.DroppedCapabilities = droppedCaps(ociCaps, keepCaps)

	return d
}

// fragmentLoader is the part of hcsshim's enforcer that loads fragments;
// the fast enforcer has none.
type fragmentLoader interface {
	LoadFragment(ctx context.Context, issuer, feed, rego string) error
}

// load offers each fragment to g's enforcer in order, as the guest's
// InjectFragment does once the envelope is checked, and returns, for each,
// nil or why the enforcer refused it. A panic in the enforcer is an
// ErrUnparsable error, as in a replay.
func (g *uvm) load(ctx context.Context, fragments []Fragment) (loaded []error, err error) {
	defer func() {
		if r := recover(); r != nil {
			loaded, err = nil, g.panicked(r)
		}
	}()
	l, ok := g.enforcer.(fragmentLoader)
	if !ok {
		return nil, fmt.Errorf("%w: this enforcer loads no fragments", ErrUnparsable)
	}
	loaded = make([]error, len(fragments))
	for i, f := range fragments {
		if err := l.LoadFragment(ctx, f.Issuer, f.Feed, f.Rego); err != nil {
			_, reason := explain(err)
			loaded[i] = fmt.Errorf("%w: %s", ErrFragmentRefused, reason)
		}
	}
	return loaded, nil
}

// droppedEnv names the variables of env that are not in keep.
func droppedEnv(env, keep []string) []string {
	var names []string
	for _, e := range env {
		if !slices.Contains(keep, e) {
			name, _, _ := strings.Cut(e, "=")
			names = append(names, name)
		}
	}
	return names
}

// droppedCaps names the capabilities of any set of caps that are not in the
// same set of keep.
func droppedCaps(caps, keep *oci.LinuxCapabilities) []string {
	if keep == nil {
		return nil
	}
	var names []string
	for _, pair := range [][2][]string{
		{caps.Bounding, keep.Bounding},
		{caps.Effective, keep.Effective},
		{caps.Inheritable, keep.Inheritable},
		{caps.Permitted, keep.Permitted},
		{caps.Ambient, keep.Ambient},
	} {
		for _, c := range pair[0] {
			if !slices.Contains(pair[1], c) && !slices.Contains(names, c) {
				names = append(names, c)
			}
		}
	}
	slices.Sort(names)
	return names
}

func deny(d Decision, step string, err error) Decision {
	d.Step = step
	d.PolicyDecision, d.Reason = explain(err)
	return d
}

// explain decodes the guest's policyDecision< base64 >policyDecision error
// into the decision JSON and a short reason.
func explain(err error) (decision, reason string) {
	decision, xerr := securitypolicy.ExtractPolicyDecision(err.Error())
	if xerr != nil {
		// Not a policy decision (e.g. the enforcer's own checks).
		return "", err.Error()
	}
	var v struct {
		Reason      json.RawMessage `json:"reason"`
		PolicyError string          `json:"policyError"`
	}
	if json.Unmarshal([]byte(decision), &v) != nil {
		return decision, decision
	}
	if v.PolicyError != "" {
		// The enforcer could not evaluate the rule (a rule missing from the
		// policy, no api_version, ...).
		return decision, v.PolicyError
	}
	var framework struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(v.Reason, &framework) == nil && len(framework.Errors) > 0 {
		slices.Sort(framework.Errors)
		return decision, strings.Join(framework.Errors, "; ")
	}
	var s string
	if json.Unmarshal(v.Reason, &s) == nil && s != "" {
		return decision, s
	}
	return decision, string(v.Reason)
}

// specMounts is the mount list the guest hands to the enforcer: the runtime's
// defaults (privileged: with read-write /sys and /sys/fs/cgroup), then the
// container's mounts with sandbox:// sources rewritten below the sandbox
// mounts directory (hcsshim hcsv2 updateSandboxMounts), then, for a workload
// container, the networking files it does not mount itself
// (specGuest.GenerateWorkloadContainerNetworkMounts).
func (g *uvm) specMounts(c guest.Container, sandbox bool) []oci.Mount {
	mounts := criMounts()
	if c.Privileged {
		mounts = slices.DeleteFunc(mounts, func(m oci.Mount) bool {
			return m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup"
		})
		mounts = append(mounts, criPrivilegedMounts()...)
	}
	sandboxMounts := path.Join(guestRoot, g.sandboxID, "sandboxMounts")
	for _, m := range c.Mounts {
		src := m.Source
		if rest, ok := strings.CutPrefix(src, sandboxPrefix); ok {
			src = path.Join(sandboxMounts, rest)
		}
		typ := m.Type
		if typ == "" {
			typ = "bind"
		}
		mounts = append(mounts, oci.Mount{Destination: m.Destination, Source: src, Type: typ, Options: m.Options})
	}
	if !sandbox {
		mounts = append(mounts, g.networkingMounts(mounts)...)
	}
	return mounts
}

// networkingMounts returns the guest's bind mounts of the sandbox's
// hostname, hosts and resolv.conf for the paths not in present.
func (g *uvm) networkingMounts(present []oci.Mount) []oci.Mount {
	var out []oci.Mount
	for _, p := range []string{"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"} {
		if slices.ContainsFunc(present, func(m oci.Mount) bool { return m.Destination == p }) {
			continue
		}
		out = append(out, oci.Mount{
			Destination: p,
			Type:        "bind",
			Source:      path.Join(guestRoot, g.sandboxID, strings.TrimPrefix(p, "/etc/")),
			Options:     []string{"bind"},
		})
	}
	return out
}

// criMounts returns the mounts containerd puts into every Linux container
// spec, which the guest passes to the enforcer as mounts every policy allows
// (hcsshim internal/guest/policy.DefaultCRIMounts, not importable).
func criMounts() []oci.Mount {
	return []oci.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
}

// criPrivilegedMounts returns the read-write /sys/fs/cgroup and /sys that
// replace the read-only ones in a privileged container; the framework allows
// them only for allow_elevated containers
// (hcsshim internal/guest/policy.DefaultCRIPrivilegedMounts).
func criPrivilegedMounts() []oci.Mount {
	return []oci.Mount{
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "rw"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "rw"}},
	}
}

func toIDName(n guest.IDName) securitypolicy.IDName {
	return securitypolicy.IDName{ID: n.ID, Name: n.Name}
}

func toIDNames(ns []guest.IDName) []securitypolicy.IDName {
	out := make([]securitypolicy.IDName, len(ns))
	for i, n := range ns {
		out[i] = toIDName(n)
	}
	return out
}

func classify(ctx context.Context, comp *compiled, policyText string) (Classification, error) {
	g, err := newGuest(comp, policyText)
	if err != nil {
		return Classification{}, err
	}
	c, err := g.classify(ctx, policyText)
	if g.fast != nil && g.fast.spoiled != nil {
		// Something the fast enforcer does not settle: ask hcsshim's.
		if g, err = hcsshimGuest(policyText); err != nil {
			return Classification{}, err
		}
		return g.classify(ctx, policyText)
	}
	return c, err
}

func (g *uvm) classify(ctx context.Context, policyText string) (c Classification, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = Classification{}, g.panicked(r)
		}
	}()
	// Behaviour first: a container no policy could list.
	if d := g.run(ctx, guest.Container{Name: probe, Layers: []string{probe}, Command: []string{probe}}, false); d.Allowed {
		return Classification{Kind: AllowAll, Signals: []string{"a container with an unknown layer and command is allowed"}}, nil
	}
	var signals []string
	if g.enforcer.EnforceDumpStacksPolicy(ctx) == nil {
		signals = append(signals, "allow_dump_stacks")
	}
	if g.enforcer.EnforceRuntimeLoggingPolicy(ctx) == nil {
		signals = append(signals, "allow_runtime_logging")
	}
	for _, sh := range debugShells {
		if _, _, err := g.enforcer.EnforceExecExternalProcessPolicy(ctx, []string{sh}, nil, "/"); err == nil {
			signals = append(signals, fmt.Sprintf("exec_external allows %q", sh))
		}
	}
	shells, err := g.policyShells(ctx, policyText)
	if err != nil {
		return Classification{}, err
	}
	signals = append(signals, shells...)
	if len(signals) > 0 {
		return Classification{Kind: Debug, Signals: signals}, nil
	}
	return Classification{Kind: Generated}, nil
}

// policyShells reads data.policy.containers from the Rego text and names the
// containers whose exec_processes allow a bare shell.
func (g *uvm) policyShells(ctx context.Context, policyText string) ([]string, error) {
	if containers, ok := g.fastData()["containers"]; ok {
		return shellSignals(containers), nil
	}
	var legacy securitypolicy.SecurityPolicy
	if json.Unmarshal([]byte(policyText), &legacy) == nil {
		// Legacy JSON policies cannot list exec processes.
		return nil, nil
	}
	// The guest's interpreter (OPA v0.x) parses policies as Rego v0, which
	// is this OPA's default.
	rs, err := rego.New(
		rego.Query("data.policy.containers"),
		rego.Module("policy.rego", policyText),
	).Eval(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: reading containers: %w", ErrUnparsable, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	return shellSignals(rs[0].Expressions[0].Value), nil
}

// shellSignals names the containers of a policy's containers value whose
// exec_processes allow a bare shell.
func shellSignals(value any) []string {
	raw, err := json.Marshal(value)
	if err != nil {
		return nil
	}
	var containers []struct {
		Name          string `json:"name"`
		ID            string `json:"id"`
		ExecProcesses []struct {
			Command []string `json:"command"`
		} `json:"exec_processes"`
	}
	if json.Unmarshal(raw, &containers) != nil {
		// containers is not the list confcom writes; nothing to report.
		return nil
	}
	var signals []string
	for i, c := range containers {
		var found []string
		for _, p := range c.ExecProcesses {
			if len(p.Command) == 1 && isShell(p.Command[0]) {
				found = append(found, p.Command[0])
			}
		}
		if len(found) == 0 {
			continue
		}
		name := c.Name
		if name == "" {
			name = c.ID
		}
		if name == "" {
			name = fmt.Sprintf("containers[%d]", i)
		}
		signals = append(signals, fmt.Sprintf("exec_processes of %q allow %q", name, found))
	}
	return signals
}

// isShell reports whether argv0 is an interactive shell. A shell with
// arguments (a probe's ["/bin/sh", "-c", "..."]) is not: it runs one fixed
// command.
func isShell(argv0 string) bool {
	switch path.Base(argv0) {
	case "sh", "bash", "ash", "dash", "zsh", "ksh":
		return true
	}
	return false
}

// Enabled reports whether the enforcer is built in (-tags rego on linux).
func Enabled() bool { return true }
