package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "f.yaml")
	assert.NilError(t, Write(path, []byte("one"), 0o644))
	assert.NilError(t, Write(path, []byte("two"), 0o600))
	b, err := os.ReadFile(path)
	assert.NilError(t, err)
	assert.Equal(t, string(b), "two")
	fi, err := os.Stat(path)
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o600))
	entries, err := os.ReadDir(filepath.Dir(path))
	assert.NilError(t, err)
	assert.Equal(t, len(entries), 1, "no temporary file left")

	// A folder where the file should be: an error, nothing left behind.
	assert.Assert(t, Write(dir+"/sub", []byte("x"), 0o644) != nil)
	entries, err = os.ReadDir(dir)
	assert.NilError(t, err)
	assert.Equal(t, len(entries), 1)
}
