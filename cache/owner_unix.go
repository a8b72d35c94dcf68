//go:build unix

package cache

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// owned returns nil when fi is owned by this process's effective user and
// writable by neither group nor others.
func owned(fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: owned by uid %d, not by this user (uid %d)", errUntrusted, st.Uid, os.Geteuid())
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w: writable by other users (mode %04o)", errUntrusted, perm)
	}
	return nil
}
