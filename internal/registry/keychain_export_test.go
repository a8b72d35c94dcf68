package registry

import (
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
)

// ACRKeychain is the keychain Keychain adds when AZURE_CLIENT_ID is set,
// with every request to Azure sent through rt.
func ACRKeychain(rt http.RoundTripper) authn.Keychain { return newACRKeychain(rt) }
