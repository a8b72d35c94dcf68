package fn_test

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// A layer that two images share gets one progress line when done, naming
// the image (or images) it was hashed for, also without a cache.
func TestSharedLayerProgressOnce(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("COCOFY_CACHE_DIR", "off")
	t.Setenv(fn.EnvProgress, "")
	reg := registrytest.Start(t)
	shared := registrytest.Layer(t, registrytest.File{Name: "base", Body: strings.Repeat("base layer\n", 1000)})
	for _, img := range []string{"a", "b"} {
		own := registrytest.Layer(t, registrytest.File{Name: img, Body: img})
		reg.Push(t, "shop/"+img+":1", registrytest.Image(t, img, "linux/amd64", v1.Config{}, shared, own))
	}
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  containers:\n" +
		"  - name: a\n    image: " + reg.Ref("shop/a:1") + "\n" +
		"  - name: b\n    image: " + reg.Ref("shop/b:1") + "\n"
	_, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", vnConfig(t), "--progress")
	assert.NilError(t, err, stderr)
	d, err := shared.Digest()
	assert.NilError(t, err)
	prefix := "hashing layer " + d.String()[:len("sha256:")+12] + " ("
	var done []string
	for l := range strings.Lines(stderr) {
		if strings.HasPrefix(l, prefix) && strings.HasSuffix(l, " MB/s done\n") {
			done = append(done, l)
		}
	}
	assert.Equal(t, len(done), 1, "one line for the shared layer, naming its images:\n%s", stderr)
	names := strings.TrimPrefix(strings.Split(done[0], ")")[0], prefix)
	for name := range strings.SplitSeq(names, ", ") {
		assert.Assert(t, name == reg.Ref("shop/a:1") || name == reg.Ref("shop/b:1"), "%q in %q", name, done[0])
	}
}
