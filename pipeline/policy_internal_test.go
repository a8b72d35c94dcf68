package pipeline

import (
	"context"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/kio"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/podspec"
	"cocofy.dev/cocofy/internal/testing/fixed"
)

// In a stream's run, a pod is computed once: a copy of a template under
// another name, or written otherwise ('8080' for "8080"), gets the policy
// computed for the first; a pod in another namespace or with another value
// is computed anew.
func TestSamePodComputedOnce(t *testing.T) {
	const dep = `apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME, namespace: NS}
spec:
  template:
    spec:
      containers:
      - name: app
        image: web:1.4
        env: [{name: PORT, value: VALUE}]
        workingDir: /srv
`
	doc := func(name, ns, value string) string {
		return strings.NewReplacer("NAME", name, "NS", ns, "VALUE", value).Replace(dep)
	}
	in := strings.Join([]string{doc("a", "shop", `"8080"`), doc("b", "shop", `"8080"`), doc("c", "shop", `'8080'`), doc("d", "other", `"8080"`), doc("e", "shop", `"9090"`)}, "---\n")
	nodes, err := kio.FromBytes([]byte(in))
	assert.NilError(t, err)
	p, err := New(Options{Target: TargetVirtualNode}, Deps{Resolver: fixed.Resolver{}, Inspector: fixed.Inspector{}})
	assert.NilError(t, err)
	p = p.memoized()
	ws := FindWorkloads(nodes, nil, &Report{})
	assert.Equal(t, len(ws), 5)
	f, err := fixed.Inspector{}.Inspect(context.Background(), "web:1.4", image.DefaultPlatform)
	assert.NilError(t, err)
	facts := map[string]image.Facts{"web:1.4": f}
	var guests []string
	for i := range ws {
		pol, err := p.compute(&ws[i], facts, podspec.Objects{}, p.policyOptions())
		assert.NilError(t, err)
		assert.Assert(t, len(pol.Corrections) > 0, "workingDir is corrected")
		guests = append(guests, pol.SHA256)
		if i == 1 {
			first, _ := p.compute(&ws[0], facts, podspec.Objects{}, p.policyOptions())
			assert.Assert(t, &first.Guest[0] == &pol.Guest[0], "b reuses a's policy")
		}
	}
	assert.Equal(t, memoized(p), 3, "a (= b = c), d, e")
	assert.Equal(t, guests[0], guests[1])
	assert.Assert(t, guests[0] != guests[4])

	// The memo is bounded: past maxSamePods, policies are computed and not
	// kept.
	p = p.memoized()
	p.samePods.limit = 1
	for i := range ws {
		_, err := p.compute(&ws[i], facts, podspec.Objects{}, p.policyOptions())
		assert.NilError(t, err)
	}
	assert.Equal(t, memoized(p), 1)
}

func memoized(p *Pipeline) int {
	n := 0
	p.samePods.m.Range(func(any, any) bool { n++; return true })
	return n
}

// Two pipelines share no history: each has its own verifier (the compiled
// framework, queries and enforcement points), and each run its own memo.
func TestPipelinesShareNothing(t *testing.T) {
	a, err := New(Options{Target: TargetVirtualNode}, Deps{Resolver: fixed.Resolver{}, Inspector: fixed.Inspector{}})
	assert.NilError(t, err)
	b, err := New(Options{Target: TargetVirtualNode}, Deps{Resolver: fixed.Resolver{}, Inspector: fixed.Inspector{}})
	assert.NilError(t, err)
	assert.Assert(t, a.verifier != b.verifier)
	assert.Assert(t, a.memoized().samePods != a.memoized().samePods)
	assert.Assert(t, a.Verifier().verifier == a.verifier, "a pipeline's verify stages use its verifier")
}
