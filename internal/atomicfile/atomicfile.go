// Package atomicfile writes a file so that readers see the old content or
// the new, never a part: a temporary file in the same folder, then a rename.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
)

// Write puts b in path with permissions perm, creating its folder. On error
// the temporary file is removed and path is unchanged.
func Write(path string, b []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(b)
	if err := errors.Join(werr, tmp.Close(), os.Chmod(tmp.Name(), perm)); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return nil
}
