package fn

import "io"

// SetTerminal makes the command take its stderr for a terminal (or not),
// until the returned function restores the real check.
func SetTerminal(tty bool) (restore func()) {
	old := stderrIsTerminal
	stderrIsTerminal = func(io.Writer) bool { return tty }
	return func() { stderrIsTerminal = old }
}
