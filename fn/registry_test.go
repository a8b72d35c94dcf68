package fn_test

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// shopRegistry starts a loopback registry holding the images of
// testdata/registry/input.tmpl.yaml, and isolates the run from the user's docker
// config and cache.
func shopRegistry(t *testing.T, opts ...registrytest.Option) *registrytest.Registry {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
	reg := registrytest.Start(t, opts...)
	for _, tag := range []string{"1", "2", "3"} {
		reg.Push(t, "shop/web:"+tag, registrytest.Image(t, "web"+tag, "linux/amd64", v1.Config{Cmd: []string{"/web"}}))
	}
	reg.Push(t, "library/multi:1.0", registrytest.Index(t, "multi", v1.Config{}, "linux/amd64", "linux/arm64"))
	reg.Push(t, "tools/shell:latest", registrytest.Image(t, "shell", "linux/amd64", v1.Config{}))
	reg.Push(t, "tools/report:2024.1", registrytest.Image(t, "report", "linux/amd64", v1.Config{}))
	return reg
}

func registryInput(t *testing.T, reg *registrytest.Registry) string {
	return strings.ReplaceAll(read(t, "testdata/registry/input.tmpl.yaml"), "REGISTRY", reg.Host)
}

// anonymize makes output comparable across runs: the registry's port varies.
func anonymize(reg *registrytest.Registry, s string) string {
	return strings.ReplaceAll(s, reg.Host, "REGISTRY")
}

const registryConfig = "testdata/registry/config.yaml"

func TestRegistryPinsEveryImage(t *testing.T) {
	reg := shopRegistry(t)
	in := registryInput(t, reg)
	out, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", registryConfig, "-v")
	assert.NilError(t, err, stderr)
	golden.Assert(t, anonymize(reg, out), "registry/expected.yaml")
	golden.Assert(t, anonymize(reg, stderr), "registry/results.golden")

	again, _, err := runWith(t, fn.RegistryDeps, out, "--config", registryConfig)
	assert.NilError(t, err)
	assert.Equal(t, again, out, "a second run must be byte-identical")

	rl, rlErr, err := runWith(t, fn.RegistryDeps, wrap(t, in, registryConfig))
	assert.NilError(t, err, rlErr)
	assert.Equal(t, unwrap(t, rl), out)
}

func TestRegistryLockFileOffline(t *testing.T) {
	reg := shopRegistry(t)
	in := registryInput(t, reg)
	online, _, err := runWith(t, fn.RegistryDeps, in, "--config", registryConfig)
	assert.NilError(t, err)

	lock := filepath.Join(t.TempDir(), "images.lock.yaml")
	updated, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", registryConfig, "--lock", lock, "--lock-mode", "update")
	assert.NilError(t, err, stderr)
	assert.Equal(t, updated, online)
	golden.Assert(t, anonymize(reg, read(t, lock)), "registry/images.lock.yaml")

	reg.Stop()
	before := reg.Requests.Load()
	for _, mode := range []string{"use", "auto"} {
		offline, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", registryConfig, "--lock", lock, "--lock-mode", mode)
		assert.NilError(t, err, stderr)
		assert.Equal(t, offline, online, "lockMode %s with the registry stopped", mode)
		// cocofy's own output, already pinned, also renders offline.
		again, stderr, err := runWith(t, fn.RegistryDeps, offline, "--config", registryConfig, "--lock", lock, "--lock-mode", mode)
		assert.NilError(t, err, stderr)
		assert.Equal(t, again, online)
	}
	assert.Equal(t, reg.Requests.Load(), before, "no request may reach the registry")

	// An image the lock file lacks is a clear error in use mode.
	extra := in + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: late}\nspec:\n  containers:\n  - name: c\n    image: " + reg.Host + "/shop/new:1\n    resources: {limits: {cpu: 100m, memory: 32Mi}}\n"
	out, stderr, err := runWith(t, fn.RegistryDeps, extra, "--config", registryConfig, "--lock", lock, "--lock-mode", "use")
	assert.Assert(t, err != nil)
	assert.Equal(t, out, "")
	assert.Assert(t, strings.Contains(stderr, "error: Pod late: spec.containers[name=c].image: "+reg.Host+"/shop/new:1 is not in the lock file"), stderr)
}

// lockMode update reports one line per reference it adds to the lock file
// or changes in it, and nothing when the file stays as it was.
func TestRegistryLockFileChangesReported(t *testing.T) {
	reg := shopRegistry(t)
	in := registryInput(t, reg)
	lock := filepath.Join(t.TempDir(), "images.lock.yaml")
	_, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", registryConfig, "--lock", lock, "--lock-mode", "update")
	assert.NilError(t, err, stderr)
	// Each reference added to the lock file is one line; a second update
	// that changes nothing reports nothing.
	added := regexp.MustCompile(`(?m)^info: lock file .*images\.lock\.yaml: added \S+ \(linux/amd64\): sha256:[0-9a-f]{64}$`)
	assert.Equal(t, len(added.FindAllString(stderr, -1)), 6, stderr)
	_, stderr, err = runWith(t, fn.RegistryDeps, in, "--config", registryConfig, "--lock", lock, "--lock-mode", "update")
	assert.NilError(t, err, stderr)
	assert.Assert(t, !strings.Contains(stderr, "info: lock file"), stderr)
	// A tag that moved is one "changed" line.
	reg.Push(t, "shop/web:1", registrytest.Image(t, "web1-moved", "linux/amd64", v1.Config{Cmd: []string{"/web"}}))
	_, stderr, err = runWith(t, fn.RegistryDeps, in, "--config", registryConfig, "--lock", lock, "--lock-mode", "update")
	assert.NilError(t, err, stderr)
	changed := regexp.MustCompile(`(?m)^info: lock file .*: changed \S+/shop/web:1 \(linux/amd64\): sha256:[0-9a-f]{64} -> sha256:[0-9a-f]{64}$`)
	assert.Equal(t, len(changed.FindAllString(stderr, -1)), 1, stderr)
	assert.Equal(t, strings.Count(stderr, "info: lock file"), 1, stderr)
	_, stderr, err = runWith(t, fn.RegistryDeps, in, "--config", registryConfig, "--lock", lock, "--lock-mode", "update")
	assert.NilError(t, err, stderr)
	assert.Assert(t, !strings.Contains(stderr, "info: lock file"), stderr)
}

