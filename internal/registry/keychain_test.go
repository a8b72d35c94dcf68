package registry_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

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

const (
	clientID     = "11111111-2222-3333-4444-555555555555"
	tenantID     = "66666666-7777-8888-9999-000000000000"
	clientSecret = "client-secret-Qx7"
	aadToken     = "aad-access-token-Zk3"
	refreshToken = "acr-refresh-token-Wm9"
	acrRegistry  = "myreg.azurecr.io"
)

// fakeAzure is Microsoft Entra ID (any host but acrRegistry: instance and
// tenant discovery, the token endpoint), an App Service managed identity
// endpoint (/msi/token) and the token exchange of acrRegistry, all on one
// TLS server that every host name reaches through the transport.
type fakeAzure struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests []string     // "METHOD host/path"
	forms    []url.Values // request forms and queries
	// exchange answers POST /oauth2/exchange; nil means success.
	exchange func(w http.ResponseWriter, r *http.Request)
	// token answers the Entra token endpoint; nil means success.
	token func(w http.ResponseWriter, r *http.Request)
}

func startFakeAzure(t *testing.T) *fakeAzure {
	f := &fakeAzure{}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// transport sends every request to the fake, whatever the host, checking
// its certificate (made for example.com).
func (f *fakeAzure) transport() http.RoundTripper {
	t := f.srv.Client().Transport.(*http.Transport).Clone()
	addr := f.srv.Listener.Addr().String()
	t.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	t.TLSClientConfig = t.TLSClientConfig.Clone()
	t.TLSClientConfig.ServerName = "example.com"
	return t
}

func (f *fakeAzure) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func (f *fakeAzure) form(path string) url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.requests {
		if strings.HasSuffix(r, path) {
			return f.forms[i]
		}
	}
	return nil
}

