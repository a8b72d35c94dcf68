package fn_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/fn"
)

// helm4Env makes the runs of a test look like Helm 4's plugin runtime
// runs them, with the state folder the test's own; it returns where the
// last run's results go.
func helm4Env(t *testing.T) string {
	t.Helper()
	useSandboxConfig(t)
	t.Setenv("HELM_PLUGIN_NAME", "cocofy")
	t.Setenv("HELM_PLUGIN_DIR", t.TempDir())
	t.Setenv(fn.EnvResults, "")
	state := t.TempDir()
	t.Setenv(fn.EnvStateHome, state)
	path := filepath.Join(state, "cocofy", "last-results.yaml")
	assert.Equal(t, fn.LastResultsPath(), path)
	return path
}

// Under Helm 4, which drops a plugin's stderr, every run writes its
// results to $XDG_STATE_HOME/cocofy/last-results.yaml; on a terminal the
// warnings, errors, the error itself and that file's name go to the
// terminal instead of stderr.
func TestHelm4FailureOnTheTerminal(t *testing.T) {
	path := helm4Env(t)
	var term bytes.Buffer
	defer fn.SetTerminalDevice(&term)()
	defer fn.SetTerminal(true)()
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: fail.invalid/app:1, resources: {limits: {cpu: 100m, memory: 128Mi}}}\n"
	out, stderr, err := run(t, in)
	assert.Error(t, err, "found errors; no output was written")
	assert.Equal(t, out, "")
	assert.Equal(t, stderr, "", "Helm 4 drops it: all went to the terminal")
	assert.Equal(t, term.String(), "error: Pod p: spec.containers[name=c].image: resolving \"fail.invalid/app:1\": dial tcp: lookup fail.invalid: no such host\n"+
		"cocofy: found errors; no output was written\n"+
		"cocofy: every result of this run (Helm 4 hides cocofy's stderr): "+path+"\n")
	list := readResults(t, path)
	assert.Equal(t, list.ExitCode, 1)
	assert.Assert(t, strings.Contains(lines(list.Items[0].Results), "error: Pod p: spec.containers[name=c].image: resolving \"fail.invalid/app:1\": dial tcp: lookup fail.invalid: no such host\n"))

	// A success with a warning: the summary, then the file.
	term.Reset()
	out, stderr, err = run(t, read(t, "testdata/pod-sandbox/input.yaml"))
	assert.NilError(t, err)
	assert.Assert(t, out != "")
	assert.Equal(t, stderr, "")
	assert.Assert(t, strings.HasSuffix(term.String(), " 1 warning (see --results or -v)\ncocofy: every result of this run (Helm 4 hides cocofy's stderr): "+path+"\n"), term.String())
	assert.Equal(t, readResults(t, path).ExitCode, 0)
}

// Without a terminal (CI) the file is all there is; $COCOFY_RESULTS still
// names another. Outside Helm 4 no file is written unless asked for.
func TestHelm4ResultsWithoutTerminal(t *testing.T) {
	path := helm4Env(t)
	defer fn.SetTerminalDevice(nil)()
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: fail.invalid/app:1}\n"
	_, stderr, err := run(t, in)
	assert.Assert(t, err != nil)
	assert.Assert(t, strings.Contains(stderr, "fail.invalid"), "stderr is still written: %s", stderr)
	assert.Equal(t, readResults(t, path).ExitCode, 1)

	other := filepath.Join(t.TempDir(), "results.yaml")
	t.Setenv(fn.EnvResults, other)
	assert.NilError(t, os.Remove(path))
	_, _, err = run(t, in)
	assert.Assert(t, err != nil)
	assert.Equal(t, readResults(t, other).ExitCode, 1)
	_, err = os.Stat(path)
	assert.Assert(t, os.IsNotExist(err), "only the file named: %v", err)

	t.Setenv(fn.EnvResults, "")
	t.Setenv("HELM_PLUGIN_NAME", "")
	_, _, err = run(t, in)
	assert.Assert(t, err != nil)
	_, err = os.Stat(path)
	assert.Assert(t, os.IsNotExist(err), "not under Helm 4: %v", err)
}

// A state folder that cannot be written does not fail a Helm 4 run: the
// file is a help, not something asked for.
func TestHelm4ResultsNotWritable(t *testing.T) {
	path := helm4Env(t)
	defer fn.SetTerminalDevice(nil)()
	assert.NilError(t, os.MkdirAll(path, 0o755)) // a folder where the file goes
	out, stderr, err := run(t, read(t, "testdata/pod-sandbox/input.yaml"))
	assert.NilError(t, err, stderr)
	assert.Assert(t, out != "")
}
