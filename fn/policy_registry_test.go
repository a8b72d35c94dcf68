package fn_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/testing/registrytest"
	"cocofy.dev/cocofy/pipeline"
)

// The policy's layer hashes are the ones hcsshim's own conversion gives for
// the layers in the registry, and a lock file records them so that an
// offline run (registry stopped) gives the same bytes.
func TestPolicyLayerHashesFromTheRegistry(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
	reg := registrytest.Start(t)
	img := registrytest.Image(t, "app", "linux/amd64", v1.Config{Entrypoint: []string{"/bin/app"}, Env: []string{"PATH=/bin"}},
		registrytest.Layer(t,
			registrytest.File{Name: "bin/", Typeflag: tar.TypeDir},
			registrytest.File{Name: "bin/app", Body: "#!/bin/sh\necho hi\n", Mode: 0o755},
			registrytest.File{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "app"}),
		registrytest.Layer(t,
			registrytest.File{Name: "etc/", Typeflag: tar.TypeDir},
			registrytest.File{Name: "etc/app.conf", Body: strings.Repeat("x", 70000)},
			registrytest.File{Name: "bin/.wh.sh"},
			registrytest.File{Name: "etc/hard", Typeflag: tar.TypeLink, Linkname: "etc/app.conf"}),
		registrytest.Layer(t))
	reg.Push(t, "shop/app:1", img)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "cocofy.yaml")
	assert.NilError(t, os.WriteFile(cfg, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: virtual-node\n  images: {lockFile: images.lock.yaml}\n"), 0o644))
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: shop}\nspec:\n  containers:\n  - name: app\n    image: " + reg.Host + "/shop/app:1\n"

	out, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", cfg, "--lock-mode", "update")
	assert.NilError(t, err, stderr)

	layers, err := img.Layers()
	assert.NilError(t, err)
	var want []any
	for i, l := range layers {
		rc, err := l.Compressed() // registrytest's static layers hold gzip
		assert.NilError(t, err)
		zr, err := gzip.NewReader(rc)
		assert.NilError(t, err)
		tarball, err := io.ReadAll(zr)
		assert.NilError(t, err)
		rc.Close()
		h, err := tar2ext4.ConvertAndComputeRootDigest(bytes.NewReader(tarball))
		assert.NilError(t, err, "layer %d", i)
		want = append(want, h)
	}
	cs := policyContainers(t, out)
	assert.DeepEqual(t, cs[0]["layers"], want)

	lock, err := os.ReadFile(filepath.Join(dir, "images.lock.yaml"))
	assert.NilError(t, err)
	for _, h := range want {
		assert.Assert(t, strings.Contains(string(lock), "rootHash: "+h.(string)), string(lock))
	}

	reg.Stop()
	offline, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", cfg, "--lock-mode", "use")
	assert.NilError(t, err, stderr)
	assert.Equal(t, offline, out)
	again, _, err := runWith(t, fn.RegistryDeps, offline, "--config", cfg, "--lock-mode", "use")
	assert.NilError(t, err)
	assert.Equal(t, again, out, "idempotent")
}

// A lock file made for runtime classes has no root hashes; lockMode use
// then says how to add them instead of writing a policy without layers.
func TestPolicyNeedsRootHashesInTheLockFile(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
	reg := registrytest.Start(t)
	reg.Push(t, "shop/app:1", registrytest.Image(t, "app", "linux/amd64", v1.Config{}))
	dir := t.TempDir()
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  containers:\n  - name: app\n    image: " + reg.Host + "/shop/app:1\n"
	write := func(target string) string {
		cfg := filepath.Join(dir, target+".yaml")
		assert.NilError(t, os.WriteFile(cfg, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: "+target+"\n  images: {lockFile: images.lock.yaml}\n"), 0o644))
		return cfg
	}
	_, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", write("pod-sandbox"), "--lock-mode", "update")
	assert.NilError(t, err, stderr)
	out, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", write("virtual-node"), "--lock-mode", "use")
	assert.Assert(t, err != nil)
	assert.Equal(t, out, "")
	assert.Assert(t, strings.Contains(stderr, "has no layer root hashes for "+reg.Host+"/shop/app:1@sha256:"), stderr)
	assert.Assert(t, strings.Contains(stderr, "; add them with lockMode: update and target: virtual-node"), stderr)
}

func policyContainers(t *testing.T, out string) []map[string]any {
	t.Helper()
	nodes, err := kio.FromBytes([]byte(out))
	assert.NilError(t, err)
	v, err := nodes[0].Pipe(yaml.Lookup("metadata", "annotations", pipeline.AnnotationCCEPolicy))
	assert.NilError(t, err)
	assert.Assert(t, v != nil, out)
	rego, err := ccpolicy.Decode(v.YNode().Value)
	assert.NilError(t, err)
	cs, err := ccpolicy.Containers(rego)
	assert.NilError(t, err)
	return cs
}

// Layer hashing prints progress with --progress; without it (stderr is not
// a terminal in tests) it is quiet.
func TestPolicyProgress(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv(fn.EnvProgress, "")
	reg := registrytest.Start(t)
	reg.Push(t, "shop/app:1", registrytest.Image(t, "app", "linux/amd64", v1.Config{}))
	cfg := filepath.Join(t.TempDir(), "vn.yaml")
	assert.NilError(t, os.WriteFile(cfg, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec: {target: virtual-node}\n"), 0o644))
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  containers:\n  - name: app\n    image: " + reg.Host + "/shop/app:1\n"

	t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
	_, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Assert(t, !strings.Contains(stderr, "hashing layer"), stderr)

	t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
	_, stderr, err = runWith(t, fn.RegistryDeps, in, "--config", cfg, "--progress")
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(stderr, "hashing layer sha256:"), stderr)
	assert.Assert(t, strings.Contains(stderr, " MB/s done\n"), stderr)
}
