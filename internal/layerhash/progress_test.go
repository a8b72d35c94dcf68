package layerhash

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"gotest.tools/v3/assert"
)

// gate is a reader that blocks until release is closed, then ends.
type gate struct{ release chan struct{} }

func (g gate) Read([]byte) (int, error) {
	<-g.release
	return 0, io.EOF
}

// waitFor polls cond, which the goroutines of the test make true soon.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(time.Millisecond) {
		if time.Since(start) > time.Minute {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// A layer that several images share is hashed, and its progress printed,
// once: its lines name every image that asked for it while it was hashed,
// and an image that asks later takes the root hash without a line.
func TestProgressNamesTheImagesOfASharedLayer(t *testing.T) {
	gz := gzipBytes(t, mixedLayer(t, 51, 256<<10))
	release := make(chan struct{})
	shared := newLayer(gz, types.DockerLayer)
	shared.blob = func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(gate{release}, bytes.NewReader(gz))), nil
	}
	web := newLayer(gzipBytes(t, mixedLayer(t, 52, 64<<10)), types.DockerLayer)
	api := newLayer(gzipBytes(t, mixedLayer(t, 53, 64<<10)), types.DockerLayer)
	var out syncBuffer
	h := &Hasher{Progress: &out} // no Cache: the Hasher itself remembers
	ctx := context.Background()

	errs := make(chan error, 2)
	go func() {
		_, err := h.ImageLayers(ctx, "shop/web:1", []v1.Layer{shared, web})
		errs <- err
	}()
	waitFor(t, "the shared layer's hash to start", func() bool { return shared.opens.Load() == 1 })
	go func() {
		_, err := h.ImageLayers(ctx, "shop/api:2", []v1.Layer{api, shared})
		errs <- err
	}()
	sd, err := shared.Digest()
	assert.NilError(t, err)
	waitFor(t, "shop/api:2 to ask for the shared layer", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return slices.Contains(h.users[sd.String()], "shop/api:2")
	})
	close(release)
	assert.NilError(t, <-errs)
	assert.NilError(t, <-errs)
	got, err := h.ImageLayers(ctx, "shop/job:3", []v1.Layer{shared})
	assert.NilError(t, err)
	assert.Equal(t, len(got[0].RootHash), 64)
	assert.Equal(t, shared.opens.Load(), int32(1), "the shared layer was hashed again")

	short := "hashing layer " + sd.String()[:len("sha256:")+12] + " "
	var lines, done []string
	for l := range strings.Lines(out.b.String()) {
		if strings.HasPrefix(l, short) {
			lines = append(lines, l)
			if strings.HasSuffix(l, " MB/s done\n") {
				done = append(done, l)
			}
		}
	}
	assert.Equal(t, len(done), 1, "one done line for the shared layer:\n%s", out.b.String())
	for _, l := range lines {
		assert.Assert(t, strings.HasPrefix(l, short+"(shop/web:1, shop/api:2) "), "line without both images: %q", l)
	}
	for img, l := range map[string]*testLayer{"shop/web:1": web, "shop/api:2": api} {
		d, _ := l.Digest()
		own := "hashing layer " + d.String()[:len("sha256:")+12] + " (" + img + ") "
		assert.Equal(t, strings.Count(out.b.String(), own), strings.Count(out.b.String(), d.String()[:len("sha256:")+12]), out.b.String())
		assert.Assert(t, strings.Contains(out.b.String(), own), out.b.String())
	}
	assert.Assert(t, !strings.Contains(out.b.String(), "shop/job:3"), out.b.String())
}
