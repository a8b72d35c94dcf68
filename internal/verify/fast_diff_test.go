//go:build linux && rego

package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/guest"
	"cocofy.dev/cocofy/internal/podspec"
	"cocofy.dev/cocofy/internal/testing/race"
	"cocofy.dev/cocofy/internal/verify"
)

// policyParts is a data-only policy: its data rules, as JSON, and the rules
// referring into the framework, as text.
type policyParts struct {
	data    map[string]any
	order   []string
	aliases []string
}

// parts splits the seed policy, whose data rules are JSON.
func parts(t *testing.T, policy string) policyParts {
	t.Helper()
	var p policyParts
	p.data = map[string]any{}
	lines := strings.Split(policy, "\n")
	for i := 0; i < len(lines); i++ {
		name, value, ok := strings.Cut(lines[i], " := ")
		if !ok {
			continue
		}
		if strings.Contains(value, "data.framework") {
			p.aliases = append(p.aliases, lines[i])
			continue
		}
		for !json.Valid([]byte(value)) {
			i++
			assert.Assert(t, i < len(lines), "unterminated rule %s", name)
			value += "\n" + lines[i]
		}
		var v any
		assert.NilError(t, json.Unmarshal([]byte(value), &v))
		p.data[name] = v
		p.order = append(p.order, name)
	}
	return p
}

func (p policyParts) text() string {
	var b strings.Builder
	b.WriteString("package policy\n\nimport future.keywords.every\nimport future.keywords.in\n\n")
	for _, name := range p.order {
		if v, ok := p.data[name]; ok {
			j, _ := json.Marshal(v)
			fmt.Fprintf(&b, "%s := %s\n", name, j)
		}
	}
	b.WriteString("\n" + strings.Join(p.aliases, "\n") + "\n")
	return b.String()
}

func (p policyParts) with(f func(p *policyParts)) string {
	raw, _ := json.Marshal(p.data)
	q := policyParts{order: slices.Clone(p.order), aliases: slices.Clone(p.aliases)}
	_ = json.Unmarshal(raw, &q.data)
	f(&q)
	return q.text()
}

// mutations are variants of the seed policy: every data rule and every
// field of its container deleted or given another type, the flags flipped,
// rules referring into the framework dropped or replaced by data.
func mutations(t *testing.T, seed string) map[string]string {
	p := parts(t, seed)
	assert.Assert(t, len(p.order) >= 8 && len(p.aliases) >= 17, "%v %d", p.order, len(p.aliases))
	values := map[string]any{"null": nil, "number": 1, "object": map[string]any{"a": "x"}, "array of numbers": []any{1, 2}}
	out := map[string]string{"seed": p.text()}
	for _, name := range p.order {
		out["without "+name] = p.with(func(q *policyParts) { delete(q.data, name) })
		for vn, v := range values {
			out[name+" := "+vn] = p.with(func(q *policyParts) { q.data[name] = v })
		}
	}
	container := p.data["containers"].([]any)[0].(map[string]any)
	for field := range container {
		in := func(f func(c map[string]any)) func(q *policyParts) {
			return func(q *policyParts) { f(q.data["containers"].([]any)[0].(map[string]any)) }
		}
		out["container without "+field] = p.with(in(func(c map[string]any) { delete(c, field) }))
		if _, isList := container[field].([]any); isList {
			out["container "+field+" := number"] = p.with(in(func(c map[string]any) { c[field] = 1 }))
		}
	}
	for i, a := range p.aliases {
		name, _, _ := strings.Cut(a, " := ")
		out["without rule "+name] = p.with(func(q *policyParts) { q.aliases = slices.Delete(q.aliases, i, i+1) })
		if slices.Contains([]string{"mount_device", "mount_overlay", "create_container", "exec_external", "dump_stacks"}, name) {
			out["rule "+name+" allows"] = p.with(func(q *policyParts) { q.aliases[i] = name + ` := {"allowed": true}` })
		}
	}
	out["rule create_container denies"] = p.with(func(q *policyParts) {
		q.aliases = append(slices.DeleteFunc(q.aliases, func(a string) bool { return strings.HasPrefix(a, "create_container ") }), `create_container := {"allowed": false}`)
	})
	for _, flag := range []string{"allow_environment_variable_dropping", "allow_capability_dropping", "allow_dump_stacks"} {
		out[flag+" flipped"] = p.with(func(q *policyParts) { q.data[flag] = !q.data[flag].(bool) })
	}
	out["second container"] = p.with(func(q *policyParts) {
		cs := q.data["containers"].([]any)
		q.data["containers"] = append(cs, cs[0])
	})
	return out
}

