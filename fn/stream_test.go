package fn_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"

	"cocofy.dev/cocofy/fn"
)

// TestPlainStreamDecodedOnce: a plain stream that succeeds is decoded once,
// one document at a time (never read whole), and gives the golden output;
// one that fails is read whole again for Run's report, with no output.
func TestPlainStreamDecodedOnce(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/input.yaml")
	assert.NilError(t, err)
	ok := 0
	for _, in := range dirs {
		dir := filepath.Dir(in)
		var args []string
		if cfg := filepath.Join(dir, "config.yaml"); exists(cfg) {
			args = []string{"--config", cfg}
		}
		reads := 0
		restore := fn.CountWholeReads(&reads)
		stdout, _, err := run(t, read(t, in), args...)
		restore()
		if exists(filepath.Join(dir, "error.golden")) {
			assert.Assert(t, err != nil, dir)
			assert.Equal(t, stdout, "", dir)
			continue
		}
		assert.NilError(t, err, dir)
		assert.Equal(t, reads, 0, "%s: read whole %d times", dir, reads)
		golden.Assert(t, stdout, filepath.Join(filepath.Base(dir), "expected.yaml"))
		ok++
	}
	assert.Assert(t, ok > 5)
	useSandboxConfig(t)

	// Many documents, and ones that must wait for the stream's ConfigMaps.
	doc := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p%d # a comment\nspec:\n  containers:\n    - name: c\n      image: nginx:1.25\n"
	var b strings.Builder
	for i := range 600 {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.WriteString(strings.ReplaceAll(doc, "%d", strings.Repeat("x", i%7)+string(rune('a'+i%26))))
	}
	reads := 0
	restore := fn.CountWholeReads(&reads)
	defer restore()
	stdout, stderr, err := run(t, b.String())
	assert.NilError(t, err, stderr)
	assert.Equal(t, reads, 0)
	assert.Equal(t, strings.Count(stdout, "runtimeClassName: kata-vm-isolation"), 600)
	assert.Equal(t, strings.Count(stdout, "# a comment"), 600)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
