package registry_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/registry"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// stall answers a GET whose path ends in suffix with its headers and half
// of body, then sends nothing until the client gives up.
func stall(suffix string, body []byte) registrytest.Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, suffix) {
			return false
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		return true
	}
}

// A body that stops coming fails after the idle timeout, whether it is a
// manifest or a blob.
func TestStalledBodiesFail(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	img := registrytest.Image(t, "app", "linux/amd64", v1.Config{Cmd: []string{"run"}})
	d := reg.Push(t, "app:1", img)
	manifest, err := img.RawManifest()
	assert.NilError(t, err)
	cfgName, err := img.ConfigName()
	assert.NilError(t, err)
	cfg, err := img.RawConfigFile()
	assert.NilError(t, err)
	c := registry.New(registry.Options{Keychain: anon, IdleTimeout: 300 * time.Millisecond})
	ctx := context.Background()

	reg.SetFault(stall("/manifests/1", manifest))
	start := time.Now()
	_, err = c.Resolve(ctx, reg.Ref("app:1"))
	assert.ErrorContains(t, err, "GET http://"+reg.Host+"/v2/app/manifests/1: the download stalled: no data for 300ms")
	assert.Assert(t, time.Since(start) < 10*time.Second, "took %s", time.Since(start))

	reg.SetFault(stall("/blobs/"+cfgName.String(), cfg))
	start = time.Now()
	_, err = c.Inspect(ctx, reg.Ref("app@"+d), "linux/amd64")
	assert.ErrorContains(t, err, "/blobs/"+cfgName.String()+": the download stalled: no data for 300ms")
	assert.Assert(t, time.Since(start) < 10*time.Second, "took %s", time.Since(start))

	// A slow but steady body is fine, even when it takes longer than the
	// idle timeout in all: only a read that gets nothing counts.
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/manifests/1") {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
		w.Header().Set("Content-Length", strconv.Itoa(len(manifest)))
		w.WriteHeader(http.StatusOK)
		step := len(manifest)/10 + 1
		for i := 0; i < len(manifest); i += step {
			_, _ = w.Write(manifest[i:min(i+step, len(manifest))])
			w.(http.Flusher).Flush()
			time.Sleep(300 * time.Millisecond)
		}
		return true
	})
	c = registry.New(registry.Options{Keychain: anon, IdleTimeout: 2 * time.Second})
	start = time.Now()
	pin, err := c.Resolve(ctx, reg.Ref("app:1"))
	assert.NilError(t, err)
	assert.Equal(t, pin.Digest, d)
	assert.Assert(t, time.Since(start) > 2*time.Second, "the body took %s, not longer than the idle timeout", time.Since(start))
}
