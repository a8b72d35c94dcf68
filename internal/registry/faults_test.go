package registry_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/registry"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// manifests matches manifest requests of repo "app".
func manifests(r *http.Request) bool { return strings.Contains(r.URL.Path, "/app/manifests/") }

// failFirst answers the first n manifest requests with method (any method
// if "") with answer, and counts those requests.
func failFirst(method string, n int64, answer func(w http.ResponseWriter)) (registrytest.Fault, *atomic.Int64) {
	var seen atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) bool {
		if !manifests(r) || method != "" && r.Method != method || seen.Add(1) > n {
			return false
		}
		answer(w)
		return true
	}, &seen
}

func faultyRegistry(t *testing.T) (*registrytest.Registry, string) {
	reg := registrytest.Start(t)
	d := reg.Push(t, "app:1", registrytest.Image(t, "app", "linux/amd64", v1.Config{Cmd: []string{"x"}}))
	return reg, d
}

func TestFaultsThatFail(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fault registrytest.Fault
		want  string
	}{
		{"403", func(w http.ResponseWriter, r *http.Request) bool {
			if manifests(r) {
				w.WriteHeader(http.StatusForbidden)
				return true
			}
			return false
		}, "403 Forbidden: the credentials for"},
		{"429 with a long Retry-After", func(w http.ResponseWriter, r *http.Request) bool {
			if manifests(r) {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			}
			return false
		}, "429 Too Many Requests"},
		{"connection reset", func(w http.ResponseWriter, r *http.Request) bool {
			if manifests(r) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
				return true
			}
			return false
		}, "EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			reg, _ := faultyRegistry(t)
			reg.SetFault(c.fault)
			_, err := registry.New(registry.Options{Keychain: anon}).Resolve(context.Background(), reg.Ref("app:1"))
			assert.ErrorContains(t, err, "resolving "+reg.Ref("app:1"))
			assert.ErrorContains(t, err, c.want)
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	reg, d := faultyRegistry(t)
	fault, seen := failFirst(http.MethodGet, 2, func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	reg.SetFault(fault)
	start := time.Now()
	pin, err := registry.New(registry.Options{Keychain: anon}).Resolve(context.Background(), reg.Ref("app:1"))
	assert.NilError(t, err)
	assert.Equal(t, pin.Digest, d)
	assert.Equal(t, seen.Load(), int64(3), "two GETs answered 429, then the one answered")
	assert.Assert(t, time.Since(start) >= 2*time.Second, "waited %s", time.Since(start))
}

func TestServerErrorsAreRetried(t *testing.T) {
	t.Parallel()
	reg, d := faultyRegistry(t)
	fault, seen := failFirst(http.MethodGet, 2, func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	reg.SetFault(fault)
	pin, err := registry.New(registry.Options{Keychain: anon}).Resolve(context.Background(), reg.Ref("app:1"))
	assert.NilError(t, err)
	assert.Equal(t, pin.Digest, d)
	assert.Equal(t, seen.Load(), int64(3), "two GETs answered 503, then the one answered")

	// A registry that keeps failing gives up after the retries, in bounded time.
	fault, _ = failFirst("", 1000, func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) })
	reg.SetFault(fault)
	start := time.Now()
	_, err = registry.New(registry.Options{Keychain: anon}).Resolve(context.Background(), reg.Ref("app:1"))
	assert.ErrorContains(t, err, "500 Internal Server Error")
	assert.Assert(t, time.Since(start) < 15*time.Second)
}

func TestHangingRegistryTimesOut(t *testing.T) {
	reg, _ := faultyRegistry(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if manifests(r) {
			<-release
			return true
		}
		return false
	})
	c := registry.New(registry.Options{Keychain: anon, ResponseTimeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := c.Resolve(context.Background(), reg.Ref("app:1"))
	assert.ErrorContains(t, err, "timeout awaiting response headers")
	assert.Assert(t, time.Since(start) < 10*time.Second)
}

// A registry that serves another manifest than the digest asked for is
// caught: go-containerregistry hashes the body.
func TestManifestDigestMismatch(t *testing.T) {
	reg, d := faultyRegistry(t)
	reg.Push(t, "app:2", registrytest.Image(t, "other", "linux/amd64", v1.Config{}))
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/app/manifests/"+d) {
			r.URL.Path = strings.TrimSuffix(r.URL.Path, d) + "2" // serve app:2's manifest instead
		}
		return false
	})
	_, err := registry.New(registry.Options{Keychain: anon}).Inspect(context.Background(), reg.Ref("app:1@"+d), "linux/amd64")
	assert.ErrorContains(t, err, "does not match requested digest")
}

// A registry that refuses HEAD is fine: resolving asks with GET only, and
// the body is hashed.
func TestHeadRefused(t *testing.T) {
	reg, d := faultyRegistry(t)
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodHead && manifests(r) {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return true
		}
		return false
	})
	pin, err := registry.New(registry.Options{Keychain: anon}).Resolve(context.Background(), reg.Ref("app:1"))
	assert.NilError(t, err)
	assert.Equal(t, pin.Digest, d)
}
