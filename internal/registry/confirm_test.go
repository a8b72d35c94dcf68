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

// The digest of a tag is that of the manifest's bytes: a wrong
// Docker-Content-Digest, on a HEAD answer or on the manifest's own, never
// becomes the pin, and a manifest whose bytes are not the digest asked for
// is refused.
func TestDigestIsTheManifests(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	d1 := reg.Push(t, "app:1", registrytest.Image(t, "one", "linux/amd64", v1.Config{}))
	d2 := reg.Push(t, "app:2", registrytest.Image(t, "two", "linux/amd64", v1.Config{}))
	absent := "sha256:" + strings.Repeat("ab", 32)
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		i := strings.LastIndex(r.URL.Path, "/manifests/")
		if i < 0 {
			return false
		}
		switch ident := r.URL.Path[i+len("/manifests/"):]; {
		case r.Method == http.MethodHead:
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
			w.Header().Set("Docker-Content-Digest", absent)
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			return true
		case ident == "1":
			// The manifest of app:1 with a header naming app:2's.
			w.Header().Set("Docker-Content-Digest", d2)
		case ident == d2:
			r.URL.Path = r.URL.Path[:i] + "/manifests/1" // app:1's bytes for app:2's digest
		}
		return false
	})
	c := registry.New(registry.Options{Keychain: anon})
	ctx := context.Background()
	pin, err := c.Resolve(ctx, reg.Ref("app:1"))
	assert.NilError(t, err)
	assert.Equal(t, pin.Digest, d1)
	_, err = c.Resolve(ctx, reg.Ref("app@"+d2))
	assert.ErrorContains(t, err, "manifest digest: \""+d1+"\" does not match requested digest: \""+d2+"\"")

	// One request per image.
	reg.SetFault(nil)
	for _, ref := range []string{"app:2", "app@" + d1} {
		before := reg.Requests.Load()
		_, err := c.Resolve(ctx, reg.Ref(ref))
		assert.NilError(t, err)
		assert.Equal(t, reg.Requests.Load()-before, int64(1), ref)
	}
}
