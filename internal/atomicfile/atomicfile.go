// Package atomicfile writes a file so that readers see the old content or
// the new, never a part: a temporary file in the same folder, then a rename.
// It also reads a file only when it is a regular file of bounded size, so
// that a path naming a device, a FIFO or a huge file ends in an error, not
// a hang or an out-of-memory kill.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Sentinel errors of Read.
var (
	// ErrNotRegular is returned by Read for a path that names a device, a
	// FIFO, a socket or a folder.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge is returned by Read for a file above the limit.
	ErrTooLarge = errors.New("too large")
)

// Write puts b in what path names, with permissions perm for a new file,
// creating its folder. A regular file (or none) is replaced atomically (see
// Replace); a symbolic link is followed and its target updated, the link
// kept; a device or FIFO (/dev/stderr, a pipe) is written to as it is,
// never replaced by a regular file.
func Write(path string, b []byte, perm os.FileMode) error {
	target, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, lerr := os.Lstat(path); lerr == nil {
			// A dangling link: create what it names.
			target, err = danglingTarget(path)
		} else {
			return Replace(path, b, perm)
		}
	}
	if err != nil {
		return err
	}
	fi, err := os.Stat(target)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		return writeThrough(target, b)
	}
	return Replace(target, b, perm)
}

// danglingTarget is the path the symbolic link at path points to, relative
// to the link's folder when not absolute.
func danglingTarget(path string) (string, error) {
	dest, err := os.Readlink(path)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(dest) {
		dest = filepath.Join(filepath.Dir(path), dest)
	}
	return dest, nil
}

// writeThrough writes b to the device or FIFO at path.
func writeThrough(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	return errors.Join(werr, f.Close())
}

// Replace puts b in path with permissions perm, creating its folder: a
// temporary file in the folder, then a rename over path, which replaces
// whatever path is (a symbolic link itself, not its target). On error the
// temporary file is removed and path is unchanged.
func Replace(path string, b []byte, perm os.FileMode) error {
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

// Read returns the content of the regular file at path, following symbolic
// links, when it is at most limit bytes. A device, FIFO or socket is
// ErrNotRegular (opened without waiting for a writer, never read), a larger
// file ErrTooLarge; both name the path.
func Read(path string, limit int64) ([]byte, error) {
	b, _, err := readInfo(path, limit, 0)
	return b, err
}

// ReadNoFollow is Read for a path whose last element must not be a
// symbolic link (in a cache folder, where anyone able to plant one must not
// choose what is read); it returns the file's information too.
func ReadNoFollow(path string, limit int64) ([]byte, fs.FileInfo, error) {
	return readInfo(path, limit, noFollow)
}

func readInfo(path string, limit int64, flags int) ([]byte, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|flags, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return nil, nil, err
	case !fi.Mode().IsRegular():
		return nil, fi, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, fi.Mode().Type())}
	case fi.Size() > limit:
		return nil, fi, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, fi.Size(), limit)}
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)}
	}
	return b, fi, err
}
