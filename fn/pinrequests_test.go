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
