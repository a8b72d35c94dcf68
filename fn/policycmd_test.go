package fn_test

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"
)

// The seed pod carries a real confcom 1.x policy from the virtual node docs.
func TestPolicyCommandPrintsDecodedPolicy(t *testing.T) {
	out, _, err := run(t, read(t, "testdata/policycmd/seed-pod.yaml"), "policy")
	assert.NilError(t, err)
	golden.Assert(t, out, "policycmd/seed-pod.golden")
}

// A stream without policies: policy and verify agree on the exit code (0);
// policy says on stderr that it has nothing to print. Whether policies are
// needed is the config's business, which verify checks.
func TestPolicyCommandWithoutPolicies(t *testing.T) {
	in := read(t, "testdata/pod-sandbox/expected.yaml")
	out, stderr, err := run(t, in, "policy")
	assert.NilError(t, err)
	assert.Equal(t, out, "")
	assert.Equal(t, stderr, "info: no workload in the input has a microsoft.containerinstance.virtualnode.ccepolicy annotation; nothing to print\n")

	_, stderr, err = run(t, in, "verify", "--config", "testdata/pod-sandbox/config.yaml")
	assert.NilError(t, err, stderr)
	_, stderr, err = run(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "policy")
	assert.NilError(t, err, stderr)
	_, stderr, err = run(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "verify", "--config", "testdata/pod-sandbox/config.yaml")
	assert.NilError(t, err, stderr)
}

// The policies cocofy attaches, decoded, for review next to expected.yaml.
func TestPolicyCommandOnGeneratedPolicies(t *testing.T) {
	out, _, err := run(t, read(t, "testdata/virtual-node/expected.yaml"), "policy")
	assert.NilError(t, err)
	golden.Assert(t, out, "virtual-node/policy.golden")
	assert.Assert(t, !strings.Contains(out, "hunter2"), "Secret values are redacted")

	out, _, err = run(t, read(t, "testdata/virtual-node/expected.yaml"), "policy", "--show-secrets")
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(out, `"pattern": "DB_PASSWORD=hunter2"`), "--show-secrets")
}
