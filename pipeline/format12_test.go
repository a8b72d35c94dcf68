//go:build linux && rego

package pipeline_test

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/pipeline"
)

// A confcom 1.2-format policy is written in that format, verifies, and its
// drift check recomputes it as 1.2 (as 1.x, the mounts would differ).
func TestFormat12(t *testing.T) {
	opts := vnOptions()
	opts.Policy.Format = ccpolicy.Format12
	out, _, err := runPipeline(t, opts, vnDeployment)
	assert.NilError(t, err)
	rego, _ := policyOf(t, out)
	assert.Assert(t, strings.Contains(rego, `api_version := "0.10.0"`), rego)
	assert.Assert(t, strings.Contains(rego, `"name":"pause-container"`), rego)

	lines, err := verifyStreamWith(t, opts, out)
	assert.NilError(t, err, strings.Join(lines, "\n"))
	assert.Assert(t, contains(lines, "verified: "), strings.Join(lines, "\n"))
	assert.Assert(t, !contains(lines, "drift"), strings.Join(lines, "\n"))

	lines, err = verifyStreamWith(t, opts, strings.Replace(out, "--port=8080", "--port=9090", 1))
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, contains(lines, "drift: the attached policy does not match the pod spec: containers[name=app].command differ"), strings.Join(lines, "\n"))
}
