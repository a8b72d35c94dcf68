//go:build unix

package lockfile

import (
	"os"
	"path/filepath"
	"syscall"
)

// lockFolder takes an exclusive flock on the folder of the file at path
// (of its target when path is a symbolic link), creating the folder, and
// returns its release. The lock file itself is replaced on every write, so
// it cannot carry the lock; its folder can, and leaves no side file in the
// user's repository.
func lockFolder(path string) (func(), error) {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, &os.PathError{Op: "flock", Path: dir, Err: err}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
