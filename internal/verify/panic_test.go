//go:build linux && rego

package verify

import (
	"context"
	"errors"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"cocofy.dev/cocofy/internal/guest"
)

// panicking is an enforcer that panics at the first question, as OPA did
// on data it could not convert.
type panicking struct{ enforcer }

func (panicking) EnforceDeviceMountPolicy(context.Context, string, string) error {
	panic("invalid number: number too big")
}

// A panic while the fast enforcer replays spoils its replay, so that
// hcsshim's enforcer decides; a panic in hcsshim's enforcer is an error
// saying the guest cannot load the policy. Neither reaches the caller.
func TestPanicDuringReplay(t *testing.T) {
	ctx := context.Background()
	pod := []guest.Container{{Name: "app", Layers: []string{"a"}, Command: []string{"x"}}}

	fast := &uvm{enforcer: panicking{}, fast: &fastEnforcer{}, sandboxID: defaultSandboxID}
	ds, err := fast.replay(ctx, pod)
	assert.NilError(t, err)
	assert.Assert(t, !fast.exact(ds), "a panicked fast replay must go to hcsshim's enforcer")
	_, err = fast.classify(ctx, "package policy\n")
	assert.NilError(t, err)
	assert.Assert(t, fast.fast.spoiled != nil)

	hcsshim := &uvm{enforcer: panicking{}, sandboxID: defaultSandboxID}
	_, err = hcsshim.replay(ctx, pod)
	assert.Assert(t, errors.Is(err, ErrUnparsable), "%v", err)
	assert.Check(t, is.Contains(err.Error(), "number too big"))
	_, err = hcsshim.classify(ctx, "package policy\n")
	assert.Assert(t, errors.Is(err, ErrUnparsable), "%v", err)
}
