//go:build linux

package guest_test

import (
	"encoding/json"
	"testing"

	"github.com/Microsoft/hcsshim/pkg/securitypolicy"
	oci "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/guest"
)

// The package copies what it needs from hcsshim's securitypolicy, which does
// not build on every OS; these tests keep the copies honest.

func TestDefaultCapabilitiesAreHcsshims(t *testing.T) {
	t.Parallel()
	assert.DeepEqual(t, guest.DefaultCapabilities(false), &guest.Capabilities{
		Bounding:    securitypolicy.DefaultUnprivilegedCapabilities(),
		Effective:   securitypolicy.DefaultUnprivilegedCapabilities(),
		Inheritable: securitypolicy.EmptyCapabiltiesSet(),
		Permitted:   securitypolicy.DefaultUnprivilegedCapabilities(),
		Ambient:     securitypolicy.EmptyCapabiltiesSet(),
	})
	assert.DeepEqual(t, guest.DefaultCapabilities(true), &guest.Capabilities{
		Bounding:    securitypolicy.DefaultPrivilegedCapabilities(),
		Effective:   securitypolicy.DefaultPrivilegedCapabilities(),
		Inheritable: securitypolicy.DefaultPrivilegedCapabilities(),
		Permitted:   securitypolicy.DefaultPrivilegedCapabilities(),
		Ambient:     securitypolicy.EmptyCapabiltiesSet(),
	})
}

func TestSeccompMeasureIsHcsshims(t *testing.T) {
	t.Parallel()
	var s oci.LinuxSeccomp
	assert.NilError(t, json.Unmarshal([]byte(seccompProfile), &s))
	want, err := securitypolicy.MeasureSeccompProfile(&s)
	assert.NilError(t, err)
	assert.Equal(t, want, "c1250ae3787a2e42d72ff85c6c95f2e7ebad58e1c4616c17f262546fd08512e8")
}
