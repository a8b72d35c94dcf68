package fn_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// A select that matches nothing is a warning naming the select field (a
// lower-case kind gets the kind it means), so --strict fails; before, it
// changed nothing and exited 0 without a word.
func TestSelectMatchingNothingIsSaid(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "cocofy.yaml")
	assert.NilError(t, os.WriteFile(cfg, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: pod-sandbox\n  select: {kinds: [deployment]}\n"), 0o644))
	in := read(t, "testdata/pod-sandbox/input.yaml")
	const want = `warning: spec.select.kinds[0]: "deployment" matches no workload of the input, so it selects nothing; did you mean Deployment? (select values are case-sensitive)`

	for name, stdin := range map[string]string{"stream": in, "ResourceList": wrap(t, in, cfg)} {
		out, stderr, err := run(t, stdin, "-v", "--strict", "--config", cfg)
		assert.ErrorContains(t, err, "--strict: 1 warning reported", name)
		assert.Equal(t, out, "", name)
		if name == "stream" {
			assert.Assert(t, strings.Contains(stderr, want), stderr)
		}

		out, stderr, err = run(t, stdin, "--config", cfg)
		assert.NilError(t, err, stderr)
		if name == "stream" {
			assert.Assert(t, strings.Contains(stderr, want), stderr)
			assert.Assert(t, !strings.Contains(out, "runtimeClassName") && !strings.Contains(out, "@sha256:"), "nothing was selected, so nothing changed:\n%s", out)
		} else {
			assert.Assert(t, strings.Contains(out, `"deployment" matches no workload of the input`), out)
			assert.Assert(t, strings.Contains(out, "path: spec.select.kinds[0]"), out)
		}
	}
}
