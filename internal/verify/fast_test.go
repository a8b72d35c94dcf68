//go:build linux && rego

package verify

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// seedPolicy is the policy of testdata/seed-pod.yaml (confcom 1.x,
// --debug-mode).
func seedPolicy(t testing.TB) string {
	b, err := os.ReadFile("testdata/seed-pod.yaml")
	assert.NilError(t, err)
	pod, err := yaml.Parse(string(b))
	assert.NilError(t, err)
	p, err := base64.StdEncoding.DecodeString(pod.GetAnnotations()["microsoft.containerinstance.virtualnode.ccepolicy"])
	assert.NilError(t, err)
	return string(p)
}

// Generated policies share one frame: the second policy compiles nothing.
func TestFramesShared(t *testing.T) {
	seed := seedPolicy(t)
	other := strings.Replace(seed, `"NGINX_VERSION=1.17.3"`, `"NGINX_VERSION=1.17.4"`, 1)
	assert.Assert(t, other != seed)
	c := newCompiled()
	a, err := newGuest(c, seed)
	assert.NilError(t, err)
	b, err := newGuest(c, other)
	assert.NilError(t, err)
	assert.Assert(t, a.fast != nil && b.fast != nil)
	assert.Assert(t, a.fast.compiler == b.fast.compiler)
	assert.Assert(t, a.fast.store != b.fast.store)

	// Another Verifier shares nothing with this one.
	other2, err := newGuest(newCompiled(), seed)
	assert.NilError(t, err)
	assert.Assert(t, other2.fast.compiler != a.fast.compiler)
}

// Policies the fast enforcer would not evaluate exactly as hcsshim's go to
// hcsshim's enforcer.
func TestNotFast(t *testing.T) {
	seed := seedPolicy(t)
	for name, policy := range map[string]string{
		"legacy JSON":               `{"allow_all": true}`,
		"other package":             strings.Replace(seed, "package policy", "package other", 1),
		"default rule":              seed + "\ndefault allow_dump_stacks := false\n",
		"rule defined twice":        seed + "\napi_version := \"0.10.0\"\n",
		"a set":                     seed + "\nextra := {\"a\", \"b\"}\n",
		"containers not a list":     strings.Replace(seed, "containers := [", "containers := 1\nunused := [", 1),
		"layers not a list":         strings.Replace(seed, `"layers":[`, `"layers":"x","unused":[`, 1),
		"fragments not a list":      strings.Replace(seed, "fragments := [", "fragments := {\"a\": 1}\nunused := [", 1),
		"a container not an object": strings.Replace(seed, "containers := [", "containers := [1, ", 1),
	} {
		t.Run(name, func(t *testing.T) {
			assert.Assert(t, policy != seed)
			g, err := newGuest(newCompiled(), policy)
			if err != nil {
				return // refused before any enforcer
			}
			assert.Assert(t, g.fast == nil)
		})
	}
}
