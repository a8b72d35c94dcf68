package fn

import (
	"io"
	"os"
)

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

// SetTerminalDevice makes a run under Helm 4 take w for its terminal (nil:
// no terminal), until the returned function restores /dev/tty.
func SetTerminalDevice(w io.Writer) (restore func()) {
	old := openTerminal
	openTerminal = func() (io.WriteCloser, error) {
		if w == nil {
			return nil, os.ErrNotExist
		}
		return nopCloser{w}, nil
	}
	return func() { openTerminal = old }
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