func TestRegistryFailuresNameTheResource(t *testing.T) {
	reg := shopRegistry(t)
	pod := func(image string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers:\n  - name: ok\n    image: " +
			reg.Host + "/shop/web:1\n    resources: {limits: {cpu: 100m, memory: 32Mi}}\n  - name: bad\n    image: " + image +
			"\n    resources: {limits: {cpu: 100m, memory: 32Mi}}\n"
	}
	private := registrytest.Start(t, registrytest.WithBasicAuth("ci", "hunter2-token"))
	private.Push(t, "secret/app:1", registrytest.Image(t, "secret", "linux/amd64", v1.Config{}))
	faulty := registrytest.Start(t)
	faulty.Push(t, "forbidden/app:1", registrytest.Image(t, "f", "linux/amd64", v1.Config{}))
	faulty.Push(t, "flaky/app:1", registrytest.Image(t, "f", "linux/amd64", v1.Config{}))
	faulty.Push(t, "reset/app:1", registrytest.Image(t, "f", "linux/amd64", v1.Config{}))
	faulty.Push(t, "busy/app:1", registrytest.Image(t, "f", "linux/amd64", v1.Config{}))
	faulty.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.Contains(r.URL.Path, "/forbidden/app/manifests/"):
			w.WriteHeader(http.StatusForbidden)
		case strings.Contains(r.URL.Path, "/flaky/app/manifests/"):
			w.WriteHeader(http.StatusBadGateway)
		case strings.Contains(r.URL.Path, "/busy/app/manifests/"):
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		case strings.Contains(r.URL.Path, "/reset/app/manifests/"):
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		default:
			return false
		}
		return true
	})
	wrong := "sha256:" + strings.Repeat("ab", 32)
	cases := []struct{ name, desc, image, want string }{
		{"missing-tag", "A tag the registry does not have", reg.Host + "/shop/web:404", "404 Not Found: " + reg.Host + "/shop/web has no manifest 404"},
		{"unauthorized", "A private repository and no credentials", private.Host + "/secret/app:1", "401 Unauthorized: no or wrong credentials for " + private.Host},
		{"forbidden", "Credentials that may not read the repository", faulty.Host + "/forbidden/app:1", "403 Forbidden"},
		{"wrong-digest", "A digest in the manifest that the registry does not have", reg.Host + "/shop/web:1@" + wrong, "has no manifest " + wrong},
		{"server-error", "A registry that keeps answering 502 (retried three times, then an error)", faulty.Host + "/flaky/app:1", "502 Bad Gateway"},
		{"rate-limited", "A registry that answers 429 with a Retry-After of an hour (longer than cocofy waits, so an error at once)", faulty.Host + "/busy/app:1", "429 Too Many Requests"},
		{"connection-reset", "A registry that drops the connection (retried, then an error)", faulty.Host + "/reset/app:1", "EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, err := runWith(t, fn.RegistryDeps, pod(c.image), "--config", registryConfig)
			assert.Assert(t, err != nil)
			assert.Equal(t, out, "", "nothing on stdout")
			prefix := "error: Pod ns/p: spec.containers[name=bad].image: resolving " + c.image + ": "
			assert.Assert(t, strings.Contains(stderr, prefix), "want %q in:\n%s", prefix, stderr)
			assert.Assert(t, strings.Contains(stderr, c.want), "want %q in:\n%s", c.want, stderr)
			msg := strings.NewReplacer(reg.Host, "REGISTRY", private.Host, "REGISTRY", faulty.Host, "REGISTRY").Replace(stderr + "cocofy: " + err.Error() + "\n")
			golden.Assert(t, "# "+c.desc+"\n"+msg, filepath.Join("registry", "errors", c.name+".golden"))
		})
	}

	// With credentials in the docker config it works, and the password is
	// never printed.
	dc := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("ci:hunter2-token"))
	assert.NilError(t, os.WriteFile(filepath.Join(dc, "config.json"), []byte(`{"auths":{"`+private.Host+`":{"auth":"`+auth+`"}}}`), 0o600))
	t.Setenv("DOCKER_CONFIG", dc)
	out, stderr, err := runWith(t, fn.RegistryDeps, pod(private.Host+"/secret/app:1"), "--config", registryConfig)
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(out, private.Host+"/secret/app:1@sha256:"))
	assert.Assert(t, !strings.Contains(stderr, "hunter2"))
}

// Two renders sharing one cache at the same time give the same, correct
// output, with CCE policies (which hash every layer).
func TestConcurrentRendersShareTheCache(t *testing.T) {
	reg := shopRegistry(t)
	in := registryInput(t, reg)
	cfg := vnConfig(t)
	want, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(want, "ccepolicy"), want)
	t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
	outs := make([]string, 4)
	errs := make([]error, 4)
	done := make(chan int)
	for i := range outs {
		go func() {
			outs[i], _, errs[i] = runWith(t, fn.RegistryDeps, in, "--config", cfg)
			done <- i
		}()
	}
	for range outs {
		<-done
	}
	for i := range outs {
		assert.NilError(t, errs[i])
		assert.Equal(t, outs[i], want)
	}
}
