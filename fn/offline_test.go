package fn_test

import (
	"net"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/fn"
)

// kpt fn eval --image … -- pin=false: a ConfigMap turns pinning off, for
// a container function without network.
func TestConfigMapPinFalse(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: reg.fail.invalid/app:1, resources: {limits: {cpu: 100m, memory: 128Mi}}}\n"
	rl := strings.Replace(wrap(t, in, ""), "kind: ResourceList\n", "kind: ResourceList\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: function-input}\n  data: {target: pod-sandbox, pin: \"false\"}\n", 1)
	defer fn.SetHasNetwork(false)()
	out, stderr, err := runWith(t, fn.RegistryDeps, rl)
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(out, "image: 'reg.fail.invalid/app:1',") && !strings.Contains(out, "@sha256:"), "not pinned:\n%s", out)
	assert.Assert(t, strings.Contains(out, "runtimeClassName: kata-vm-isolation"), out)
}

// Without network (a container function run as kpt and kustomize run
// them) a registry that cannot be reached says what works there: the lock
// file mounted, network, or pin=false. With network it says nothing more.
func TestOfflineHint(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("COCOFY_CACHE_DIR", "off")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	host := l.Addr().String()
	assert.NilError(t, l.Close()) // nothing listens there now
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: " + host + "/app:1, resources: {limits: {cpu: 100m, memory: 128Mi}}}\n"
	rl := strings.Replace(wrap(t, in, ""), "kind: ResourceList\n", "kind: ResourceList\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: function-input}\n  data: {target: contrast}\n", 1)
	const hint = "there is no network here (kpt and kustomize run container functions without one): mount the lock file and read it offline (kpt fn eval --mount type=bind,src=$PWD/images.lock.yaml,dst=/lock/images.lock.yaml -- lockFile=/lock/images.lock.yaml lockMode=use)"

	restore := fn.SetHasNetwork(false)
	out, stderr, err := runWith(t, fn.RegistryDeps, rl)
	restore()
	assert.Assert(t, err != nil)
	assert.Equal(t, out, "")
	assert.Assert(t, strings.Contains(stderr, "error: Pod p: spec.containers[name=c].image: "), stderr)
	assert.Assert(t, strings.Contains(stderr, hint), stderr)
	assert.Assert(t, strings.Contains(stderr, "or turn pinning off (-- pin=false, or spec.images.pin: false)"), stderr)

	defer fn.SetHasNetwork(true)()
	_, stderr, err = runWith(t, fn.RegistryDeps, rl)
	assert.Assert(t, err != nil)
	assert.Assert(t, !strings.Contains(stderr, "no network here"), stderr)
}

// A lock file that is not there, without network: the container was not
// given it; the error says how to mount it.
func TestOfflineLockFileNotMounted(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: app:1, resources: {limits: {cpu: 100m, memory: 128Mi}}}\n"
	rl := strings.Replace(wrap(t, in, ""), "kind: ResourceList\n", "kind: ResourceList\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: function-input}\n  data: {target: contrast, lockFile: /lock/images.lock.yaml, lockMode: use}\n", 1)
	restore := fn.SetHasNetwork(false)
	_, _, err := runWith(t, fn.RegistryDeps, rl)
	restore()
	assert.ErrorContains(t, err, "no such file or directory; a container function sees none of your files: mount the lock file (kpt fn eval --mount type=bind,")

	defer fn.SetHasNetwork(true)()
	_, _, err = runWith(t, fn.RegistryDeps, rl)
	assert.Assert(t, err != nil && !strings.Contains(err.Error(), "mount"), err)
}
