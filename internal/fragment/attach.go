package fragment

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"cocofy.dev/cocofy/image"
)

// OCI names of an image-attached fragment, as confcom's `oras attach
// --artifact-type application/x-ms-ccepolicy-frag <image>
// <file>:application/cose-x509+rego` writes them.
const (
	ArtifactType   = "application/x-ms-ccepolicy-frag"
	LayerMediaType = "application/cose-x509+rego"
	// emptyMediaType and emptyJSON are the OCI 1.1 empty config "{}".
	emptyMediaType = "application/vnd.oci.empty.v1+json"
	emptyJSON      = "{}"
	titleKey       = "org.opencontainers.image.title"
)

// AttachOptions say how to reach the registry.
type AttachOptions struct {
	// Keychain gives credentials. By default authn.DefaultKeychain.
	Keychain authn.Keychain
	// Insecure allows plain HTTP (loopback registries always may).
	Insecure bool
	// Platform is the manifest of a multi-platform image the fragment is
	// attached to. By default linux/amd64, the one Confidential ACI pulls.
	Platform string
	// Title is the layer's file name (org.opencontainers.image.title);
	// confcom's newer discovery globs *.rego.cose. By default
	// "fragment.rego.cose".
	Title string
}

// Attach pushes a signed fragment as an OCI referrer of imageRef's
// platform manifest (never the index: the guest does not find fragments
// attached to an index, confcom PR #9633) and returns the referrer's
// digest. The manifest has artifactType ArtifactType, the empty config, one
// layer of media type LayerMediaType, and the subject. A registry without
// the referrers API gets the referrers tag schema (sha256-<digest>) through
// go-containerregistry.
func Attach(ctx context.Context, imageRef string, envelope []byte, opts AttachOptions) (name.Digest, error) {
	var nameOpts []name.Option
	if opts.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	ref, err := name.ParseReference(imageRef, nameOpts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("invalid image reference %q: %w", imageRef, err)
	}
	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	subject, err := platformManifest(ref, opts.Platform, ropts)
	if err != nil {
		return name.Digest{}, err
	}
	raw, err := referrerManifest(ref.Context(), envelope, subject, opts.Title, ropts)
	if err != nil {
		return name.Digest{}, err
	}
	d, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return name.Digest{}, err
	}
	dst := ref.Context().Digest(d.String())
	if err := remote.Put(dst, rawManifest(raw), ropts...); err != nil {
		return name.Digest{}, fmt.Errorf("pushing the fragment to %s: %w", ref.Context(), err)
	}
	return dst, nil
}

// platformManifest returns the descriptor of ref's manifest for platform:
// ref's own when it names an image, the matching entry of an index.
func platformManifest(ref name.Reference, platform string, ropts []remote.Option) (v1.Descriptor, error) {
	if platform == "" {
		platform = image.DefaultPlatform
	}
	want, err := v1.ParsePlatform(platform)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("platform %q: %w", platform, err)
	}
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading %q: %w", ref, err)
	}
	if !desc.MediaType.IsIndex() {
		d := desc.Descriptor
		return v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading %q: %w", ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading %q: %w", ref, err)
	}
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.Satisfies(*want) {
			return v1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size}, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%q is an index without a %s manifest", ref, platform)
}

// referrerManifest uploads the config and layer blobs and returns the
// referrer's manifest.
func referrerManifest(repo name.Repository, envelope []byte, subject v1.Descriptor, title string, ropts []remote.Option) ([]byte, error) {
	if title == "" {
		title = "fragment.rego.cose"
	}
	config := static.NewLayer([]byte(emptyJSON), emptyMediaType)
	layer := static.NewLayer(envelope, LayerMediaType)
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactType,
		Subject:       &subject,
	}
	for i, l := range []v1.Layer{config, layer} {
		if err := remote.WriteLayer(repo, l, ropts...); err != nil {
			return nil, fmt.Errorf("pushing the fragment to %s: %w", repo, err)
		}
		d, _ := l.Digest()
		size, _ := l.Size()
		mt, _ := l.MediaType()
		desc := v1.Descriptor{MediaType: mt, Digest: d, Size: size}
		if i == 0 {
			desc.Data = []byte(emptyJSON)
			m.Config = desc
			continue
		}
		desc.Annotations = map[string]string{titleKey: title}
		m.Layers = append(m.Layers, desc)
	}
	return json.Marshal(m)
}

// rawManifest is a manifest's bytes as remote.Put takes them.
type rawManifest []byte

func (r rawManifest) RawManifest() ([]byte, error) { return r, nil }

func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
