//go:build linux && rego

package fn_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// A pod whose fsGroup (equal to runAsGroup, as in bitnami's charts) is not
// in its image's /etc/group fails render by default (the error.golden of
// testdata/err-policy-missing-gid); policy.check: warn renders it with a
// warning, and cocofy verify still fails it: the guest would not start it.
func TestMissingGIDThroughRenderAndVerify(t *testing.T) {
	in := read(t, "testdata/err-policy-missing-gid/input.yaml")
	warnCfg := filepath.Join(t.TempDir(), "warn.yaml")
	assert.NilError(t, os.WriteFile(warnCfg, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: virtual-node\n  policy: {check: warn}\n"), 0o644))
	const where = `Deployment demo/postgresql: spec.template.spec.securityContext.fsGroup: container "postgresql": GID 1001 is not in /etc/group of image registry.example/bitnami/postgresql:17@sha256:`

	out, stderr, err := run(t, in, "--config", warnCfg)
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(stderr, "warning: "+where), stderr)
	assert.Assert(t, strings.Contains(stderr, "(the policy was written anyway: policy.check is warn)"), stderr)
	assert.Assert(t, strings.Contains(out, "microsoft.containerinstance.virtualnode.ccepolicy:"), out)

	_, _, err = run(t, in, "--config", warnCfg, "--strict")
	assert.ErrorContains(t, err, "--strict")

	for _, cfg := range []string{"testdata/err-policy-missing-gid/config.yaml", warnCfg} {
		got, stderr, err := run(t, out, "verify", "--config", cfg)
		assert.Assert(t, err != nil, "verify with %s passed:\n%s", cfg, stderr)
		assert.Equal(t, got, "")
		assert.Assert(t, strings.Contains(stderr, "error: "+where), stderr)
		assert.Assert(t, strings.Contains(stderr, "refuses to create the container"), stderr)
	}
}
