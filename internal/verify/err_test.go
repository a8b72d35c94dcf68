package verify_test

import (
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/verify"
)

func TestErr(t *testing.T) {
	t.Parallel()
	ds := []verify.Decision{
		{Name: "pause-container", Allowed: true},
		{Name: "a", Allowed: true, DroppedEnv: []string{"DEBUG", "X"}, DroppedCapabilities: []string{"CAP_NET_ADMIN"}},
		{Name: "b", Step: "mount_device", Reason: "deviceHash not found"},
		{Name: "c", Step: "create_container", Reason: "invalid command"},
	}
	err := verify.Err(ds)
	assert.ErrorIs(t, err, verify.ErrDenied)
	assert.ErrorIs(t, err, verify.ErrDropped)
	assert.Error(t, err, `container "a": policy drops part of the container's configuration: environment variables DEBUG,X and capabilities CAP_NET_ADMIN not in the policy
container "b": policy denies the container: mount_device: deviceHash not found
container "c": policy denies the container: create_container: invalid command`)
	assert.NilError(t, verify.Err(ds[:1]))
}
