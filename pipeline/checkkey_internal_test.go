package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/guest"
	"cocofy.dev/cocofy/internal/verify"
)

// The replay cache's key is derived from what decides the verdict
// (verify.CacheKey: the framework text, hcsshim's and OPA's versions, the
// replay code), the policy and the containers, not from a version string
// bumped by hand.
func TestCheckKeyFollowsTheEnforcer(t *testing.T) {
	cs := []guest.Container{{Name: "app", Layers: []string{"a"}}}
	b, err := json.Marshal(cs)
	assert.NilError(t, err)
	h := sha256.New()
	for _, part := range []string{verify.CacheKey(), "package policy\n", string(b)} {
		fmt.Fprintf(h, "%d:%s", len(part), part)
	}
	assert.Equal(t, checkKey("package policy\n", nil, cs), "sha256:"+hex.EncodeToString(h.Sum(nil)))
	assert.Assert(t, checkKey("package policy\n", nil, cs) != checkKey("package policy\n\n", nil, cs))
	// The fragments the enforcer loaded decide too.
	frag := []verify.Fragment{{Issuer: "did:x509:0:sha256:x::subject:CN:C", Feed: "example.com/app", Rego: "package app\n"}}
	assert.Assert(t, checkKey("package policy\n", frag, cs) != checkKey("package policy\n", nil, cs))
}
