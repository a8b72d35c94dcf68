package registry_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/registry"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// A HEAD answer with a wrong Docker-Content-Digest does not pin the image
// to it: the manifest confirms, or refutes, the digest.
func TestHeadDigestIsConfirmed(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	d1 := reg.Push(t, "app:1", registrytest.Image(t, "one", "linux/amd64", v1.Config{}))
	d2 := reg.Push(t, "app:2", registrytest.Image(t, "two", "linux/amd64", v1.Config{}))
	absent := "sha256:" + strings.Repeat("ab", 32)
	lie := map[string]string{"1": absent, "2": d1, absent: absent}
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		i := strings.LastIndex(r.URL.Path, "/manifests/")
		if r.Method != http.MethodHead || i < 0 {
			return false
		}
		d, ok := lie[r.URL.Path[i+len("/manifests/"):]]
		if !ok {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
		w.Header().Set("Docker-Content-Digest", d)
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		return true
	})
	c := registry.New(registry.Options{Keychain: anon})
	ctx := context.Background()
	_, err := c.Resolve(ctx, reg.Ref("app:1"))
	assert.ErrorContains(t, err, "the registry's HEAD answer names digest "+absent+", but the manifest it serves has digest "+d1)
	_, err = c.Resolve(ctx, reg.Ref("app:2")) // a digest the registry has, of another image
	assert.ErrorContains(t, err, "the registry's HEAD answer names digest "+d1+", but the manifest it serves has digest "+d2)
	_, err = c.Resolve(ctx, reg.Ref("app@"+absent)) // HEAD says yes, GET says 404
	assert.ErrorContains(t, err, "the registry's HEAD answer names digest "+absent+", but getting the manifest failed")
	assert.ErrorContains(t, err, "MANIFEST_UNKNOWN")

	// An honest registry: one HEAD and one GET per image.
	reg.SetFault(nil)
	before := reg.Requests.Load()
	pin, err := c.Resolve(ctx, reg.Ref("app:1"))
	assert.NilError(t, err)
	assert.Equal(t, pin.Digest, d1)
	assert.Equal(t, reg.Requests.Load()-before, int64(2))
}
