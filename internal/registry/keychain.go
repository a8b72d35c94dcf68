package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Keychain is where credentials come from by default: the docker config and
// its credential helpers (which covers `docker login` and `az acr login`),
// then, for ACR hosts (*.azurecr.io, *.azurecr.cn, *.azurecr.us) and only
// when AZURE_CLIENT_ID is set, a Microsoft Entra token from the environment
// exchanged for an ACR refresh token (see acrKeychain). Without
// AZURE_CLIENT_ID no Azure endpoint is ever contacted.
func Keychain() authn.Keychain {
	if os.Getenv("AZURE_CLIENT_ID") == "" {
		return authn.DefaultKeychain
	}
	return authn.NewMultiKeychain(authn.DefaultKeychain, newACRKeychain(nil))
}

const (
	// acrScope is the Entra scope of ACR's data plane, in every cloud (as
	// azcontainerregistry uses it). A token for it is accepted even where
	// a registry refuses ARM-audience tokens.
	acrScope = "https://containerregistry.azure.net/.default"
	// acrUsername goes with an ACR refresh token as the password (what
	// `az acr login --expose-token` prints).
	acrUsername = "00000000-0000-0000-0000-000000000000"
	// acrTimeout bounds getting the Entra token and exchanging it.
	acrTimeout = 30 * time.Second
	// acrReuse is how long a refresh token is reused at most (ACR's last
	// about 3 hours; a shorter expiry in the token itself wins).
	acrReuse = 30 * time.Minute
	// acrErrorReuse is how long a failure is answered again without
	// asking Azure (many repositories of one registry resolve at once).
	acrErrorReuse = time.Minute
	// maxAzureResponse bounds every response body from Entra, the
	// managed identity endpoint and the ACR token exchange.
	maxAzureResponse = 1 << 20
)

// acrSuffixes are the login server domains of ACR in the Azure clouds.
var acrSuffixes = []string{".azurecr.io", ".azurecr.cn", ".azurecr.us"}

// acrHost returns the host name of registry (host[:port]) when it is an
// ACR login server.
func acrHost(registry string) (string, bool) {
	u, err := url.Parse("https://" + registry)
	if err != nil || u.Host != registry || u.User != nil {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	for _, s := range acrSuffixes {
		if name, ok := strings.CutSuffix(host, s); ok && name != "" && !strings.HasSuffix(name, ".") {
			return host, true
		}
	}
	return "", false
}

// acrKeychain answers for ACR hosts with username acrUsername and an ACR
// refresh token as the password. The refresh token comes from the
// registry's own token endpoint (POST https://<registry>/oauth2/exchange,
// with azcontainerregistry's AuthenticationClient) for a Microsoft Entra
// token (azidentity) from, in this order:
//
//   - a service principal: AZURE_TENANT_ID with AZURE_CLIENT_SECRET or
//     AZURE_CLIENT_CERTIFICATE_PATH (and AZURE_CLIENT_CERTIFICATE_PASSWORD);
//   - a federated token (workload identity): AZURE_TENANT_ID with
//     AZURE_FEDERATED_TOKEN, or AZURE_FEDERATED_TOKEN_FILE;
//   - otherwise the managed identity with client ID AZURE_CLIENT_ID.
//
// AZURE_AUTHORITY_HOST, or AZURE_ENVIRONMENT (AzurePublicCloud,
// AzureChinaCloud, AzureUSGovernmentCloud), selects the Entra cloud.
//
// Redirects are not followed, response bodies are bounded, and neither the
// Entra token, the refresh token nor the environment's secrets appear in
// an error. A refresh token is reused per registry, a failure for a minute.
type acrKeychain struct {
	client *http.Client // every request to Azure
	// secrets are scrubbed from every error text: the environment's
	// secrets and the tokens obtained.
	secrets *secrets

	credOnce sync.Once
	cred     azcore.TokenCredential
	source   string // which credential, for errors
	credErr  error

	mu   sync.Mutex
	regs map[string]*acrToken
}

// acrToken is the refresh token of one registry.
type acrToken struct {
	lock     chan struct{} // held while asking Azure
	password string
	expires  time.Time
	err      error
}

// newACRKeychain returns an acrKeychain whose requests go through rt; nil
// means go-containerregistry's default transport (HTTPS_PROXY,
// SSL_CERT_FILE) with DefaultResponseTimeout.
func newACRKeychain(rt http.RoundTripper) *acrKeychain {
	if rt == nil {
		t := remote.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = DefaultResponseTimeout
		rt = t
	}
	return &acrKeychain{
		client: &http.Client{
			Transport: limitBodies{next: rt, limit: maxAzureResponse},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		secrets: &secrets{},
		regs:    map[string]*acrToken{},
	}
}

func (k *acrKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k *acrKeychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	registry := r.RegistryStr()
	host, ok := acrHost(registry)
	if !ok {
		return authn.Anonymous, nil
	}
	k.mu.Lock()
	t := k.regs[registry]
	if t == nil {
		t = &acrToken{lock: make(chan struct{}, 1)}
		k.regs[registry] = t
	}
	k.mu.Unlock()
	select {
	case t.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-t.lock }()
	now := time.Now()
	if now.Before(t.expires) {
		if t.err != nil {
			return nil, t.err
		}
		return &authn.Basic{Username: acrUsername, Password: t.password}, nil
	}
	password, err := k.exchange(ctx, registry, host)
	if err != nil {
		t.password = ""
		t.err = err
		t.expires = now.Add(acrErrorReuse)
		if ctx.Err() != nil {
			t.expires = time.Time{} // the caller gave up: not a failure to remember
		}
		return nil, err
	}
	t.password, t.err, t.expires = password, nil, refreshExpiry(password, now)
	return &authn.Basic{Username: acrUsername, Password: password}, nil
}

// exchange gets an Entra token and trades it for a refresh token of
// registry at the registry itself.
func (k *acrKeychain) exchange(ctx context.Context, registry, host string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, acrTimeout)
	defer cancel()
	cred, err := k.credential()
	if err != nil {
		return "", k.fail(fmt.Sprintf("Azure credentials for %s", registry), err.Error(), nil)
	}
	aad, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{acrScope}})
	if err != nil {
		return "", k.fail(fmt.Sprintf("Azure credentials (%s) for %s: getting a token for %s", k.source, registry, acrScope), detail(err), ctx.Err())
	}
	k.secrets.add(aad.Token)

	endpoint := "https://" + registry
	what := fmt.Sprintf("ACR token exchange at %s/oauth2/exchange", endpoint)
	client, err := azcontainerregistry.NewAuthenticationClient(endpoint, &azcontainerregistry.AuthenticationClientOptions{
		ClientOptions: azcore.ClientOptions{
			Transport: k.client,
			Retry:     policy.RetryOptions{MaxRetries: 2, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 5 * time.Second},
			Telemetry: policy.TelemetryOptions{ApplicationID: "cocofy"},
		},
	})
	if err != nil {
		return "", k.fail(what, err.Error(), nil)
	}
	opts := &azcontainerregistry.AuthenticationClientExchangeAADAccessTokenForACRRefreshTokenOptions{AccessToken: &aad.Token}
	if tenant := os.Getenv("AZURE_TENANT_ID"); tenant != "" {
		opts.Tenant = &tenant
	}
	resp, err := client.ExchangeAADAccessTokenForACRRefreshToken(ctx, azcontainerregistry.PostContentSchemaGrantTypeAccessToken, host, opts)
	if err != nil {
		return "", k.fail(what, detail(err), ctx.Err())
	}
	if resp.RefreshToken == nil || *resp.RefreshToken == "" {
		return "", k.fail(what, "the answer has no refresh_token", nil)
	}
	k.secrets.add(*resp.RefreshToken)
	return *resp.RefreshToken, nil
}

