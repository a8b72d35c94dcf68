package lockfile_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/lockfile"
)

const d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
const d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "images.lock.yaml")
	assert.NilError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func TestLoadRejectsBadFiles(t *testing.T) {
	for name, c := range map[string]struct{ body, want string }{
		"kind":    {"apiVersion: cocofy.dev/v1alpha1\nkind: Lock\nimages: []\n", `kind ImageLock; got "cocofy.dev/v1alpha1", "Lock"`},
		"unknown": {"apiVersion: cocofy.dev/v1alpha1\nkind: ImageLock\nimages:\n- ref: a\n  digst: x\n", `line 5: unknown field "digst"`},
		"digest":  {"apiVersion: cocofy.dev/v1alpha1\nkind: ImageLock\nimages:\n- ref: a\n  platform: linux/amd64\n  digest: md5:1\n", `images[0] (ref "a", platform "linux/amd64"): digest "md5:1"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := lockfile.Load(write(t, c.body))
			assert.ErrorContains(t, err, c.want)
		})
	}
	_, err := lockfile.Open(filepath.Join(t.TempDir(), "absent.yaml"), lockfile.Use, "linux/amd64", nil)
	assert.ErrorContains(t, err, "no such file")
}

func TestLookupOfPinnedReferences(t *testing.T) {
	p := write(t, `apiVersion: cocofy.dev/v1alpha1
kind: ImageLock
images:
  - ref: example.com:5000/app:1
    platform: linux/amd64
    digest: `+d1+`
`)
	s, err := lockfile.Open(p, lockfile.Use, "linux/amd64", nil)
	assert.NilError(t, err)
	ctx := context.Background()
	for _, ref := range []string{"example.com:5000/app:1", "example.com:5000/app:1@" + d1, "example.com:5000/app@" + d1} {
		pin, err := s.Resolve(ctx, ref)
		assert.NilError(t, err, ref)
		assert.DeepEqual(t, pin, image.Pin{Ref: ref, Digest: d1})
	}
	_, err = s.Resolve(ctx, "example.com:5000/app:1@"+d2)
	assert.ErrorContains(t, err, "pins example.com:5000/app:1 to "+d1)
	// A pinned reference the file does not know is kept as written, offline.
	pin, err := s.Resolve(ctx, "other.io/x@"+d2)
	assert.NilError(t, err)
	assert.Equal(t, pin.Digest, d2)
	_, err = s.Resolve(ctx, "other.io/x:1")
	assert.ErrorContains(t, err, "other.io/x:1 is not in the lock file")
	// An entry without a tag is latest: cocofy pins "app" as "app:latest@…".
	p = write(t, "apiVersion: cocofy.dev/v1alpha1\nkind: ImageLock\nimages:\n  - {ref: other.io/bare, platform: linux/amd64, digest: "+d1+"}\n")
	bare, err := lockfile.Open(p, lockfile.Use, "linux/amd64", nil)
	assert.NilError(t, err)
	_, err = bare.Resolve(ctx, "other.io/bare:latest@"+d2)
	assert.ErrorContains(t, err, "pins other.io/bare to "+d1)
	pin, err = bare.Resolve(ctx, "other.io/bare:latest@"+d1)
	assert.NilError(t, err)
	assert.Equal(t, pin.Digest, d1)
	// Another platform is not the same entry.
	_, err = s.Inspect(ctx, "example.com:5000/app:1", "linux/arm64")
	assert.ErrorContains(t, err, "is not in the lock file")
}

// A layer's /etc/group facts go through the lock file as one flow line;
// a layer without them (an older lock file) stays unknown.
func TestEtcGroupRoundTrip(t *testing.T) {
	h := "1111111111111111111111111111111111111111111111111111111111111111"
	f := &lockfile.File{Images: []image.Facts{{
		Pin: image.Pin{Ref: "a:1", Digest: d1}, Platform: "linux/amd64", ManifestDigest: d1,
		Layers: []image.Layer{
			{Digest: d2, RootHash: h, EtcGroup: &image.EtcGroup{Change: image.EtcGroupWritten, GIDs: []uint32{0, 1, 1000}}},
			{Digest: d2, RootHash: h, EtcGroup: &image.EtcGroup{Change: image.EtcGroupRemoved}},
			{Digest: d2, RootHash: h},
		},
	}}}
	b, err := f.Marshal()
	assert.NilError(t, err)
	for _, line := range []string{
		"        etcGroup: {change: written, gids: [0, 1, 1000]}\n",
		"        etcGroup: {change: removed}\n",
	} {
		assert.Assert(t, strings.Contains(string(b), line), "%q not in\n%s", line, b)
	}
	assert.Equal(t, strings.Count(string(b), "etcGroup"), 2, string(b))
	back, err := lockfile.Load(write(t, string(b)))
	assert.NilError(t, err)
	assert.DeepEqual(t, back.Images, f.Images)
}
