package cache_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/cache"
	"cocofy.dev/cocofy/image"
)

const other = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

func entryFile(d cache.Dir, kind, key string) string {
	return filepath.Join(d.Path, kind, strings.Replace(key, ":", "-", 1)+".json")
}

// An entry copied under another key's name, or another kind's folder, is
// a miss with a warning, not the other image's facts.
func TestEntriesAreBoundToKindAndKey(t *testing.T) {
	var log bytes.Buffer
	d := cache.Open(t.TempDir(), &log)
	a := image.Facts{ManifestDigest: key, OS: "linux", Layers: []image.Layer{{Digest: key, RootHash: strings.Repeat("a", 64)}}}
	b := image.Facts{ManifestDigest: other, OS: "linux", Layers: []image.Layer{{Digest: other, RootHash: strings.Repeat("b", 64)}}}
	assert.NilError(t, d.Put("facts", key, a))
	assert.NilError(t, d.Put("facts", other, b))

	blob, err := os.ReadFile(entryFile(d, "facts", key))
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(entryFile(d, "facts", other), blob, 0o644)) // a's entry under b's name

	var got image.Facts
	ok := d.Get("facts", key, &got)
	assert.Assert(t, ok)
	assert.DeepEqual(t, got, a)
	ok = d.Get("facts", other, &image.Facts{})
	assert.Assert(t, !ok, "an entry stored under another key must be a miss")
	assert.Equal(t, log.String(), "warning: cache: "+entryFile(d, "facts", other)+" holds the facts entry of "+key+
		", not the facts entry of "+other+" (copied or moved under the wrong name?); ignored, recomputed\n")
	_, err = os.Stat(entryFile(d, "facts", other))
	assert.Assert(t, os.IsNotExist(err), "the misfiled entry is removed")

	// Same key, other kind: a root hash is not a passed replay.
	log.Reset()
	assert.NilError(t, d.Put("roothash", key, strings.Repeat("c", 64)))
	blob, err = os.ReadFile(entryFile(d, "roothash", key))
	assert.NilError(t, err)
	assert.NilError(t, os.MkdirAll(filepath.Join(d.Path, "enforcer"), 0o755))
	assert.NilError(t, os.WriteFile(entryFile(d, "enforcer", key), blob, 0o644))
	var v any
	assert.Assert(t, !d.Get("enforcer", key, &v))
	assert.Assert(t, strings.Contains(log.String(), "holds the roothash entry of "+key+", not the enforcer entry of "+key), log.String())

	// Editing the kind and key in the file does not help: the checksum covers them.
	log.Reset()
	forged := strings.Replace(string(blob), `"kind":"roothash"`, `"kind":"enforcer"`, 1)
	assert.NilError(t, os.WriteFile(entryFile(d, "enforcer", key), []byte(forged), 0o644))
	assert.Assert(t, !d.Get("enforcer", key, &v))
	assert.Assert(t, strings.Contains(log.String(), "is corrupt"), log.String())
}

// Entries of an older cocofy (no kind or key) are recomputed quietly.
func TestOldEntriesAreStale(t *testing.T) {
	var log bytes.Buffer
	d := cache.Open(t.TempDir(), &log)
	assert.NilError(t, os.MkdirAll(filepath.Join(d.Path, "roothash"), 0o755))
	old := `{"sha256":"5e1e0d1ce4b1e3b9ca0ebac8b5d0f7c7c14e5bd1f7e3b8a8a6a36ec1fe8b8a40","payload":"x"}`
	assert.NilError(t, os.WriteFile(entryFile(d, "roothash", key), []byte(old), 0o644))
	var s string
	assert.Assert(t, !d.Get("roothash", key, &s))
	assert.Equal(t, log.String(), "")
	assert.NilError(t, d.Put("roothash", key, "y"))
	assert.Assert(t, d.Get("roothash", key, &s))
	assert.Equal(t, s, "y")
}

// A cache that cannot be written is reported once, and Put goes on.
func TestUnwritableCacheWarnsOnce(t *testing.T) {
	blocked := filepath.Join(t.TempDir(), "cache")
	assert.NilError(t, os.WriteFile(blocked, []byte("not a folder"), 0o644))
	var log bytes.Buffer
	d := cache.Open(blocked, &log)
	checks := d // copies share the state: one warning per run
	for range 3 {
		assert.NilError(t, d.Put("facts", key, image.Facts{}))
		assert.NilError(t, checks.Put("enforcer", other, true))
	}
	var v bool
	assert.Assert(t, !checks.Get("enforcer", other, &v))
	assert.Equal(t, log.String(), "warning: cache: cannot write to "+blocked+"/facts: mkdir "+blocked+
		": not a directory; going on without the cache (set COCOFY_CACHE_DIR to a writable folder, or to off)\n")

	// With no Log the error is returned, every time.
	quiet := cache.Open(blocked, nil)
	assert.ErrorContains(t, quiet.Put("facts", key, 1), "not a directory")
	assert.ErrorContains(t, quiet.Put("facts", key, 1), "not a directory")
}

func TestReadOnlyCacheStillReads(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to read-only folders")
	}
	var log bytes.Buffer
	d := cache.Open(t.TempDir(), &log)
	assert.NilError(t, d.Put("roothash", key, "x"))
	assert.NilError(t, os.Chmod(filepath.Join(d.Path, "roothash"), 0o555))
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(d.Path, "roothash"), 0o755) })
	assert.NilError(t, d.Put("roothash", other, "y"))
	assert.NilError(t, d.Put("roothash", other, "y"))
	var s string
	assert.Assert(t, d.Get("roothash", key, &s))
	assert.Equal(t, strings.Count(log.String(), "warning: cache: cannot write"), 1, log.String())
	assert.Assert(t, strings.Contains(log.String(), "permission denied"), log.String())
}
