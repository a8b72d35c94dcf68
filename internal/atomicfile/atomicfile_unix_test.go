//go:build unix

package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// A symbolic link is followed and its target updated; the link stays.
func TestWriteSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.yaml")
	assert.NilError(t, os.WriteFile(target, []byte("old"), 0o644))
	link := filepath.Join(dir, "link.yaml")
	assert.NilError(t, os.Symlink("target.yaml", link))
	assert.NilError(t, Write(link, []byte("new"), 0o644))
	fi, err := os.Lstat(link)
	assert.NilError(t, err)
	assert.Assert(t, fi.Mode()&os.ModeSymlink != 0, "the link was replaced: %s", fi.Mode())
	b, err := os.ReadFile(target)
	assert.NilError(t, err)
	assert.Equal(t, string(b), "new")

	// A dangling link: its target is created.
	dangling := filepath.Join(dir, "dangling.yaml")
	assert.NilError(t, os.Symlink("created.yaml", dangling))
	assert.NilError(t, Write(dangling, []byte("x"), 0o644))
	fi, err = os.Lstat(dangling)
	assert.NilError(t, err)
	assert.Assert(t, fi.Mode()&os.ModeSymlink != 0)
	b, err = os.ReadFile(filepath.Join(dir, "created.yaml"))
	assert.NilError(t, err)
	assert.Equal(t, string(b), "x")
}

// A FIFO (as /dev/stderr may be) is written to, never replaced by a
// regular file; so is a link to one.
func TestWriteFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	assert.NilError(t, syscall.Mkfifo(fifo, 0o600))
	link := filepath.Join(dir, "stderr")
	assert.NilError(t, os.Symlink(fifo, link))
	for _, path := range []string{fifo, link} {
		got := make(chan string, 1)
		go func() {
			f, err := os.Open(fifo)
			if err != nil {
				got <- err.Error()
				return
			}
			defer f.Close()
			b, _ := io.ReadAll(f)
			got <- string(b)
		}()
		assert.NilError(t, Write(path, []byte("results\n"), 0o644))
		select {
		case s := <-got:
			assert.Equal(t, s, "results\n")
		case <-time.After(10 * time.Second):
			t.Fatal("nothing read from the FIFO")
		}
		fi, err := os.Lstat(fifo)
		assert.NilError(t, err)
		assert.Assert(t, fi.Mode()&os.ModeNamedPipe != 0, "the FIFO was replaced: %s", fi.Mode())
	}
	fi, err := os.Lstat(link)
	assert.NilError(t, err)
	assert.Assert(t, fi.Mode()&os.ModeSymlink != 0)
}

// Read takes only a regular file within the limit: a FIFO with no writer
// is refused at once, a sparse 3 GiB file without reading it.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	assert.NilError(t, os.WriteFile(small, []byte("abc"), 0o644))
	b, err := Read(small, 3)
	assert.NilError(t, err)
	assert.Equal(t, string(b), "abc")
	_, err = Read(small, 2)
	assert.Assert(t, errors.Is(err, ErrTooLarge), "%v", err)

	fifo := filepath.Join(dir, "fifo")
	assert.NilError(t, syscall.Mkfifo(fifo, 0o600))
	start := time.Now()
	_, err = Read(fifo, 1<<20)
	assert.Assert(t, errors.Is(err, ErrNotRegular), "%v", err)
	assert.Assert(t, time.Since(start) < 5*time.Second)

	sparse := filepath.Join(dir, "sparse")
	f, err := os.Create(sparse)
	assert.NilError(t, err)
	assert.NilError(t, f.Truncate(3<<30))
	assert.NilError(t, f.Close())
	_, err = Read(sparse, 64<<20)
	assert.Assert(t, errors.Is(err, ErrTooLarge), "%v", err)
	assert.ErrorContains(t, err, sparse)

	_, err = Read(dir, 1<<20)
	assert.Assert(t, errors.Is(err, ErrNotRegular), "%v", err)

	link := filepath.Join(dir, "link")
	assert.NilError(t, os.Symlink(small, link))
	b, err = Read(link, 10)
	assert.NilError(t, err)
	assert.Equal(t, string(b), "abc")
	_, _, err = ReadNoFollow(link, 10)
	assert.Assert(t, err != nil, "a link was followed")
}
