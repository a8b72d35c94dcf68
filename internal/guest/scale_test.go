package guest_test

import (
	"fmt"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/guest"
	"cocofy.dev/cocofy/internal/podspec"
)

// An image whose config has 300,000 environment variables (some set
// twice) is received in linear time: each setting of a name replaced the
// earlier one by a scan of the whole environment.
func TestManyImageEnvVars(t *testing.T) {
	const n = 300_000
	env := make([]string, 0, n+1)
	for i := range n {
		env = append(env, fmt.Sprintf("V%d=%d", i, i))
	}
	env = append(env, "V7=again")
	facts := map[string]image.Facts{"app:1": {Layers: []image.Layer{{RootHash: "aa"}}, Config: image.Config{Env: env}}}
	pod := yaml.MustParse("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: app, image: 'app:1', env: [{name: V9, value: pod}]}\n")
	start := time.Now()
	cs, err := guest.Receive(podspec.New("Pod", "", "", pod, nil), facts, podspec.Objects{})
	assert.NilError(t, err)
	took := time.Since(start)
	var app guest.Container
	for _, c := range cs {
		if c.Name == "app" {
			app = c
		}
	}
	// HOSTNAME, the image's variables once each, TERM, the kubernetes
	// service's 8.
	assert.Equal(t, len(app.Env), 1+n+1+8)
	assert.Equal(t, app.Env[1+7], "V7=again")
	assert.Equal(t, app.Env[1+9], "V9=pod")
	assert.Assert(t, took < 10*time.Second, "took %s", took)
}