func (f *fakeAzure) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.Host+r.URL.Path)
	f.forms = append(f.forms, r.Form)
	exchange, token := f.exchange, f.token
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Host == acrRegistry && r.Method == http.MethodPost && r.URL.Path == "/oauth2/exchange":
		if exchange != nil {
			exchange(w, r)
			return
		}
		fmt.Fprintf(w, `{"refresh_token":%q}`, refreshToken)
	case r.Host == acrRegistry && strings.HasPrefix(r.URL.Path, "/v2/"):
		// A registry asking for basic credentials, then echoing them.
		if _, _, ok := r.BasicAuth(); !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="acr"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, pass, _ := r.BasicAuth()
		if r.Method == http.MethodHead { // a manifest, to be confirmed by a GET
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("ab", 32))
			w.Header().Set("Content-Length", "100")
			return
		}
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":"denied %s (%s)"}]}`, r.Header.Get("Authorization"), pass)
	case r.Host == acrRegistry:
		http.NotFound(w, r)
	case r.URL.Path == "/common/discovery/instance":
		host := r.Host
		if u, err := hostOf(r.URL.Query().Get("authorization_endpoint")); err == nil && u != "" {
			host = u
		}
		fmt.Fprintf(w, `{"tenant_discovery_endpoint":"https://%[1]s/%[2]s/v2.0/.well-known/openid-configuration","api-version":"1.1","metadata":[{"preferred_network":"%[1]s","preferred_cache":"%[1]s","aliases":["%[1]s"]}]}`, host, tenantID)
	case strings.HasSuffix(r.URL.Path, "/v2.0/.well-known/openid-configuration"):
		base := "https://" + r.Host + "/" + strings.Split(r.URL.Path, "/")[1]
		fmt.Fprintf(w, `{"token_endpoint":"%[1]s/oauth2/v2.0/token","issuer":"%[1]s/v2.0","authorization_endpoint":"%[1]s/oauth2/v2.0/authorize"}`, base)
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		if token != nil {
			token(w, r)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":3600,"token_type":"Bearer"}`, aadToken)
	case r.URL.Path == "/msi/token":
		if r.Header.Get("X-IDENTITY-HEADER") != "identity-header" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"expires_on":"%d","resource":%q,"token_type":"Bearer"}`, aadToken, time.Now().Add(time.Hour).Unix(), r.Form.Get("resource"))
	default:
		http.NotFound(w, r)
	}
}

// hostOf returns the host of a URL.
func hostOf(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", errors.New("no scheme")
	}
	host, _, _ := strings.Cut(rest, "/")
	return host, nil
}

// azureEnv clears every variable the keychain and azidentity read, then
// sets vars.
func azureEnv(t *testing.T, vars map[string]string) {
	for _, v := range []string{
		"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN",
		"AZURE_FEDERATED_TOKEN_FILE", "AZURE_ENVIRONMENT", "AZURE_ADDITIONALLY_ALLOWED_TENANTS",
		"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT",
		"MSI_SECRET", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "DEFAULT_IDENTITY_CLIENT_ID",
	} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	t.Setenv("AZURE_AUTHORITY_HOST", "https://login.example/")
	t.Setenv("AZURE_CLIENT_ID", clientID)
	t.Setenv("AZURE_TENANT_ID", tenantID)
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

func resolve(t *testing.T, kc authn.Keychain, repo string) (*authn.AuthConfig, error) {
	t.Helper()
	r, err := name.NewRepository(repo)
	assert.NilError(t, err)
	a, err := authn.Resolve(context.Background(), kc, r)
	if err != nil {
		return nil, err
	}
	if a == authn.Anonymous {
		return nil, nil
	}
	return a.Authorization()
}

func TestACRKeychainClientSecret(t *testing.T) {
	f := startFakeAzure(t)
	azureEnv(t, map[string]string{"AZURE_CLIENT_SECRET": clientSecret})
	kc := registry.ACRKeychain(f.transport())

	for _, repo := range []string{"ghcr.io/x/y", "myreg.azurecr.io.example.com/x", "azurecr.io/x", "myreg.azurecr.de/x", "mcr.microsoft.com/x"} {
		c, err := resolve(t, kc, repo)
		assert.NilError(t, err, repo)
		assert.Assert(t, c == nil, "%s: not an ACR host, anonymous", repo)
	}
	assert.Assert(t, is.Len(f.log(), 0), "no call to Azure for other hosts")

	c, err := resolve(t, kc, acrRegistry+"/team/app")
	assert.NilError(t, err)
	assert.DeepEqual(t, *c, authn.AuthConfig{Username: "00000000-0000-0000-0000-000000000000", Password: refreshToken})

	token := f.form("/oauth2/v2.0/token")
	assert.Equal(t, token.Get("client_id"), clientID)
	assert.Equal(t, token.Get("client_secret"), clientSecret)
	assert.Equal(t, token.Get("grant_type"), "client_credentials")
	assert.Assert(t, is.Contains(token.Get("scope"), "https://containerregistry.azure.net/.default"))
	ex := f.form(acrRegistry + "/oauth2/exchange")
	assert.Equal(t, ex.Get("grant_type"), "access_token")
	assert.Equal(t, ex.Get("service"), acrRegistry)
	assert.Equal(t, ex.Get("access_token"), aadToken)
	assert.Equal(t, ex.Get("tenant"), tenantID)

	// Another repository of the registry reuses the refresh token.
	n := len(f.log())
	c, err = resolve(t, kc, acrRegistry+"/other")
	assert.NilError(t, err)
	assert.Equal(t, c.Password, refreshToken)
	assert.Equal(t, len(f.log()), n)
}

func TestACRKeychainSources(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	assert.NilError(t, os.WriteFile(tokenFile, []byte("federated-jwt-from-file"), 0o600))
	certFile := filepath.Join(dir, "cert.pem")
	assert.NilError(t, os.WriteFile(certFile, selfSignedPEM(t), 0o600))

	for _, tc := range []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, f *fakeAzure)
	}{{
		name: "workload identity token file",
		env:  map[string]string{"AZURE_FEDERATED_TOKEN_FILE": tokenFile},
		check: func(t *testing.T, f *fakeAzure) {
			form := f.form("/oauth2/v2.0/token")
			assert.Equal(t, form.Get("client_assertion"), "federated-jwt-from-file")
			assert.Equal(t, form.Get("client_id"), clientID)
		},
	}, {
		name: "federated token",
		env:  map[string]string{"AZURE_FEDERATED_TOKEN": "federated-jwt-from-env"},
		check: func(t *testing.T, f *fakeAzure) {
			assert.Equal(t, f.form("/oauth2/v2.0/token").Get("client_assertion"), "federated-jwt-from-env")
		},
	}, {
		name: "certificate",
		env:  map[string]string{"AZURE_CLIENT_CERTIFICATE_PATH": certFile},
		check: func(t *testing.T, f *fakeAzure) {
			form := f.form("/oauth2/v2.0/token")
			assert.Equal(t, form.Get("client_assertion_type"), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			assert.Assert(t, form.Get("client_assertion") != "")
		},
	}, {
		name: "secret in the China cloud",
		env:  map[string]string{"AZURE_CLIENT_SECRET": clientSecret, "AZURE_AUTHORITY_HOST": "", "AZURE_ENVIRONMENT": "AzureChinaCloud"},
		check: func(t *testing.T, f *fakeAzure) {
			assert.Assert(t, f.form("login.chinacloudapi.cn/"+tenantID+"/oauth2/v2.0/token") != nil, "%q", f.log())
		},
	}, {
		name: "managed identity",
		env:  map[string]string{"AZURE_TENANT_ID": "", "IDENTITY_ENDPOINT": "https://identity.example/msi/token", "IDENTITY_HEADER": "identity-header"},
		check: func(t *testing.T, f *fakeAzure) {
			form := f.form("identity.example/msi/token")
			assert.Equal(t, form.Get("resource"), "https://containerregistry.azure.net")
			assert.Equal(t, form.Get("client_id"), clientID)
			assert.Equal(t, f.form(acrRegistry+"/oauth2/exchange").Get("tenant"), "")
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFakeAzure(t)
			azureEnv(t, tc.env)
			c, err := resolve(t, registry.ACRKeychain(f.transport()), acrRegistry+"/app")
			assert.NilError(t, err)
			assert.DeepEqual(t, *c, authn.AuthConfig{Username: "00000000-0000-0000-0000-000000000000", Password: refreshToken})
			assert.Equal(t, f.form(acrRegistry+"/oauth2/exchange").Get("access_token"), aadToken)
			tc.check(t, f)
		})
	}
}

// selfSignedPEM is a certificate and its RSA key.
func selfSignedPEM(t *testing.T) []byte {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	assert.NilError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cocofy"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	assert.NilError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	assert.NilError(t, err)
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
}

// echoForm answers status with ACR's error shape, repeating the request
// form and headers.
func echoForm(status int) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		msg := fmt.Sprintf("denied %s; form %v; headers %v", r.PostForm.Encode(), r.PostForm, r.Header)
		w.WriteHeader(status)
		b, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": "UNAUTHORIZED", "message": msg}}})
		w.Write(b)
	}
}

func TestACRKeychainFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		exchange func(w http.ResponseWriter, r *http.Request)
		token    func(w http.ResponseWriter, r *http.Request)
		want     []string
	}{{
		name:     "exchange refused",
		exchange: echoForm(http.StatusUnauthorized),
		want:     []string{"ACR token exchange at https://myreg.azurecr.io/oauth2/exchange", "HTTP 401 Unauthorized", "UNAUTHORIZED denied"},
	}, {
		name: "exchange redirected",
		exchange: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://other.example/oauth2/exchange", http.StatusTemporaryRedirect)
		},
		want: []string{"ACR token exchange at https://myreg.azurecr.io/oauth2/exchange", "HTTP 307 Temporary Redirect (redirects are not followed)"},
	}, {
		name: "exchange answer too large",
		exchange: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"refresh_token":%q,"pad":"%s"}`, refreshToken, strings.Repeat("x", 2<<20))
		},
		want: []string{"ACR token exchange at https://myreg.azurecr.io/oauth2/exchange", "the answer of myreg.azurecr.io is larger than 1048576 bytes"},
	}, {
		name: "exchange without refresh token",
		exchange: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{}`)
		},
		want: []string{"ACR token exchange at https://myreg.azurecr.io/oauth2/exchange: the answer has no refresh_token"},
	}, {
		name: "secret refused by Entra",
		token: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided: %s\r\nTrace ID: 1"}`, r.PostForm.Get("client_secret"))
		},
		want: []string{"Azure credentials (service principal secret AZURE_CLIENT_SECRET) for myreg.azurecr.io", "HTTP 401 Unauthorized", "invalid_client: AADSTS7000215: Invalid client secret provided: REDACTED Trace ID: 1"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFakeAzure(t)
			f.exchange, f.token = tc.exchange, tc.token
			azureEnv(t, map[string]string{"AZURE_CLIENT_SECRET": clientSecret})
			_, err := resolve(t, registry.ACRKeychain(f.transport()), acrRegistry+"/app")
			assert.Assert(t, err != nil)
			for _, w := range tc.want {
				assert.Assert(t, is.Contains(err.Error(), w))
			}
			for _, secret := range []string{clientSecret, aadToken, refreshToken} {
				assert.Assert(t, !strings.Contains(err.Error(), secret), "%q in %q", secret, err)
			}
			for _, r := range f.log() {
				assert.Assert(t, !strings.Contains(r, "other.example"), "a redirect was followed")
			}
		})
	}
}

