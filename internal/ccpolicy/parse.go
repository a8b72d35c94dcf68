package ccpolicy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Parsed is a policy text read through OPA's parser (Rego v0, the syntax
// confcom writes and the guest reads).
type Parsed struct {
	// Rules maps each rule's name to its value's canonical Rego text; the
	// package and imports are under "package" and "import".
	Rules map[string]string
	// Containers is the containers rule as JSON values (numbers are
	// json.Number), nil when the policy has none that is plain data.
	Containers []map[string]any
	// Imports is the fragments rule (the fragments the policy imports),
	// nil when the policy has none, or none of confcom's shape (importsErr
	// says why).
	Imports    []Fragment
	importsErr error
}

// Parse reads a policy text.
func Parse(rego string) (Parsed, error) {
	mod, err := ast.ParseModuleWithOpts("policy.rego", rego, ast.ParserOptions{RegoVersion: ast.RegoV0})
	if err != nil {
		return Parsed{}, fmt.Errorf("reading the policy: %w", err)
	}
	p := Parsed{Rules: map[string]string{"package": mod.Package.String()}}
	var imports []string
	for _, imp := range mod.Imports {
		imports = append(imports, imp.String())
	}
	p.Rules["import"] = strings.Join(imports, "\n")
	for _, r := range mod.Rules {
		name := r.Head.Ref().String()
		text := ""
		if r.Head.Value != nil {
			text = r.Head.Value.String()
		}
		if !(len(r.Body) == 1 && r.Body[0].String() == "true") {
			text += " { " + r.Body.String() + " }"
		}
		p.Rules[name] += text
		if name == "containers" && r.Head.Value != nil {
			p.Containers, err = containersOf(r.Head.Value)
			if err != nil {
				return Parsed{}, err
			}
		}
		if name == "fragments" && r.Head.Value != nil {
			p.Imports, p.importsErr = importsOf(r.Head.Value)
		}
	}
	return p, nil
}

// containersOf reads the containers rule's value as JSON.
func containersOf(t *ast.Term) ([]map[string]any, error) {
	v, err := ast.JSON(t.Value)
	if err != nil {
		return nil, fmt.Errorf("reading the policy's containers: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("reading the policy's containers: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out []map[string]any
	if err := dec.Decode(&out); err != nil {
		// encoding/json's message names Go types.
		return nil, fmt.Errorf("reading the policy's containers: want a list of objects")
	}
	return out, nil
}

// importsOf reads the fragments rule's value: a list of objects with
// issuer, feed, minimum_svn and includes, as confcom writes them.
func importsOf(t *ast.Term) ([]Fragment, error) {
	v, err := ast.JSON(t.Value)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(v); err == nil {
			var raw []struct {
				Issuer     string   `json:"issuer"`
				Feed       string   `json:"feed"`
				MinimumSVN string   `json:"minimum_svn"`
				Includes   []string `json:"includes"`
			}
			if err = json.Unmarshal(b, &raw); err == nil {
				out := make([]Fragment, len(raw))
				for i, r := range raw {
					out[i] = Fragment{Issuer: r.Issuer, Feed: r.Feed, MinimumSVN: r.MinimumSVN, Includes: r.Includes}
				}
				return out, nil
			}
		}
	}
	return nil, fmt.Errorf("reading the policy's fragments: want a list of objects with issuer, feed, minimum_svn (a string) and includes")
}

// Imports returns the fragments a policy text imports (its fragments
// rule; none when it has no such rule).
func Imports(rego string) ([]Fragment, error) {
	p, err := Parse(rego)
	if err != nil {
		return nil, err
	}
	return p.Imports, p.importsErr
}

// Containers returns the containers of a policy text (compact or pretty), for
// comparing policies by meaning rather than by bytes. Numbers are
// json.Number.
func Containers(rego string) ([]map[string]any, error) {
	p, err := Parse(rego)
	if err != nil {
		return nil, err
	}
	if p.Containers == nil {
		return nil, fmt.Errorf("reading the policy: no containers rule")
	}
	return p.Containers, nil
}

// Diff names what differs between two policy texts: the rules by name,
// and for containers the fields of each container by name, e.g.
// "containers[name=web].command". A text that cannot be read is named as a
// whole.
func Diff(oldRego, newRego string) []string {
	o, err := Parse(oldRego)
	if err != nil {
		return []string{"the old policy (not a readable policy)"}
	}
	n, err := Parse(newRego)
	if err != nil {
		return []string{"the new policy (not a readable policy)"}
	}
	var changed []string
	for _, name := range unionKeys(o.Rules, n.Rules) {
		if o.Rules[name] == n.Rules[name] {
			continue
		}
		if name == "containers" && o.Containers != nil && n.Containers != nil {
			changed = append(changed, containerDiff(o.Containers, n.Containers)...)
			continue
		}
		changed = append(changed, name)
	}
	if len(changed) == 0 && oldRego != newRego {
		changed = []string{"the policy text (layout only)"}
	}
	return changed
}

func containerDiff(oldCs, newCs []map[string]any) []string {
	byName := func(cs []map[string]any) map[string]map[string]any {
		m := map[string]map[string]any{}
		for i, c := range cs {
			name, _ := c["name"].(string)
			if name == "" {
				name = fmt.Sprintf("#%d", i)
			}
			m[name] = c
		}
		return m
	}
	oldM, newM := byName(oldCs), byName(newCs)
	var out []string
	for _, name := range unionKeys(oldM, newM) {
		o, n := oldM[name], newM[name]
		switch {
		case o == nil:
			out = append(out, fmt.Sprintf("containers[name=%s] (added)", name))
		case n == nil:
			out = append(out, fmt.Sprintf("containers[name=%s] (removed)", name))
		default:
			for _, k := range unionKeys(o, n) {
				if !reflect.DeepEqual(o[k], n[k]) {
					out = append(out, fmt.Sprintf("containers[name=%s].%s", name, k))
				}
			}
		}
	}
	if len(out) == 0 {
		out = []string{"containers (order)"}
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	var keys []string
	for _, m := range []map[string]V{a, b} {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}
