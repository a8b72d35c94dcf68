package cache_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/cache"
	"cocofy.dev/cocofy/image"
)

const key = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestRoundTripAndCorruption(t *testing.T) {
	d := cache.Dir{Path: t.TempDir()}
	want := image.Facts{ManifestDigest: key, OS: "linux", Layers: []image.Layer{{Digest: key, RootHash: "ab"}}}
	assert.NilError(t, d.Put("facts", key, want))
	var got image.Facts
	ok := d.Get("facts", key, &got)
	assert.Assert(t, ok)
	assert.DeepEqual(t, got, want)

	file := filepath.Join(d.Path, "facts", "sha256-"+key[7:]+".json")
	b, err := os.ReadFile(file)
	assert.NilError(t, err)
	b[len(b)-5] ^= 1 // flip a bit in the payload
	assert.NilError(t, os.WriteFile(file, b, 0o644))
	ok = d.Get("facts", key, &image.Facts{})
	assert.Assert(t, !ok, "a corrupt entry must be a miss")
	_, err = os.Stat(file)
	assert.Assert(t, os.IsNotExist(err), "a corrupt entry must be removed")

	assert.NilError(t, os.WriteFile(file, b[:len(b)/2], 0o644)) // truncated by a crash
	ok = d.Get("facts", key, &image.Facts{})
	assert.Assert(t, !ok)
}

func TestConcurrentWriters(t *testing.T) {
	d := cache.Dir{Path: t.TempDir()}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.Check(t, d.Put("hash", key, map[string]int{"n": 7}))
			var v map[string]int
			if d.Get("hash", key, &v) {
				assert.Check(t, v["n"] == 7, "reader %d saw %v", i, v)
			}
		}()
	}
	wg.Wait()
	left, err := filepath.Glob(filepath.Join(d.Path, "hash", ".tmp-*"))
	assert.NilError(t, err)
	assert.Equal(t, len(left), 0)
}

func TestZeroDirAndBadKeys(t *testing.T) {
	var off cache.Dir
	assert.NilError(t, off.Put("facts", key, 1))
	var v int
	assert.Assert(t, !off.Get("facts", key, &v))
	d := cache.Dir{Path: t.TempDir()}
	assert.ErrorContains(t, d.Put("facts", "../../etc/passwd", 1), "is not a digest")
}

func TestDefaultHonoursEnv(t *testing.T) {
	t.Setenv(cache.EnvDir, "/x/y")
	assert.Equal(t, cache.Default().Path, "/x/y")
	t.Setenv(cache.EnvDir, "off")
	assert.Equal(t, cache.Default().Path, "")
	t.Setenv(cache.EnvDir, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	assert.Equal(t, cache.Default().Path, "/xdg/cocofy")
}