func TestACRKeychainUnknownCloud(t *testing.T) {
	f := startFakeAzure(t)
	azureEnv(t, map[string]string{"AZURE_CLIENT_SECRET": clientSecret, "AZURE_AUTHORITY_HOST": "", "AZURE_ENVIRONMENT": "AzureGermanCloud"})
	_, err := resolve(t, registry.ACRKeychain(f.transport()), acrRegistry+"/app")
	assert.Error(t, err, `Azure credentials for myreg.azurecr.io: AZURE_ENVIRONMENT "AzureGermanCloud" is none of AzurePublicCloud, AzureChinaCloud, AzureUSGovernmentCloud (or set AZURE_AUTHORITY_HOST)`)
	assert.Assert(t, is.Len(f.log(), 0))
}

// The refresh token is a password the Client records: a registry echoing
// it does not get it printed.
func TestACRKeychainTokenScrubbedByClient(t *testing.T) {
	f := startFakeAzure(t)
	azureEnv(t, map[string]string{"AZURE_CLIENT_SECRET": clientSecret})
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	c := registry.New(registry.Options{
		Keychain:  authn.NewMultiKeychain(authn.DefaultKeychain, registry.ACRKeychain(f.transport())),
		Transport: f.transport(),
	})
	_, err := c.Resolve(context.Background(), acrRegistry+"/app:1")
	assert.Assert(t, err != nil)
	assert.Assert(t, f.form(acrRegistry+"/oauth2/exchange") != nil, "the refresh token was used")
	assert.Assert(t, is.Contains(err.Error(), "DENIED: denied Basic REDACTED (REDACTED)"))
	for _, secret := range []string{clientSecret, aadToken, refreshToken} {
		assert.Assert(t, !strings.Contains(err.Error(), secret), "%q in %q", secret, err)
	}
}

