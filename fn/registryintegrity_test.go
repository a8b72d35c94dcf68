package fn_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// twoContainers is a pod with a good image and image, the bad one.
func twoContainers(good, image string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers:\n  - name: ok\n    image: " +
		good + "\n    resources: {limits: {cpu: 100m, memory: 256Mi}}\n  - name: bad\n    image: " + image +
		"\n    resources: {limits: {cpu: 100m, memory: 256Mi}}\n"
}

// failure runs the command, which must fail with the bad container's
// image named and nothing written, within a bounded time, and checks the
// message against testdata/registry/errors/<name>.golden.
func failure(t *testing.T, reg *registrytest.Registry, in, name, desc, want string, args ...string) string {
	t.Helper()
	type result struct {
		out, stderr string
		err         error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		out, stderr, err := runWith(t, fn.RegistryDeps, in, args...)
		done <- result{out, stderr, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("no answer after %s", time.Since(start))
	}
	assert.Assert(t, r.err != nil, "want an error, got:\n%s", r.out)
	assert.Equal(t, r.out, "", "nothing on stdout")
	prefix := "error: Pod ns/p: spec.containers[name=bad].image: "
	assert.Assert(t, strings.Contains(r.stderr, prefix), "want %q in:\n%s", prefix, r.stderr)
	assert.Assert(t, strings.Contains(r.stderr, want), "want %q in:\n%s", want, r.stderr)
	assert.Assert(t, !strings.Contains(r.stderr, "[name=ok]"), "only the bad container:\n%s", r.stderr)
	msg := strings.ReplaceAll(r.stderr+"cocofy: "+r.err.Error()+"\n", reg.Host, "REGISTRY")
	golden.Assert(t, "# "+desc+"\n"+msg, filepath.Join("registry", "errors", name+".golden"))
	return r.stderr
}

// A registry that echoes the request's Authorization header in an error
// body gets no credential printed.
func TestEchoedCredentialsAreNotPrinted(t *testing.T) {
	t.Setenv("COCOFY_CACHE_DIR", "off")
	const user, pass = "ci", "hunter2-token"
	reg := registrytest.Start(t, registrytest.WithBasicAuth(user, pass))
	reg.Push(t, "shop/good:1", registrytest.Image(t, "good", "linux/amd64", v1.Config{}))
	reg.Push(t, "shop/echo:1", registrytest.Image(t, "echo", "linux/amd64", v1.Config{}))
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/shop/echo/manifests/") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":%q}]}`, "denied "+r.Header.Get("Authorization")+" for "+user+":"+pass)
		return true
	})
	dc := t.TempDir()
	blob := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	assert.NilError(t, os.WriteFile(filepath.Join(dc, "config.json"), []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+blob+`"}}}`), 0o600))
	t.Setenv("DOCKER_CONFIG", dc)

	for _, cfg := range []string{vnConfig(t), registryConfig} {
		stderr := failure(t, reg, twoContainers(reg.Ref("shop/good:1"), reg.Ref("shop/echo:1")), "credentials-echoed",
			"A registry that echoes the request's credentials in a 403 body (here the basic auth header of the docker config): every credential is scrubbed",
			"DENIED: denied Basic REDACTED for REDACTED", "--config", cfg)
		for _, s := range []string{pass, blob} {
			assert.Assert(t, !strings.Contains(stderr, s), "%q printed:\n%s", s, stderr)
		}
	}
}

// A wrong Docker-Content-Digest, on a HEAD answer or on the manifest's own,
// does not pin the image to a digest the registry does not serve: the pin
// is the digest of the manifest's bytes.
func TestWrongDigestHeaderIsNotPinned(t *testing.T) {
	reg := shopRegistry(t)
	absent := "sha256:" + strings.Repeat("cd", 32)
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/shop/web/manifests/1") {
			return false
		}
		w.Header().Set("Docker-Content-Digest", absent)
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
			w.Header().Set("Content-Length", "500")
			w.WriteHeader(http.StatusOK)
			return true
		}
		return false
	})
	out, stderr, err := runWith(t, fn.RegistryDeps, twoContainers(reg.Ref("shop/web:2"), reg.Ref("shop/web:1")), "--config", registryConfig)
	assert.NilError(t, err, stderr)
	want := registrytest.MustDigest(t, registrytest.Image(t, "web1", "linux/amd64", v1.Config{Cmd: []string{"/web"}}))
	assert.Assert(t, strings.Contains(out, reg.Ref("shop/web:1")+"@"+want), out)
	assert.Assert(t, !strings.Contains(out+stderr, absent), out+stderr)
}

// A layer download that stalls after its headers fails after the idle
// timeout, naming the container, instead of hanging the render.
func TestStalledLayerDownloadFails(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
	t.Cleanup(fn.SetIdleTimeout(time.Second))
	reg := registrytest.Start(t)
	reg.Push(t, "shop/good:1", registrytest.Image(t, "good", "linux/amd64", v1.Config{}))
	stalled := registrytest.Image(t, "stalled", "linux/amd64", v1.Config{}, bigLayer(t))
	reg.Push(t, "shop/stalled:1", stalled)
	digest, blob := layerBlob(t, stalled)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+digest) {
			return false
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(blob[:len(blob)/2])
		w.(http.Flusher).Flush()
		select { // then nothing, until the client gives up
		case <-r.Context().Done():
		case <-release:
		}
		return true
	})
	start := time.Now()
	failure(t, reg, twoContainers(reg.Ref("shop/good:1"), reg.Ref("shop/stalled:1")), "layer-stalled",
		"A layer download that stalls mid-blob (headers sent, then nothing): it fails after the idle timeout (30 s; 1 s here)",
		"/blobs/"+digest+": the download stalled: no data for 1s", "--config", vnConfig(t))
	assert.Assert(t, time.Since(start) < 30*time.Second, "took %s", time.Since(start))
}

// An image config without os or architecture says so.
func TestConfigWithoutPlatformIsNamed(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
	reg := registrytest.Start(t)
	reg.Push(t, "shop/good:1", registrytest.Image(t, "good", "linux/amd64", v1.Config{}))
	img := registrytest.Image(t, "noplatform", "linux/amd64", v1.Config{})
	cf, err := img.ConfigFile()
	assert.NilError(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "", ""
	img, err = mutate.ConfigFile(img, cf)
	assert.NilError(t, err)
	reg.Push(t, "shop/noplatform:1", img)
	failure(t, reg, twoContainers(reg.Ref("shop/good:1"), reg.Ref("shop/noplatform:1")), "config-no-platform",
		"An image whose config sets no os and architecture (target virtual-node, which reads the config)",
		"the image config sets no os/architecture: cannot tell whether the image runs on linux/amd64", "--config", vnConfig(t))
}
