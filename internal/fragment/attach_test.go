package fragment_test

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/fragment"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// The fragment becomes a referrer of the linux/amd64 manifest, not of the
// index, with the registry's referrers API and with the tag schema.
func TestAttach(t *testing.T) {
	for scheme, opts := range map[string][]registrytest.Option{
		"referrers API": {registrytest.WithReferrersAPI()},
		"tag schema":    nil,
	} {
		t.Run(scheme, func(t *testing.T) {
			t.Setenv("DOCKER_CONFIG", t.TempDir())
			reg := registrytest.Start(t, opts...)
			idx := registrytest.Index(t, "app", v1.Config{Cmd: []string{"/app"}}, "linux/arm64", "linux/amd64")
			reg.Push(t, "shop/app:1", idx)
			amd64 := platformDigest(t, idx, "amd64")

			envelope := []byte("not really COSE")
			got, err := fragment.Attach(context.Background(), reg.Ref("shop/app:1"), envelope, fragment.AttachOptions{Title: "contoso.rego.cose"})
			assert.NilError(t, err)

			refs := referrers(t, reg.Ref("shop/app@"+amd64))
			assert.Equal(t, len(refs.Manifests), 1)
			r := refs.Manifests[0]
			assert.Equal(t, r.Digest.String(), got.DigestStr())
			if scheme == "tag schema" {
				// go-containerregistry's test registry lists the config's
				// media type as artifactType (pkg/registry/manifest.go);
				// the manifest's own artifactType is checked below.
				assert.Equal(t, r.ArtifactType, fragment.ArtifactType)
			}
			fallback, err := name.NewTag(reg.Ref("shop/app:sha256-" + amd64[len("sha256:"):]))
			assert.NilError(t, err)
			_, err = remote.Head(fallback)
			assert.Equal(t, err == nil, scheme == "tag schema", "referrers tag %s: %v", fallback, err)
			idxDigest := registrytest.MustDigest(t, idx)
			assert.Equal(t, len(referrers(t, reg.Ref("shop/app@"+idxDigest)).Manifests), 0)

			img, err := remote.Image(got)
			assert.NilError(t, err)
			m, err := img.Manifest()
			assert.NilError(t, err)
			assert.Equal(t, m.ArtifactType, fragment.ArtifactType)
			assert.Equal(t, m.Subject.Digest.String(), amd64)
			assert.Equal(t, len(m.Layers), 1)
			assert.Equal(t, string(m.Layers[0].MediaType), fragment.LayerMediaType)
			assert.Equal(t, m.Layers[0].Annotations["org.opencontainers.image.title"], "contoso.rego.cose")
			ls, err := img.Layers()
			assert.NilError(t, err)
			rc, err := ls[0].Compressed()
			assert.NilError(t, err)
			defer rc.Close()
			body := make([]byte, 100)
			n, _ := rc.Read(body)
			assert.Equal(t, string(body[:n]), string(envelope))
		})
	}
}

func platformDigest(t *testing.T, idx v1.ImageIndex, arch string) string {
	t.Helper()
	im, err := idx.IndexManifest()
	assert.NilError(t, err)
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.Architecture == arch {
			return m.Digest.String()
		}
	}
	t.Fatalf("no %s manifest", arch)
	return ""
}

func referrers(t *testing.T, ref string) *v1.IndexManifest {
	t.Helper()
	d, err := name.NewDigest(ref)
	assert.NilError(t, err)
	idx, err := remote.Referrers(d)
	assert.NilError(t, err)
	im, err := idx.IndexManifest()
	assert.NilError(t, err)
	return im
}
