package fn

import (
	"io"
	"time"
)

// SetWarnings makes RegistryDeps report cache problems on w when progress
// lines are off, until the returned function restores os.Stderr.
func SetWarnings(w io.Writer) (restore func()) {
	old := warnings
	warnings = w
	return func() { warnings = old }
}

// SetIdleTimeout sets how long a registry response body may send nothing,
// until the returned function restores the default.
func SetIdleTimeout(d time.Duration) (restore func()) {
	old := idleTimeout
	idleTimeout = d
	return func() { idleTimeout = old }
}
