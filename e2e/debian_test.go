//go:build e2e

package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// rootfs returns a Debian minbase rootfs: the one hack/rootfs.sh keeps in
// $COCOFY_ROOTFS, else in the user's cache for every clone (made with
// debootstrap when missing, in either place).
func rootfs(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(mustRun(t, root, nil, "", "bash", "hack/rootfs.sh"))
}

// A realistic layer (a Debian rootfs, about 200 MB) in a loopback
// registry: the root hashes cocofy records equal what hcsshim's
// dmverity-vhd computes from the same registry.
func TestDebianLayerRootHashes(t *testing.T) {
	reg := registrytest.Start(t)
	base := registrytest.DirLayer(t, rootfs(t))
	app := registrytest.Layer(t, registrytest.File{Name: "srv/", Typeflag: '5'}, registrytest.File{Name: "srv/app", Body: "app\n", Mode: 0o755})
	ref := reg.Host + "/debian/app:12"
	reg.Push(t, "debian/app:12", registrytest.Image(t, "debian", "linux/amd64", v1.Config{Entrypoint: []string{"/srv/app"}}, base, app))

	dir := t.TempDir()
	cfg := filepath.Join(dir, "cocofy.yaml")
	assert.NilError(t, os.WriteFile(cfg, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: virtual-node\n  images: {lockFile: images.lock.yaml, lockMode: update}\n"), 0o644))
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  containers:\n  - {name: app, image: " + ref + "}\n"
	r := run(t, root, nil, pod, cocofy(t), "--config", cfg, "--progress")
	assert.NilError(t, r.err, r.stderr)
	assert.Assert(t, strings.Contains(r.stderr, "hashing layer sha256:"), "progress with --progress:\n%s", r.stderr)

	got := lockedRootHashes(t, filepath.Join(dir, "images.lock.yaml"))[ref]
	assert.Equal(t, len(got), 2)
	out := mustRun(t, root, nil, "", tool(t, "dmverity-vhd"), "roothash", "-i", ref)
	assert.Equal(t, strings.TrimSpace(out), "Layer 0 root hash: "+got[0]+"\nLayer 1 root hash: "+got[1])
	for _, h := range got {
		assert.Assert(t, strings.Contains(decodePolicies(t, r.stdout), `"`+h+`"`), "the policy lists layer %s", h)
	}
}

// decodePolicies returns the decoded CCE policies of a stream's Pods and
// pod templates, joined.
func decodePolicies(t *testing.T, stream string) string {
	t.Helper()
	nodes, err := kio.FromBytes([]byte(stream))
	assert.NilError(t, err)
	var b strings.Builder
	for _, n := range nodes {
		for _, path := range [][]string{{"metadata"}, {"spec", "template", "metadata"}} {
			v, err := n.Pipe(yaml.Lookup(append(path, "annotations", "microsoft.containerinstance.virtualnode.ccepolicy")...))
			assert.NilError(t, err)
			if v == nil {
				continue
			}
			text, err := base64.StdEncoding.DecodeString(v.YNode().Value)
			assert.NilError(t, err)
			b.Write(text)
		}
	}
	return b.String()
}
