//go:build !(linux && rego)

package verify_test

import (
	"context"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/verify"
)

// Without the enforcer the package still builds and says why it cannot
// check; the enforcer tests are in verify_test.go (-tags rego).
func TestWithoutRegoTag(t *testing.T) {
	_, err := verify.Policy(context.Background(), "package policy", nil)
	assert.ErrorIs(t, err, verify.ErrNoEnforcer)
	_, err = verify.Classify(context.Background(), "package policy")
	assert.ErrorIs(t, err, verify.ErrNoEnforcer)
	t.Skip("hcsshim's Rego enforcer is not built in: run go test -tags rego")
}
