package registry_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/registry"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// echo answers with status and a body that repeats what the client sent:
// its Authorization header, as is and as plain values, and any form.
func echo(w http.ResponseWriter, r *http.Request, status int) {
	_ = r.ParseForm()
	auth := r.Header.Get("Authorization")
	_, cred, _ := strings.Cut(auth, " ")
	plain, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		plain = nil
	}
	_, pass, _ := strings.Cut(string(plain), ":")
	msg := fmt.Sprintf("denied %s %s (credential %s; as text %s; password %s; form %v)", auth, r.PostForm.Encode(), cred, plain, pass, r.PostForm)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":%q}]}`, msg)
}

// tokenRegistry is a registry behind a token service (as Docker Hub, ACR,
// GHCR are): the token endpoint takes basic credentials or an OAuth2
// refresh token and answers bearerToken. echoPath requests are answered by
// echo.
func tokenRegistry(t *testing.T, user, pass, refresh, bearerToken string, echoToken, echoPath bool) *registrytest.Registry {
	reg := registrytest.Start(t)
	reg.Push(t, "echo/app:1", registrytest.Image(t, "echo", "linux/amd64", v1.Config{}))
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/token" {
			if echoToken {
				echo(w, r, http.StatusUnauthorized)
				return true
			}
			u, p, ok := r.BasicAuth()
			_ = r.ParseForm()
			if (ok && u == user && p == pass) || (refresh != "" && r.PostForm.Get("refresh_token") == refresh) {
				fmt.Fprintf(w, `{"token":%q}`, bearerToken)
				return true
			}
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		if r.Header.Get("Authorization") != "Bearer "+bearerToken {
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+reg.Host+`/token",service="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		if echoPath && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
			echo(w, r, http.StatusForbidden)
			return true
		}
		return false
	})
	return reg
}

// No credential the keychain hands out, nor a token obtained with it, is
// printed, whatever the registry echoes.
func TestCredentialsAreScrubbed(t *testing.T) {
	t.Parallel()
	const (
		user, pass = "ci", "hunter2-p@ss/word"
		bearer     = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LWJlYXJlcg.sig"
		identity   = "identity-refresh-token-0123456789"
		regToken   = "registry-token-abcdef0123456789"
	)
	blob := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	secrets := []string{pass, blob, user + ":" + pass, bearer, identity, regToken}
	basic := authn.FromConfig(authn.AuthConfig{Username: user, Password: pass})
	ctx := context.Background()
	check := func(t *testing.T, err error, want string) {
		t.Helper()
		assert.ErrorContains(t, err, want)
		for _, s := range secrets {
			assert.Assert(t, !strings.Contains(err.Error(), s), "%q printed in: %v", s, err)
		}
	}

	t.Run("basic, echoed in a 403", func(t *testing.T) {
		t.Parallel()
		reg := registrytest.Start(t, registrytest.WithBasicAuth(user, pass))
		reg.Push(t, "echo/app:1", registrytest.Image(t, "echo", "linux/amd64", v1.Config{}))
		reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
				echo(w, r, http.StatusForbidden)
				return true
			}
			return false
		})
		c := registry.New(registry.Options{Keychain: staticKeychain{host: reg.Host, auth: basic}})
		_, err := c.Resolve(ctx, reg.Ref("echo/app:1"))
		check(t, err, "DENIED: denied Basic REDACTED")
		_, err = c.Inspect(ctx, reg.Ref("echo/app:1"), "linux/amd64")
		check(t, err, "DENIED: denied Basic REDACTED")
	})
	t.Run("basic, echoed by the token service", func(t *testing.T) {
		t.Parallel()
		reg := tokenRegistry(t, user, pass, "", bearer, true, false)
		_, err := registry.New(registry.Options{Keychain: staticKeychain{host: reg.Host, auth: basic}}).Resolve(ctx, reg.Ref("echo/app:1"))
		check(t, err, "denied Basic REDACTED")
	})
	t.Run("bearer token, echoed", func(t *testing.T) {
		t.Parallel()
		reg := tokenRegistry(t, user, pass, "", bearer, false, true)
		_, err := registry.New(registry.Options{Keychain: staticKeychain{host: reg.Host, auth: basic}}).Resolve(ctx, reg.Ref("echo/app:1"))
		check(t, err, "denied Bearer REDACTED")
	})
	t.Run("identity token, echoed by the token service", func(t *testing.T) {
		t.Parallel()
		reg := tokenRegistry(t, "", "", identity, bearer, true, false)
		kc := staticKeychain{host: reg.Host, auth: authn.FromConfig(authn.AuthConfig{Username: "<token>", IdentityToken: identity})}
		_, err := registry.New(registry.Options{Keychain: kc}).Resolve(ctx, reg.Ref("echo/app:1"))
		check(t, err, "refresh_token=REDACTED")
	})
	t.Run("identity token, then the bearer token, echoed", func(t *testing.T) {
		t.Parallel()
		reg := tokenRegistry(t, "", "", identity, bearer, false, true)
		kc := staticKeychain{host: reg.Host, auth: authn.FromConfig(authn.AuthConfig{Username: "<token>", IdentityToken: identity})}
		_, err := registry.New(registry.Options{Keychain: kc}).Resolve(ctx, reg.Ref("echo/app:1"))
		check(t, err, "denied Bearer REDACTED")
	})
	t.Run("registry token, echoed", func(t *testing.T) {
		t.Parallel()
		reg := tokenRegistry(t, "", "", "", regToken, false, true)
		kc := staticKeychain{host: reg.Host, auth: authn.FromConfig(authn.AuthConfig{RegistryToken: regToken})}
		_, err := registry.New(registry.Options{Keychain: kc}).Resolve(ctx, reg.Ref("echo/app:1"))
		check(t, err, "denied Bearer REDACTED")
	})
}