func TestACRKeychainErrorsAreRemembered(t *testing.T) {
	f := startFakeAzure(t)
	f.exchange = echoForm(http.StatusUnauthorized)
	azureEnv(t, map[string]string{"AZURE_CLIENT_SECRET": clientSecret})
	kc := registry.ACRKeychain(f.transport())
	_, err1 := resolve(t, kc, acrRegistry+"/a")
	assert.Assert(t, err1 != nil)
	n := len(f.log())
	_, err2 := resolve(t, kc, acrRegistry+"/b")
	assert.Equal(t, err2, err1)
	assert.Equal(t, len(f.log()), n, "the failure is answered again without asking")
}

func TestACRKeychainContext(t *testing.T) {
	f := startFakeAzure(t)
	release := make(chan struct{})
	f.exchange = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		fmt.Fprintf(w, `{"refresh_token":%q}`, refreshToken)
	}
	azureEnv(t, map[string]string{"AZURE_CLIENT_SECRET": clientSecret})
	kc := registry.ACRKeychain(f.transport())
	repo, err := name.NewRepository(acrRegistry + "/app")
	assert.NilError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = authn.Resolve(ctx, kc, repo)
	assert.Assert(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	assert.Assert(t, time.Since(start) < 5*time.Second)

	// The caller gave up: nothing is remembered, the next one asks again.
	close(release)
	a, err := authn.Resolve(context.Background(), kc, repo)
	assert.NilError(t, err)
	c, err := a.Authorization()
	assert.NilError(t, err)
	assert.Equal(t, c.Password, refreshToken)
}
