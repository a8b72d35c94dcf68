//go:build unix

package fn_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/fn"
)

// --results through a symbolic link updates the link's target and keeps
// the link; to a FIFO (as /dev/stderr may be: a link to a pipe) it writes
// through, never replacing it with a regular file. (Never tested with the
// machine's own /dev paths.)
func TestResultsThroughLinkAndFIFO(t *testing.T) {
	useSandboxConfig(t)
	in := read(t, "testdata/pod-sandbox/input.yaml")
	dir := t.TempDir()
	target := filepath.Join(dir, "results.yaml")
	assert.NilError(t, os.WriteFile(target, nil, 0o644))
	link := filepath.Join(dir, "link.yaml")
	assert.NilError(t, os.Symlink(target, link))
	_, stderr, err := run(t, in, "--results", link)
	assert.NilError(t, err, stderr)
	fi, err := os.Lstat(link)
	assert.NilError(t, err)
	assert.Assert(t, fi.Mode()&os.ModeSymlink != 0, "the link was replaced by a %s", fi.Mode())
	assert.Equal(t, readResults(t, target).ExitCode, 0)

	fifo := filepath.Join(dir, "fifo")
	assert.NilError(t, syscall.Mkfifo(fifo, 0o600))
	stderrLink := filepath.Join(dir, "stderr")
	assert.NilError(t, os.Symlink(fifo, stderrLink))
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
	_, stderr, err = run(t, in, "--results", stderrLink)
	assert.NilError(t, err, stderr)
	select {
	case s := <-got:
		assert.Assert(t, strings.Contains(s, "kind: FunctionResultList"), s)
	case <-time.After(20 * time.Second):
		t.Fatal("no results on the FIFO")
	}
	for _, p := range []string{stderrLink, fifo} {
		fi, err := os.Lstat(p)
		assert.NilError(t, err)
		assert.Assert(t, fi.Mode()&(os.ModeSymlink|os.ModeNamedPipe) != 0, "%s was replaced by a %s", p, fi.Mode())
	}
}

// A config or lock file path naming a FIFO or a huge (sparse) file is an
// error at once, through the command: no hang, no out-of-memory. (Never
// /dev/zero: a FIFO and a sparse file made here.)
func TestConfigAndLockMustBeRegularAndBounded(t *testing.T) {
	useSandboxConfig(t)
	t.Setenv("COCOFY_CACHE_DIR", "off")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	in := read(t, "testdata/pod-sandbox/input.yaml")
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	assert.NilError(t, syscall.Mkfifo(fifo, 0o600))
	sparse := filepath.Join(dir, "sparse.yaml")
	f, err := os.Create(sparse)
	assert.NilError(t, err)
	assert.NilError(t, f.Truncate(3<<30))
	assert.NilError(t, f.Close())
	for _, c := range []struct{ args []string }{
		{[]string{"--config", fifo}},
		{[]string{"--config", sparse}},
		{[]string{"--lock", fifo, "--lock-mode", "use"}},
		{[]string{"--lock", sparse, "--lock-mode", "use"}},
	} {
		start := time.Now()
		out, _, err := runWith(t, fn.RegistryDeps, in, c.args...)
		assert.Assert(t, err != nil, "%v", c.args)
		assert.Equal(t, out, "")
		msg := err.Error()
		assert.Assert(t, strings.Contains(msg, "not a regular file") || strings.Contains(msg, "too large"), "%v: %s", c.args, msg)
		assert.Assert(t, time.Since(start) < 10*time.Second, "%v took %s", c.args, time.Since(start))
	}
}
