package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The Argo CD plugin sidecar's image (-argocd-cmp BASE -helm FILE): the
// plugin's commands are sh scripts (examples/argocd/plugin.yaml) that run
// helm and cocofy, so the image is a base with sh, mktemp, cat and rm
// (debian:bookworm-slim, say), pinned by digest, plus one layer with
// /usr/local/bin/cocofy and /usr/local/bin/helm. It runs as 999:999 (Argo
// CD runs plugin sidecars as 999) with no entrypoint: Argo CD gives the
// sidecar argocd-cmp-server as its command (examples/argocd/
// repo-server-patch.yaml). HOME, helm's folders and cocofy's cache are
// under /tmp, the sidecar's emptyDir, as the patch sets them too.
const (
	helmPath  = "/usr/local/bin/helm"
	argoCDUID = 999
)

// argoCDEnv is the environment the sidecar's image adds to the base's.
var argoCDEnv = []string{
	"HOME=/tmp",
	"HELM_CACHE_HOME=/tmp/helm/cache",
	"HELM_CONFIG_HOME=/tmp/helm/config",
	"HELM_DATA_HOME=/tmp/helm/data",
	"COCOFY_CACHE_DIR=/tmp/cocofy-cache",
}

// pullBase reads the base image, linux/amd64, which must be named by
// digest: the sidecar's image is then as reproducible as the kpt one.
func pullBase(ref string) (v1.Image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("-argocd-cmp %s: %w", ref, err)
	}
	if _, ok := r.(name.Digest); !ok {
		return nil, fmt.Errorf("-argocd-cmp %s: name the base by digest (repo@sha256:…, e.g. from crane digest), so that the image can be rebuilt the same", ref)
	}
	if isLoopback(r.Context().RegistryStr()) {
		if r, err = name.ParseReference(ref, name.Insecure); err != nil {
			return nil, err
		}
	}
	return remote.Image(r, remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
}

// readHelm returns the helm binary, a static linux/amd64 one (the base
// may have no C library; build it with CGO_ENABLED=0, as make
// argocd-image does).
func readHelm(path string) ([]byte, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-helm: %w", err)
	}
	f, err := elf.NewFile(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("-helm %s: not a Linux binary: %v", path, err)
	}
	if f.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("-helm %s: built for %s, the image is linux/amd64", path, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("-helm %s: dynamically linked (build it with CGO_ENABLED=0)", path)
		}
	}
	return body, nil
}

// buildArgoCD returns the sidecar's image: base plus one layer, in the
// base's media types.
func buildArgoCD(base v1.Image, binary, helm []byte, version, source string, epoch time.Time) (v1.Image, error) {
	mt, err := base.MediaType()
	if err != nil {
		return nil, err
	}
	layerType := types.OCILayer
	if mt == types.DockerManifestSchema2 {
		layerType = types.DockerLayer
	}
	root := tar.Header{}
	layer, err := tarLayer([]tarFile{
		{Header: dir(root, "usr/", 0o755)},
		{Header: dir(root, "usr/local/", 0o755)},
		{Header: dir(root, "usr/local/bin/", 0o755)},
		{Header: file(root, strings.TrimPrefix(binPath, "/"), 0o755), body: string(binary)},
		{Header: file(root, strings.TrimPrefix(helmPath, "/"), 0o755), body: string(helm)},
	}, epoch, layerType)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: layerType,
		History: v1.History{
			Created:   v1.Time{Time: epoch},
			CreatedBy: "hack/image -argocd-cmp: " + binPath + " (cocofy " + version + "), " + helmPath,
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: epoch}
	c := &cf.Config
	c.User = fmt.Sprintf("%d:%d", argoCDUID, argoCDUID)
	c.Entrypoint, c.Cmd, c.WorkingDir = nil, nil, "/"
	c.Env = append(c.Env, argoCDEnv...)
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	c.Labels["org.opencontainers.image.version"] = version
	c.Labels["org.opencontainers.image.source"] = source
	c.Labels["org.opencontainers.image.title"] = "cocofy-argocd-cmp"
	return mutate.ConfigFile(img, cf)
}

// argoCDImage pulls the base, reads helm and builds the sidecar's image.
func argoCDImage(baseRef, helmFile string, binary []byte, version, source string, epoch time.Time) (v1.Image, error) {
	helm, err := readHelm(helmFile)
	if err != nil {
		return nil, err
	}
	base, err := pullBase(baseRef)
	if err != nil {
		return nil, err
	}
	return buildArgoCD(base, binary, helm, version, source, epoch)
}
