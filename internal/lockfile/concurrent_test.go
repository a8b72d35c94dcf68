//go:build unix

package lockfile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/atomicfile"
	"cocofy.dev/cocofy/internal/lockfile"
	"cocofy.dev/cocofy/internal/testing/fixed"
)

type upstream struct {
	fixed.Resolver
	fixed.Inspector
}

// Two lockMode: update runs that opened one lock file before either wrote
// it lose no entry: the second to commit reads the file again and keeps
// the first's entries.
func TestConcurrentUpdatesLoseNoEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "images.lock.yaml")
	ctx := context.Background()
	var sources []*lockfile.Source
	for _, ref := range []string{"example.com/a:1", "example.com/b:1"} {
		s, err := lockfile.Open(path, lockfile.Update, "linux/amd64", upstream{})
		assert.NilError(t, err)
		_, err = s.Inspect(ctx, ref, "linux/amd64")
		assert.NilError(t, err)
		sources = append(sources, s)
	}
	for _, s := range sources {
		assert.NilError(t, s.Commit())
	}
	f, err := lockfile.Load(path)
	assert.NilError(t, err)
	var refs []string
	for _, im := range f.Images {
		refs = append(refs, im.Ref)
	}
	assert.DeepEqual(t, refs, []string{"example.com/a:1", "example.com/b:1"})
}

// A symbolic link to the lock file stays one: its target is updated.
func TestCommitThroughLink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.lock.yaml")
	link := filepath.Join(dir, "images.lock.yaml")
	assert.NilError(t, os.Symlink("real.lock.yaml", link))
	s, err := lockfile.Open(link, lockfile.Update, "linux/amd64", upstream{})
	assert.NilError(t, err)
	_, err = s.Inspect(context.Background(), "example.com/a:1", "linux/amd64")
	assert.NilError(t, err)
	assert.NilError(t, s.Commit())
	fi, err := os.Lstat(link)
	assert.NilError(t, err)
	assert.Assert(t, fi.Mode()&os.ModeSymlink != 0, "the link was replaced by a %s", fi.Mode())
	f, err := lockfile.Load(target)
	assert.NilError(t, err)
	assert.Equal(t, len(f.Images), 1)
}

// A lock file path naming a FIFO or a huge (sparse) file is an error at
// once: no hang, no out-of-memory.
func TestLockFileMustBeRegularAndBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	assert.NilError(t, syscall.Mkfifo(fifo, 0o600))
	sparse := filepath.Join(dir, "sparse.yaml")
	f, err := os.Create(sparse)
	assert.NilError(t, err)
	assert.NilError(t, f.Truncate(3<<30))
	assert.NilError(t, f.Close())
	for path, want := range map[string]error{fifo: atomicfile.ErrNotRegular, sparse: atomicfile.ErrTooLarge} {
		start := time.Now()
		_, err := lockfile.Open(path, lockfile.Use, "linux/amd64", nil)
		assert.Assert(t, errors.Is(err, want), "%s: %v", path, err)
		assert.ErrorContains(t, err, path)
		assert.Assert(t, time.Since(start) < 5*time.Second)
	}
}
