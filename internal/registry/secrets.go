package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
)

// secrets are the credentials a Client has handed to go-containerregistry
// or sent in Authorization headers: what the keychain gave (user:password,
// the password, the base64 blob of a basic header, identity and registry
// tokens) and every bearer token obtained with them. A registry that
// echoes a request in an error body must not get them printed, so every
// error text a Client returns is scrubbed of them (see scrub).
type secrets struct {
	mu   sync.RWMutex
	vals []string // longest first
}

// add records credentials; empty ones are ignored.
func (s *secrets) add(vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range vals {
		if v == "" {
			continue
		}
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v), jsonEscape(v)} {
			if !slices.Contains(s.vals, form) {
				s.vals = append(s.vals, form)
			}
		}
	}
	slices.SortFunc(s.vals, func(a, b string) int { return len(b) - len(a) })
}

func jsonEscape(v string) string {
	b, _ := json.Marshal(v)
	return string(b[1 : len(b)-1])
}

// addConfig records what an authenticator handed out.
func (s *secrets) addConfig(c *authn.AuthConfig) {
	if c == nil {
		return
	}
	s.add(c.Password, c.Auth, c.IdentityToken, c.RegistryToken)
	if c.Username != "" || c.Password != "" {
		up := c.Username + ":" + c.Password
		s.add(up, base64.StdEncoding.EncodeToString([]byte(up)))
	}
	if b, err := base64.StdEncoding.DecodeString(c.Auth); err == nil {
		up := string(b)
		_, pass, _ := strings.Cut(up, ":")
		s.add(up, pass)
	}
}

// addHeader records the credentials of an Authorization header value.
func (s *secrets) addHeader(h string) {
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok {
		s.add(h)
		return
	}
	cred = strings.TrimSpace(cred)
	if strings.EqualFold(scheme, "basic") {
		s.addConfig(&authn.AuthConfig{Auth: cred})
		return
	}
	s.add(cred)
}

// Credentials a registry may send back or echo that this client never
// handled itself: tokens in token-service answers, form fields of an
// OAuth2 request, Authorization header values.
var (
	jsonSecret   = regexp.MustCompile(`(?i)("(?:token|access_token|refresh_token|id_token|identitytoken|registrytoken|password|secret|client_secret)"\s*:\s*")[^"]*(")`)
	formSecret   = regexp.MustCompile(`(?i)\b((?:refresh_token|access_token|password|client_secret)=)[^&\s"]+`)
	headerSecret = regexp.MustCompile(`(?i)\b(basic|bearer)(\s+)[A-Za-z0-9._~+/-]{8,}=*`)
)

// scrub replaces every recorded credential in text, and anything shaped
// like one, with REDACTED.
func (s *secrets) scrub(text string) string {
	s.mu.RLock()
	for _, v := range s.vals {
		text = strings.ReplaceAll(text, v, "REDACTED")
	}
	s.mu.RUnlock()
	text = jsonSecret.ReplaceAllString(text, "${1}REDACTED${2}")
	text = formSecret.ReplaceAllString(text, "${1}REDACTED")
	return headerSecret.ReplaceAllString(text, "${1}${2}REDACTED")
}

// err returns err with its text scrubbed (and URLs redacted, see Redact).
// The chain is kept for errors.Is and errors.As.
func (s *secrets) err(err error) error {
	if err == nil {
		return nil
	}
	msg := s.scrub(Redact(err).Error())
	if msg == err.Error() {
		return err
	}
	return redacted{msg: msg, err: err}
}

// recordingKeychain records the credentials its keychain hands out.
type recordingKeychain struct {
	kc authn.Keychain
	s  *secrets
}

func (k recordingKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k recordingKeychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	a, err := authn.Resolve(ctx, k.kc, r)
	if err != nil || a == authn.Anonymous {
		return a, err
	}
	return recordingAuth{a: a, s: k.s}, nil
}

type recordingAuth struct {
	a authn.Authenticator
	s *secrets
}

func (r recordingAuth) Authorization() (*authn.AuthConfig, error) {
	return r.AuthorizationContext(context.Background())
}

func (r recordingAuth) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	c, err := authn.Authorization(ctx, r.a)
	r.s.addConfig(c)
	return c, err
}

// recordAuthorization records the Authorization header of every request,
// which carries the bearer tokens go-containerregistry obtained.
type recordAuthorization struct {
	next http.RoundTripper
	s    *secrets
}

func (t recordAuthorization) RoundTrip(req *http.Request) (*http.Response, error) {
	if h := req.Header.Get("Authorization"); h != "" {
		t.s.addHeader(h)
	}
	return t.next.RoundTrip(req)
}
