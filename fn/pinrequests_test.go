package fn_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// Pinning the images of ten repositories of one registry probes the
// registry (GET /v2/) once, and resolves each image once, with one GET of
// its manifest: the requests the benchmark's render sends.
func TestPinRequests(t *testing.T) {
	useSandboxConfig(t)
	t.Setenv("COCOFY_CACHE_DIR", "off")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.Start(t)
	var in strings.Builder
	for r := range 10 {
		for tag := range 4 {
			ref := fmt.Sprintf("team%d/app:%d", r, tag)
			reg.Push(t, ref, registrytest.Image(t, ref, "linux/amd64", v1.Config{}))
			for i := range 2 { // every image twice
				fmt.Fprintf(&in, "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app%d-%d-%d}\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: %s\n        resources: {limits: {cpu: 100m, memory: 128Mi}}\n", r, tag, i, reg.Ref(ref))
			}
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		key := r.Method + " " + r.URL.Path
		if strings.Contains(r.URL.Path, "/manifests/") {
			key = r.Method + " manifest"
		}
		mu.Lock()
		seen[key]++
		mu.Unlock()
		return false
	})
	out, stderr, err := runWith(t, fn.RegistryDeps, in.String())
	assert.NilError(t, err, stderr)
	assert.Equal(t, strings.Count(out, "@sha256:"), 80)
	assert.DeepEqual(t, seen, map[string]int{"GET /v2/": 1, "GET manifest": 40})
}

// A run that ends in an error is not run again: a stream of three pods
// (three images) and one whose image is not in the registry sends one
// manifest GET per image.
func TestPinRequestsOnError(t *testing.T) {
	useSandboxConfig(t)
	t.Setenv("COCOFY_CACHE_DIR", "off")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.Start(t)
	var in strings.Builder
	for i := range 3 {
		ref := fmt.Sprintf("app%d:1", i)
		reg.Push(t, ref, registrytest.Image(t, ref, "linux/amd64", v1.Config{}))
		fmt.Fprintf(&in, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%d}\nspec:\n  containers:\n  - {name: c, image: %s, resources: {limits: {cpu: 100m, memory: 128Mi}}}\n", i, reg.Ref(ref))
	}
	fmt.Fprintf(&in, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n  - {name: c, image: %s, resources: {limits: {cpu: 100m, memory: 128Mi}}}\n", reg.Ref("missing:1"))
	var mu sync.Mutex
	manifests := 0
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/manifests/") {
			mu.Lock()
			manifests++
			mu.Unlock()
		}
		return false
	})
	out, stderr, err := runWith(t, fn.RegistryDeps, in.String())
	assert.ErrorContains(t, err, "")
	assert.Equal(t, out, "")
	assert.Assert(t, strings.Contains(stderr, "error: Pod bad: spec.containers[name=c].image: "), stderr)
	assert.Equal(t, manifests, 4, stderr)
}
