package registry

import (
	"os"

	"github.com/chrismellard/docker-credential-acr-env/pkg/credhelper"
	"github.com/google/go-containerregistry/pkg/authn"
)

// Keychain is where credentials come from by default: the docker config and
// its credential helpers (which covers `docker login` and `az acr login`),
// then, for *.azurecr.io hosts and only when AZURE_CLIENT_ID is set, Azure
// credentials from the environment (service principal secret or workload
// identity token file), as the ACR credential helper reads them. Without
// AZURE_CLIENT_ID no Azure endpoint is ever contacted.
func Keychain() authn.Keychain {
	if os.Getenv("AZURE_CLIENT_ID") == "" {
		return authn.DefaultKeychain
	}
	return authn.NewMultiKeychain(authn.DefaultKeychain, authn.NewKeychainFromHelper(credhelper.NewACRCredentialsHelper()))
}