// fail returns the error "what: detail", scrubbed of every secret known;
// it wraps cause (a context error, or nil) and nothing else, so that no
// unscrubbed text is reachable from it.
func (k *acrKeychain) fail(what, detail string, cause error) error {
	return redacted{msg: k.secrets.scrub(Redact(errors.New(what + ": " + detail)).Error()), err: cause}
}

// credential returns the Entra credential the environment describes,
// made on first use.
func (k *acrKeychain) credential() (azcore.TokenCredential, error) {
	k.credOnce.Do(func() {
		k.cred, k.source, k.credErr = azureCredential(k.client, k.secrets)
	})
	return k.cred, k.credErr
}

func azureCredential(client *http.Client, s *secrets) (azcore.TokenCredential, string, error) {
	cc, err := azureCloud()
	if err != nil {
		return nil, "", err
	}
	o := azcore.ClientOptions{Cloud: cc, Transport: client, Telemetry: policy.TelemetryOptions{ApplicationID: "cocofy"}}
	clientID, tenantID := os.Getenv("AZURE_CLIENT_ID"), os.Getenv("AZURE_TENANT_ID")
	switch {
	case os.Getenv("AZURE_CLIENT_SECRET") != "" || os.Getenv("AZURE_CLIENT_CERTIFICATE_PATH") != "":
		source := "service principal certificate AZURE_CLIENT_CERTIFICATE_PATH"
		if os.Getenv("AZURE_CLIENT_SECRET") != "" {
			source = "service principal secret AZURE_CLIENT_SECRET"
		}
		s.add(os.Getenv("AZURE_CLIENT_SECRET"), os.Getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD"))
		c, err := azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{ClientOptions: o})
		return c, source, wrapSource(source, err)
	case os.Getenv("AZURE_FEDERATED_TOKEN") != "":
		const source = "federated token AZURE_FEDERATED_TOKEN"
		token := os.Getenv("AZURE_FEDERATED_TOKEN")
		s.add(token)
		if tenantID == "" {
			return nil, source, errors.New(source + ": AZURE_TENANT_ID is not set")
		}
		c, err := azidentity.NewClientAssertionCredential(tenantID, clientID,
			func(context.Context) (string, error) { return token, nil },
			&azidentity.ClientAssertionCredentialOptions{ClientOptions: o})
		return c, source, wrapSource(source, err)
	case os.Getenv("AZURE_FEDERATED_TOKEN_FILE") != "":
		const source = "workload identity token file AZURE_FEDERATED_TOKEN_FILE"
		if b, err := os.ReadFile(os.Getenv("AZURE_FEDERATED_TOKEN_FILE")); err == nil {
			s.add(strings.TrimSpace(string(b)))
		}
		c, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: o})
		return c, source, wrapSource(source, err)
	default:
		const source = "managed identity AZURE_CLIENT_ID"
		c, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: o, ID: azidentity.ClientID(clientID)})
		return c, source, wrapSource(source, err)
	}
}

