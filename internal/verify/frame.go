//go:build linux && rego

package verify

import (
	"slices"
	"strings"
	"sync"

	"github.com/Microsoft/hcsshim/pkg/securitypolicy"
	"github.com/open-policy-agent/opa/ast"
)

// A frame is hcsshim's framework.rego and api.rego compiled together with
// the rules of a policy that refer into them (mount_device :=
// data.framework.mount_device, ...). Generated policies differ only in their
// data (containers, fragments, api_version, allow_* flags), which the fast
// enforcer puts into the store at data.policy, so one frame serves every
// policy with the same reference rules: hcsshim's interpreter compiles the
// same modules again for every policy, about 30 ms each.
type frame struct {
	compiler *ast.Compiler
	err      error
}

// maxFrames bounds the frames kept: every confcom version writes one set of
// reference rules, so a run needs a handful. A policy with yet another set
// is checked by hcsshim's enforcer alone.
const maxFrames = 32

// compiled is what a Verifier keeps of its calls: hcsshim's framework
// compiled with each set of policy rules (frames), the parsed queries and
// the enforcement points' answers.
type compiled struct {
	mu      sync.Mutex
	frames  map[string]func() frame
	queries sync.Map // rule -> ast.Body
	points  sync.Map // versions + "\x00" + point -> pointInfo
}

func newCompiled() *compiled { return &compiled{frames: map[string]func() frame{}} }

// frameFor returns the compiled frame for the module text sig, compiling it
// once per Verifier; ok is false when no frame is available (too many
// distinct ones, or sig does not compile with the framework).
func (c *compiled) frameFor(sig string) (*ast.Compiler, bool) {
	c.mu.Lock()
	get, found := c.frames[sig]
	if !found {
		if len(c.frames) >= maxFrames {
			c.mu.Unlock()
			return nil, false
		}
		get = sync.OnceValue(func() frame { return compileFrame(sig) })
		c.frames[sig] = get
	}
	c.mu.Unlock()
	f := get()
	return f.compiler, f.err == nil
}

// enforcerText is hcsshim's framework.rego and api.rego, for CacheKey.
func enforcerText() (framework, api string) {
	return securitypolicy.FrameworkCode, securitypolicy.APICode
}

// compileFrame compiles as hcsshim's interpreter does (regopolicyinterpreter
// compile: the same module names, OPA's v0 Rego, print statements off).
func compileFrame(sig string) frame {
	c, err := ast.CompileModulesWithOpt(map[string]string{
		"policy.rego":    sig,
		"framework.rego": securitypolicy.FrameworkCode,
		"api.rego":       securitypolicy.APICode,
	}, ast.CompileOpts{})
	return frame{compiler: c, err: err}
}

// split divides a data-only policy module (see checkShape) into its frame
// text, the rules holding references, and its data, the other rules' values
// as JSON. ok is false when the policy cannot be evaluated that way with the
// same result as hcsshim's: another package, a default rule, a rule defined
// twice or with a dotted name, a set or a non-string key in the data, or
// data whose shape the framework's type check could refuse.
func split(mod *policyModule) (sig string, data map[string]any, ok bool) {
	if mod.Package.Path.String() != "data.policy" {
		return "", nil, false
	}
	var refRules []string
	data = map[string]any{}
	seen := map[string]bool{}
	for _, r := range mod.Rules {
		ref := r.Head.Ref()
		if r.Default || len(ref) != 1 || r.Location == nil {
			return "", nil, false
		}
		name := ref.String()
		if seen[name] || name == "input" || name == "data" {
			return "", nil, false
		}
		seen[name] = true
		if v, ok := mod.json[name]; ok {
			data[name] = v
			continue
		}
		if hasRef(r.Head.Value) {
			refRules = append(refRules, string(r.Location.Text))
			continue
		}
		if !plainJSON(r.Head.Value) {
			return "", nil, false
		}
		v, err := ast.JSON(r.Head.Value.Value)
		if err != nil {
			return "", nil, false
		}
		data[name] = v
	}
	if !typeSafe(data) {
		return "", nil, false
	}
	slices.Sort(refRules)
	var b strings.Builder
	b.WriteString("package policy\n\n")
	for _, imp := range mod.Imports {
		b.WriteString(imp.String() + "\n")
	}
	b.WriteString("\n" + strings.Join(refRules, "\n") + "\n")
	return b.String(), data, true
}

func hasRef(t *ast.Term) bool {
	found := false
	ast.WalkRefs(t, func(ast.Ref) bool {
		found = true
		return true
	})
	return found
}

// plainJSON reports whether t holds no set and no object key other than a
// string: only such values go through the store unchanged.
func plainJSON(t *ast.Term) bool {
	ok := true
	ast.WalkTerms(t, func(t *ast.Term) bool {
		switch v := t.Value.(type) {
		case ast.Set:
			ok = false
		case ast.Object:
			for _, k := range v.Keys() {
				if _, isString := k.Value.(ast.String); !isString {
					ok = false
				}
			}
		}
		return !ok
	})
	return ok
}

// typeSafe reports whether the data has the shapes the framework's static
// references into data.policy need (data.policy.containers[_].layers[_],
// data.policy.external_processes[_], data.policy.fragments[_]). hcsshim's
// compile type-checks those references against the policy's rules and
// refuses the whole policy when one cannot apply; data in the store is not
// type-checked, so anything else goes to hcsshim's enforcer.
func typeSafe(data map[string]any) bool {
	for _, name := range []string{"containers", "external_processes", "fragments"} {
		v, ok := data[name]
		if !ok {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range list {
			obj, ok := e.(map[string]any)
			if !ok {
				return false
			}
			if layers, ok := obj["layers"]; ok && name == "containers" {
				if _, ok := layers.([]any); !ok {
					return false
				}
			}
		}
	}
	return true
}
