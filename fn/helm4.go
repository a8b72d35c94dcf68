package fn

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Helm 4 runs a postrenderer/v1 plugin with its stderr in a buffer that it
// drops, also with --debug (helm v4.3.1, internal/plugin/runtime_subprocess.go:
// runPostrenderer sets cmd.Stderr to a bytes.Buffer; executeCmd returns
// only `plugin "cocofy" exited with error` and logs ExitError.Stderr,
// which exec fills only for Output, so stderr="" in the debug line). The
// exit code is kept in the error but not shown, and on success only
// stdout is read. No option of the plugin runtime changes that. So under
// Helm 4 cocofy says itself what it has to say: on the terminal it runs
// on (/dev/tty, when there is one), and always in a results file at a
// known place.

// EnvStateHome is the XDG base folder of the last run's results under
// Helm 4 (LastResultsPath).
const EnvStateHome = "XDG_STATE_HOME"

// helm4Plugin reports whether cocofy runs as a Helm 4 plugin: Helm 4's
// subprocess runtime sets $HELM_PLUGIN_NAME and $HELM_PLUGIN_DIR; Helm 3
// adds no HELM_ variable for --post-renderer.
func helm4Plugin() bool {
	return os.Getenv("HELM_PLUGIN_NAME") != "" && os.Getenv("HELM_PLUGIN_DIR") != ""
}

// LastResultsPath is where a run under Helm 4 writes its results when
// neither --results nor $COCOFY_RESULTS names a file:
// $XDG_STATE_HOME/cocofy/last-results.yaml, by default
// ~/.local/state/cocofy/last-results.yaml. Not the plugin's folder: a
// plugin installed from a checkout is a link into it.
func LastResultsPath() string {
	dir := os.Getenv(EnvStateHome)
	if dir == "" || !filepath.IsAbs(dir) { // the XDG spec ignores relative ones
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "cocofy", "last-results.yaml")
}

// openTerminal opens the controlling terminal for writing. Tests replace it.
var openTerminal = func() (io.WriteCloser, error) {
	return os.OpenFile("/dev/tty", os.O_WRONLY, 0)
}

// helm4Door is what a run under Helm 4 does differently; nil elsewhere.
type helm4Door struct {
	// results is the file the run's results go to when no other is named.
	results string
	// term is the terminal, which takes stderr's place; nil without one.
	term io.WriteCloser
}

// newHelm4Door is the Helm 4 door, or nil outside Helm 4.
func newHelm4Door() *helm4Door {
	if !helm4Plugin() {
		return nil
	}
	d := &helm4Door{results: LastResultsPath()}
	if d.results != "" {
		if err := os.MkdirAll(filepath.Dir(d.results), 0o755); err != nil {
			d.results = ""
		}
	}
	if t, err := openTerminal(); err == nil {
		d.term = t
	}
	return d
}

// stderr is where messages go: the terminal when there is one.
func (d *helm4Door) stderr(stderr io.Writer) io.Writer {
	if d == nil || d.term == nil {
		return stderr
	}
	return d.term
}

// done says, on the terminal, how the run ended (Helm 4 shows neither the
// error nor stderr) and, after a failure or warnings, where its results
// are.
func (d *helm4Door) done(resultsPath string, err error, warnings int) {
	if d == nil || d.term == nil {
		return
	}
	if err != nil {
		fmt.Fprintln(d.term, "cocofy:", err)
	}
	if resultsPath != "" && (err != nil || warnings > 0) {
		fmt.Fprintln(d.term, "cocofy: every result of this run (Helm 4 hides cocofy's stderr):", resultsPath)
	}
}

// close closes the terminal.
func (d *helm4Door) close() {
	if d != nil && d.term != nil {
		_ = d.term.Close()
	}
}