func wrapSource(source string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", source, err)
}

// azureCloud is the Entra cloud AZURE_ENVIRONMENT names (as go-autorest
// read it); AZURE_AUTHORITY_HOST, which azidentity reads, wins.
func azureCloud() (cloud.Configuration, error) {
	if os.Getenv("AZURE_AUTHORITY_HOST") != "" {
		return cloud.Configuration{}, nil
	}
	switch env := os.Getenv("AZURE_ENVIRONMENT"); strings.ToUpper(env) {
	case "", "AZUREPUBLICCLOUD":
		return cloud.Configuration{}, nil
	case "AZURECHINACLOUD":
		return cloud.AzureChina, nil
	case "AZUREUSGOVERNMENTCLOUD":
		return cloud.AzureGovernment, nil
	default:
		return cloud.Configuration{}, fmt.Errorf("AZURE_ENVIRONMENT %q is none of AzurePublicCloud, AzureChinaCloud, AzureUSGovernmentCloud (or set AZURE_AUTHORITY_HOST)", env)
	}
}

// detail describes a failed request to Entra or ACR in one line: the
// status and the service's error code and message, not the whole answer.
func detail(err error) string {
	var resp *http.Response
	var re *azcore.ResponseError
	var ae *azidentity.AuthenticationFailedError
	switch {
	case errors.As(err, &re):
		resp = re.RawResponse
	case errors.As(err, &ae):
		resp = ae.RawResponse
	}
	if resp == nil {
		return oneLine(err.Error(), 500)
	}
	d := resp.Status
	if d == "" {
		d = fmt.Sprint(resp.StatusCode)
	}
	d = "HTTP " + strings.TrimPrefix(d, "HTTP ")
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		d += " (redirects are not followed)"
	}
	body, _ := runtime.Payload(resp)
	var answer struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
		Error       any    `json:"error"` // a string from Entra, an object from managed identity endpoints
		Description string `json:"error_description"`
		Message     string `json:"message"`
	}
	if json.Unmarshal(body, &answer) != nil {
		return d
	}
	var parts []string
	for _, e := range answer.Errors {
		parts = append(parts, strings.TrimSpace(e.Code+" "+e.Message))
	}
	switch e := answer.Error.(type) {
	case string:
		parts = append(parts, e)
	case map[string]any:
		for _, key := range []string{"code", "message"} {
			if v, ok := e[key].(string); ok {
				parts = append(parts, v)
			}
		}
	}
	parts = append(parts, answer.Description, answer.Message)
	var msg []string
	for _, p := range parts {
		if p != "" {
			msg = append(msg, p)
		}
	}
	if len(msg) > 0 {
		d += ": " + oneLine(strings.Join(msg, ": "), 500)
	}
	return d
}

// oneLine joins the lines of s and cuts it to at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

// refreshExpiry is when a refresh token obtained at now is no longer
// reused: acrReuse later, or five minutes before the expiry the token
// (a JWT) states, whichever comes first.
func refreshExpiry(token string, now time.Time) time.Time {
	exp := now.Add(acrReuse)
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return exp
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return exp
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(b, &claims) != nil || claims.Exp <= 0 {
		return exp
	}
	if t := time.Unix(claims.Exp, 0).Add(-5 * time.Minute); t.Before(exp) {
		return t
	}
	return exp
}

// limitBodies fails reading a response body beyond limit bytes.
type limitBodies struct {
	next  http.RoundTripper
	limit int64
}

func (l limitBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(req)
	if err != nil || resp.Body == nil || resp.Body == http.NoBody {
		return resp, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: l.limit, limit: l.limit, host: req.URL.Host}
	return resp, nil
}

type limitedBody struct {
	rc          io.ReadCloser
	left, limit int64
	host        string
	err         error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left <= 0 {
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n == 0 {
			return 0, err
		}
		b.err = fmt.Errorf("the answer of %s is larger than %d bytes", b.host, b.limit)
		return 0, b.err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
