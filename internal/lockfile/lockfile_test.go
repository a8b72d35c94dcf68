package lockfile_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/image"
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
		"unknown": {"apiVersion: cocofy.dev/v1alpha1\nkind: ImageLock\nimages:\n- ref: a\n  digst: x\n", "field digst not found"},
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
	// Another platform is not the same entry.
	_, err = s.Inspect(ctx, "example.com:5000/app:1", "linux/arm64")
	assert.ErrorContains(t, err, "is not in the lock file")
}
