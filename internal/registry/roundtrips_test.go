package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/registry"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// counting is a transport that counts the requests cocofy sends, by
// method, scheme and path ("GET http /v2/").
type counting struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func newCounting() *counting {
	return &counting{next: remote.DefaultTransport, n: map[string]int{}}
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[req.Method+" "+req.URL.Scheme+" "+req.URL.Path]++
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

// count returns how many requests had a key with prefix and suffix.
func (c *counting) count(prefix, suffix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, v := range c.n {
		if strings.HasPrefix(k, prefix) && strings.HasSuffix(k, suffix) {
			n += v
		}
	}
	return n
}

// manyRepos pushes repos x tags images and returns their references.
func manyRepos(t *testing.T, reg *registrytest.Registry, repos, tags int) []string {
	var refs []string
	for r := range repos {
		for tag := range tags {
			ref := fmt.Sprintf("team%d/app:%d", r, tag)
			reg.Push(t, ref, registrytest.Image(t, ref, "linux/amd64", v1.Config{}))
			refs = append(refs, reg.Ref(ref))
		}
	}
	return refs
}

// resolveAll resolves refs 16 at a time, as the pipeline does.
func resolveAll(t *testing.T, c *registry.Client, refs []string) {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(16)
	for _, ref := range refs {
		g.Go(func() error {
			_, err := c.Resolve(context.Background(), ref)
			return err
		})
	}
	assert.NilError(t, g.Wait())
}

// The /v2/ probe goes to a registry host once per client, whatever the
// number of repositories, and each image takes one GET.
func TestOneProbePerHost(t *testing.T) {
	t.Parallel()
	for name, auth := range map[string]bool{"anonymous": false, "basic": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var opts []registrytest.Option
			kc := authn.Keychain(anon)
			if auth {
				opts = append(opts, registrytest.WithBasicAuth("ci", "s3cret-token"))
			}
			reg := registrytest.Start(t, opts...)
			if auth {
				kc = staticKeychain{host: reg.Host, auth: authn.FromConfig(authn.AuthConfig{Username: "ci", Password: "s3cret-token"})}
			}
			refs := manyRepos(t, reg, 5, 3)
			rt := newCounting()
			c := registry.New(registry.Options{Keychain: kc, Transport: rt})
			resolveAll(t, c, refs)
			resolveAll(t, c, refs)
			assert.Equal(t, rt.count("GET http /v2/", "/v2/"), 1, "plain probes: %v", rt.n)
			// A loopback host is tried over HTTPS first; that fails, once.
			assert.Equal(t, rt.count("GET https /v2/", "/v2/"), 1, "HTTPS probes: %v", rt.n)
			assert.Equal(t, rt.count("HEAD ", ""), 0, "%v", rt.n)
			assert.Equal(t, rt.count("GET http /v2/team", ""), 2*len(refs), "%v", rt.n)
		})
	}
}

// With bearer tokens, the probe still goes out once per host, and a token
// is asked once per repository (its scope names the repository).
func TestOneProbePerHostWithTokens(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	refs := manyRepos(t, reg, 4, 2)
	var mu sync.Mutex
	tokens := map[string]int{}
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/token" {
			scope := r.URL.Query().Get("scope")
			mu.Lock()
			tokens[scope]++
			mu.Unlock()
			fmt.Fprintf(w, `{"token":%q}`, "tok "+scope)
			return true
		}
		repo, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/")
		if r.URL.Path == "/v2/" || r.Header.Get("Authorization") != "Bearer tok repository:"+repo+":pull" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+reg.Host+`/token",service="registrytest"`)
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		return false
	})
	rt := newCounting()
	c := registry.New(registry.Options{Keychain: anon, Transport: rt})
	resolveAll(t, c, refs)
	assert.Equal(t, rt.count("GET http /v2/", "/v2/"), 1, "%v", rt.n)
	assert.Equal(t, len(tokens), 4, "%v", tokens)
	for scope, n := range tokens {
		assert.Equal(t, n, 1, "tokens for %s: %v", scope, tokens)
	}
	assert.Equal(t, rt.count("HEAD ", ""), 0, "%v", rt.n)
	assert.Equal(t, rt.count("GET http /v2/team", ""), len(refs), "%v", rt.n)
}

// Resolving an image takes one request, a GET of its manifest, whether it
// is named by tag, by digest, or is an index (whose platform manifests are
// not read).
func TestResolveIsOneRequest(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	d := reg.Push(t, "app:1", registrytest.Image(t, "app", "linux/amd64", v1.Config{}))
	di := reg.Push(t, "multi:1", registrytest.Index(t, "multi", v1.Config{}, "linux/amd64", "linux/arm64"))
	rt := newCounting()
	c := registry.New(registry.Options{Keychain: anon, Transport: rt})
	for ref, want := range map[string]string{"app:1": d, "app@" + d: d, "multi:1": di} {
		rt.mu.Lock()
		clear(rt.n)
		rt.mu.Unlock()
		pin, err := c.Resolve(context.Background(), reg.Ref(ref))
		assert.NilError(t, err)
		assert.Equal(t, pin.Digest, want)
		probes := rt.count("GET http /v2/", "/v2/") + rt.count("GET https /v2/", "/v2/") // the first image's
		assert.Equal(t, rt.count("", "")-probes, 1, "%s: %v", ref, rt.n)
	}
	assert.Equal(t, rt.count("HEAD ", ""), 0)
}
