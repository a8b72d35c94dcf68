//go:build linux && rego

package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"cocofy.dev/cocofy/internal/guest"
	"cocofy.dev/cocofy/internal/podspec"
	"cocofy.dev/cocofy/internal/verify"
)

// A policy the guest's OPA cannot parse is never allowed, whatever path
// the evaluation takes: an unused data rule holding a number OPA's parser
// refuses (too many digits, an exponent out of range) makes the whole
// policy unloadable, for Policy, Classify and Reference alike.
func TestNumbersTheGuestCannotParse(t *testing.T) {
	pod, seed := seedPod(t)
	containers, err := guest.Receive(podspec.New("Pod", "", "", pod, nil), seedFacts(), podspec.Objects{})
	assert.NilError(t, err)
	ctx := context.Background()
	for name, value := range map[string]string{
		"40001 digits":      "1" + strings.Repeat("0", 40000),
		"exponent":          "1e40000",
		"negative exponent": "-1e-40000",
		"in an array":       "[1, 2, 1E40000]",
		"in an object":      `{"a": {"b": 1e40000}}`,
	} {
		t.Run(name, func(t *testing.T) {
			policy := strings.Replace(seed, "\nmount_device := ", "\nextra := "+value+"\nmount_device := ", 1)
			assert.Assert(t, policy != seed)
			_, refErr := verify.Reference(ctx, policy, containers)
			assert.Assert(t, errors.Is(refErr, verify.ErrUnparsable), "%v", refErr)
			_, err := verify.Policy(ctx, policy, containers)
			assert.Assert(t, errors.Is(err, verify.ErrUnparsable), "%v", err)
			assert.Check(t, is.Contains(err.Error(), "number too big"))
			_, err = verify.Classify(ctx, policy)
			assert.Assert(t, errors.Is(err, verify.ErrUnparsable), "%v", err)
		})
	}
}
