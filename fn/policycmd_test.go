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

func TestPolicyCommandWithoutPolicies(t *testing.T) {
	out, _, err := run(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: c}]\n", "policy")
	assert.ErrorContains(t, err, "no workload in the input has a microsoft.containerinstance.virtualnode.ccepolicy annotation")
	assert.Equal(t, out, "")
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
