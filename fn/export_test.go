package fn

import "io"

// SetWarnings makes RegistryDeps report cache problems on w when progress
// lines are off, until the returned function restores os.Stderr.
func SetWarnings(w io.Writer) (restore func()) {
	old := warnings
	warnings = w
	return func() { warnings = old }
}
