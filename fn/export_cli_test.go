package fn

import "io"

// SetTerminal makes the command take its stderr for a terminal (or not),
// until the returned function restores the real check.
func SetTerminal(tty bool) (restore func()) {
	old := stderrIsTerminal
	stderrIsTerminal = func(io.Writer) bool { return tty }
	return func() { stderrIsTerminal = old }
}

// SetHasNetwork makes the command take the host for one with network (or
// without), until the returned function restores the real check.
func SetHasNetwork(has bool) (restore func()) {
	old := hasNetwork
	hasNetwork = func() bool { return has }
	return func() { hasNetwork = old }
}
