package registry_test

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/registry"
)

func TestKeychainAzureOnlyWhenAsked(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("AZURE_CLIENT_ID", "")
	assert.Equal(t, registry.Keychain(), authn.DefaultKeychain)

	t.Setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000000")
	kc := registry.Keychain()
	assert.Assert(t, kc != authn.DefaultKeychain)
	// Hosts other than ACR stay anonymous, with no call to Azure.
	repo, err := name.NewRepository("ghcr.io/x/y")
	assert.NilError(t, err)
	a, err := kc.Resolve(repo)
	assert.NilError(t, err)
	assert.Equal(t, a, authn.Anonymous)
}
