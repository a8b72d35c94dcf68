//go:build !(linux && rego)

package pipeline_test

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/pipeline"
)

// A binary without hcsshim's enforcer says so on every virtual-node run,
// and verify fails. (make unit runs this file without -tags rego.)
func TestWithoutEnforcer(t *testing.T) {
	out, lines, err := runPipeline(t, vnOptions(), vnDeployment)
	assert.NilError(t, err, strings.Join(lines, "\n"))
	assert.Assert(t, strings.Contains(out, pipeline.AnnotationCCEPolicy))
	assert.Assert(t, contains(lines, "warning: this cocofy was built without hcsshim's enforcer (build tag rego, Linux only): no CCE policy was checked"), strings.Join(lines, "\n"))

	lines, err = verifyStream(t, out)
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, contains(lines, "enforcer not built in"), strings.Join(lines, "\n"))
}
