//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"gotest.tools/v3/assert"
)

// The Argo CD plugin sidecar's image (hack/image -argocd-cmp, make
// argocd-image): on a base named by digest (here a stand-in with /bin/sh,
// Docker media types, pushed to a loopback registry) one layer adds cocofy
// and helm in /usr/local/bin; it runs as 999 with no entrypoint (Argo CD
// gives argocd-cmp-server), with the environment repo-server-patch.yaml
// sets, the base's kept; twice built, the same digest. A base named by
// tag is refused, and so is a helm that is not static.
func TestArgoCDImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "cocofy-linux-amd64")
	mustRun(t, root, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, "", "go", "build", "-tags", "rego", "-trimpath",
		"-ldflags", "-s -w -X cocofy.dev/cocofy/fn.Version="+imageVersion, "-o", bin, ".")
	binary, err := os.ReadFile(bin)
	assert.NilError(t, err)
	// A static linux/amd64 binary stands in for helm: the builder checks
	// only that.
	helm := filepath.Join(dir, "helm")
	assert.NilError(t, os.WriteFile(helm, binary, 0o755))

	reg := startRegistry(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	assert.NilError(t, tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}))
	assert.NilError(t, tw.WriteHeader(&tar.Header{Name: "bin/sh", Typeflag: tar.TypeReg, Mode: 0o755, Size: 2}))
	_, err = tw.Write([]byte("sh"))
	assert.NilError(t, err)
	assert.NilError(t, tw.Close())
	baseLayer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	assert.NilError(t, err)
	base, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}, Cmd: []string{"bash"}}})
	assert.NilError(t, err)
	base, err = mutate.Append(base, mutate.Addendum{Layer: baseLayer})
	assert.NilError(t, err)
	baseRef := reg + "/debian-standin:bookworm"
	assert.NilError(t, remote.Write(mustParse(t, baseRef), base))
	baseDigest, err := base.Digest()
	assert.NilError(t, err)

	env := []string{"SOURCE_DATE_EPOCH=" + strconv.Itoa(imageEpoch)}
	build := func(args ...string) result {
		return run(t, root, env, "", "go", append([]string{"run", "./hack/image", "-binary", bin}, args...)...)
	}
	byDigest := reg + "/debian-standin@" + baseDigest.String()
	ref := reg + "/cocofy-argocd-cmp:e2e"
	r := build("-argocd-cmp", byDigest, "-helm", helm, "-push", ref)
	assert.NilError(t, r.err, r.stderr)
	digest := strings.TrimSpace(r.stdout)
	again := build("-argocd-cmp", byDigest, "-helm", helm, "-layout", filepath.Join(dir, "layout"))
	assert.NilError(t, again.err, again.stderr)
	assert.Equal(t, strings.TrimSpace(again.stdout), digest, "a second build gives the same digest")

	img, err := remote.Image(mustParse(t, ref))
	assert.NilError(t, err)
	cf, err := img.ConfigFile()
	assert.NilError(t, err)
	assert.Equal(t, cf.Config.User, "999:999")
	assert.Assert(t, cf.Config.Entrypoint == nil && cf.Config.Cmd == nil, "Argo CD gives the command: %v %v", cf.Config.Entrypoint, cf.Config.Cmd)
	assert.DeepEqual(t, cf.Config.Env, []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "HELM_CACHE_HOME=/tmp/helm/cache",
		"HELM_CONFIG_HOME=/tmp/helm/config", "HELM_DATA_HOME=/tmp/helm/data", "COCOFY_CACHE_DIR=/tmp/cocofy-cache"})
	assert.Equal(t, cf.Config.Labels["org.opencontainers.image.version"], imageVersion)
	for _, want := range []string{"HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "COCOFY_CACHE_DIR"} {
		assert.Assert(t, strings.Contains(readFile(t, "examples/argocd/repo-server-patch.yaml"), "- name: "+want+"\n"), "the patch sets %s too", want)
	}
	layers, err := img.Layers()
	assert.NilError(t, err)
	assert.Equal(t, len(layers), 2, "the base's layer and one more")
	bl, err := base.Layers()
	assert.NilError(t, err)
	d0, _ := layers[0].Digest()
	b0, _ := bl[0].Digest()
	assert.Equal(t, d0, b0, "the base's layer as it was")
	files := layerFiles(t, layers[1])
	assert.Equal(t, files["usr/local/bin/cocofy"].Mode, int64(0o755))
	assert.Equal(t, files["usr/local/bin/helm"].Mode, int64(0o755))
	assert.Equal(t, files["usr/local/bin/cocofy"].body, string(binary))

	r = build("-argocd-cmp", baseRef, "-helm", helm, "-layout", filepath.Join(dir, "bytag"))
	assert.Assert(t, r.err != nil)
	assert.Assert(t, strings.Contains(r.stderr, "name the base by digest"), r.stderr)
	r = build("-argocd-cmp", byDigest, "-helm", tool(t, "helm"), "-layout", filepath.Join(dir, "dynamic"))
	assert.Assert(t, r.err != nil)
	assert.Assert(t, strings.Contains(r.stderr, "dynamically linked") || strings.Contains(r.stderr, "not a Linux binary"), r.stderr)
}
