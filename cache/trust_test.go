//go:build unix

package cache_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"cocofy.dev/cocofy/cache"
)

// A cache folder other users can write is not trusted (OpenSSH's
// StrictModes): one warning, then no entry is read or written. Tests run
// as root here, so the folder is made group- or world-writable by mode.
func TestWritableFolderIsNotTrusted(t *testing.T) {
	for _, mode := range []os.FileMode{0o777, 0o775} {
		dir := filepath.Join(t.TempDir(), "cache")
		assert.NilError(t, cache.Open(dir, nil).Put("roothash", key, "planted"))
		assert.NilError(t, os.Chmod(dir, mode))
		var log bytes.Buffer
		d := cache.Open(dir, &log)
		var s string
		for range 3 {
			assert.Assert(t, !d.Get("roothash", key, &s), "a planted entry was read")
			assert.NilError(t, d.Put("roothash", other, "x"))
		}
		_, err := os.Stat(entryFile(d, "roothash", other))
		assert.Assert(t, os.IsNotExist(err), "written to an untrusted folder")
		assert.Equal(t, log.String(), "warning: cache: "+dir+" is not trusted: writable by other users (mode "+
			map[os.FileMode]string{0o777: "0777", 0o775: "0775"}[mode]+
			"); going on without the cache (make the folder yours and writable only by you, or set COCOFY_CACHE_DIR to such a folder, or to off)\n")
	}
}

// A kind's folder that is a symbolic link (to a folder the attacker
// fills) is not trusted either: nothing is read or written through it.
func TestSymlinkedKindFolderIsNotTrusted(t *testing.T) {
	elsewhere := t.TempDir()
	assert.NilError(t, cache.Open(elsewhere, nil).Put("roothash", key, "planted"))
	dir := t.TempDir()
	assert.NilError(t, os.Symlink(filepath.Join(elsewhere, "roothash"), filepath.Join(dir, "roothash")))
	var log bytes.Buffer
	d := cache.Open(dir, &log)
	var s string
	assert.Assert(t, !d.Get("roothash", key, &s))
	assert.NilError(t, d.Put("roothash", other, "x"))
	_, err := os.Stat(filepath.Join(elsewhere, "roothash", strings.Replace(other, ":", "-", 1)+".json"))
	assert.Assert(t, os.IsNotExist(err), "written through the link")
	assert.Check(t, is.Contains(log.String(), "is not trusted: a symbolic link"))
}

// An entry other users can write, owned by someone else, a symbolic link,
// a FIFO or a huge sparse file is reported, removed and recomputed: never
// read, never a hang. A link planted as an entry is replaced on write, its
// target untouched.
func TestUntrustedEntries(t *testing.T) {
	var log bytes.Buffer
	d := cache.Open(t.TempDir(), &log)
	assert.NilError(t, d.Put("roothash", key, "planted"))
	f := entryFile(d, "roothash", key)
	var s string

	assert.NilError(t, os.Chmod(f, 0o666))
	assert.Assert(t, !d.Get("roothash", key, &s))
	assert.Check(t, is.Contains(log.String(), f+" is not trusted: writable by other users (mode 0666); ignored, recomputed"))

	if os.Geteuid() == 0 {
		assert.NilError(t, d.Put("roothash", key, "planted"))
		assert.NilError(t, os.Chown(f, 4242, 4242))
		assert.Assert(t, !d.Get("roothash", key, &s))
		assert.Check(t, is.Contains(log.String(), "owned by uid 4242, not by this user (uid 0)"))
	}

	target := filepath.Join(t.TempDir(), "target.json")
	assert.NilError(t, os.WriteFile(target, []byte("keep"), 0o644))
	assert.NilError(t, os.Symlink(target, f))
	assert.Assert(t, !d.Get("roothash", key, &s))
	assert.Check(t, is.Contains(log.String(), f+" is not trusted: a symbolic link"))
	assert.NilError(t, os.Symlink(target, f))
	assert.NilError(t, d.Put("roothash", key, "new"))
	b, err := os.ReadFile(target)
	assert.NilError(t, err)
	assert.Equal(t, string(b), "keep", "the write followed the link")
	assert.Assert(t, d.Get("roothash", key, &s))
	assert.Equal(t, s, "new")

	assert.NilError(t, os.Remove(f))
	assert.NilError(t, syscall.Mkfifo(f, 0o600))
	start := time.Now()
	assert.Assert(t, !d.Get("roothash", key, &s))
	assert.Assert(t, time.Since(start) < 5*time.Second)
	assert.Check(t, is.Contains(log.String(), f+" is not a regular file"))

	sparse, err := os.Create(f)
	assert.NilError(t, err)
	assert.NilError(t, sparse.Truncate(3<<30))
	assert.NilError(t, sparse.Close())
	assert.Assert(t, !d.Get("roothash", key, &s))
	assert.Check(t, is.Contains(log.String(), f+" is too large"))
	_, err = os.Stat(f)
	assert.Assert(t, os.IsNotExist(err), "removed")
}

// A Dir literal (no shared state) on an untrusted folder reports each
// time, and Put returns the reason when there is no Log.
func TestUntrustedFolderDirLiteral(t *testing.T) {
	dir := t.TempDir()
	assert.NilError(t, os.Chmod(dir, 0o777))
	var log bytes.Buffer
	d := cache.Dir{Path: dir, Log: &log}
	var s string
	assert.Assert(t, !d.Get("roothash", key, &s))
	assert.NilError(t, d.Put("roothash", key, "x"))
	assert.Equal(t, strings.Count(log.String(), "is not trusted"), 2, log.String())
	quiet := cache.Dir{Path: dir}
	assert.ErrorContains(t, quiet.Put("roothash", key, "x"), "is not trusted: writable by other users (mode 0777)")
}