// TestFastEnforcerDifferential: on the seed pod and hundreds of variants of
// its policy, Policy (the fast enforcer, falling back to hcsshim's) and
// Classify give exactly what hcsshim's enforcer alone gives.
func TestFastEnforcerDifferential(t *testing.T) {
	pod, seed := seedPod(t)
	containers, err := guest.Receive(podspec.New("Pod", "", "", pod, nil), seedFacts(), podspec.Objects{})
	assert.NilError(t, err)
	ctx := context.Background()
	cases := mutations(t, seed)
	fast := 0
	for _, policy := range cases {
		if verify.Fast(policy) {
			fast++
		}
	}
	t.Logf("%d variants, %d through the fast enforcer", len(cases), fast)
	assert.Assert(t, fast > len(cases)*3/4, "the fast enforcer evaluates %d of %d", fast, len(cases))
	for name, policy := range raceSample(cases) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, wantErr := verify.Reference(ctx, policy, containers)
			got, gotErr := verify.Policy(ctx, policy, containers)
			assert.DeepEqual(t, fmt.Sprint(gotErr), fmt.Sprint(wantErr))
			assert.DeepEqual(t, got, want)
			wantClass, wantErr := verify.ClassifyReference(ctx, policy)
			gotClass, gotErr := verify.Classify(ctx, policy)
			assert.DeepEqual(t, fmt.Sprint(gotErr), fmt.Sprint(wantErr))
			assert.DeepEqual(t, gotClass, wantClass)
		})
	}
}

// raceSample returns every case, or under -race one in ten (by name, so
// the same ones each run).
func raceSample(cases map[string]string) map[string]string {
	if !race.Enabled {
		return cases
	}
	names := slices.Sorted(maps.Keys(cases))
	out := map[string]string{}
	for i := 0; i < len(names); i += 10 {
		out[names[i]] = cases[names[i]]
	}
	return out
}

func BenchmarkPolicy(b *testing.B) {
	t := &testing.T{}
	pod, seed := seedPod(t)
	containers, err := guest.Receive(podspec.New("Pod", "", "", pod, nil), seedFacts(), podspec.Objects{})
	assert.NilError(b, err)
	ctx := context.Background()
	for name, f := range map[string]func(context.Context, string, []guest.Container) ([]verify.Decision, error){"fast": verify.Policy, "hcsshim": verify.Reference} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				ds, err := f(ctx, seed, containers)
				assert.NilError(b, err)
				assert.NilError(b, verify.Err(ds))
			}
		})
	}
}

// Pods checked at the same time share the compiled frame: the decisions
// stay those of one pod at a time (go test -race checks the sharing).
func TestFastEnforcerConcurrent(t *testing.T) {
	pod, seed := seedPod(t)
	containers, err := guest.Receive(podspec.New("Pod", "", "", pod, nil), seedFacts(), podspec.Objects{})
	assert.NilError(t, err)
	ctx := context.Background()
	denied := strings.Replace(seed, `"NGINX_VERSION=1.17.3"`, `"NGINX_VERSION=1.17.4"`, 1)
	want := map[string][]verify.Decision{}
	for _, p := range []string{seed, denied} {
		want[p], err = verify.Reference(ctx, p, containers)
		assert.NilError(t, err)
	}
	assert.Assert(t, verify.Err(want[seed]) == nil && verify.Err(want[denied]) != nil)
	var g errgroup.Group
	for i := range 8 {
		p := []string{seed, denied}[i%2]
		g.Go(func() error {
			got, err := verify.Policy(ctx, p, containers)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, want[p]) {
				return fmt.Errorf("goroutine %d: %v, want %v", i, got, want[p])
			}
			return nil
		})
	}
	assert.NilError(t, g.Wait())
}
