package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/fragment"
)

// MaxFragmentSize bounds a fragment envelope: a fragment of a few
// containers and its chain are kilobytes.
const MaxFragmentSize = 1 << 20

// maxReferrers bounds how many fragment referrers of one manifest are read.
const maxReferrers = 16

// Attached returns the facts of ref on platform without layer root hashes
// (the manifest and config only; no layer is downloaded and nothing is
// cached) and the signed fragments attached to that platform manifest:
// the layers of media type fragment.LayerMediaType of its referrers of
// artifactType fragment.ArtifactType, found with the OCI referrers API or,
// where the registry has none, the referrers tag schema. It checks no
// signature: that is the caller's (fragment.Verify).
func (c *Client) Attached(ctx context.Context, ref, platform string) (image.Facts, []image.AttachedFragment, error) {
	r, err := c.parse(ref)
	if err != nil {
		return image.Facts{}, nil, err
	}
	want, err := v1.ParsePlatform(platform)
	if err != nil {
		return image.Facts{}, nil, fmt.Errorf("platform %q: %w", platform, err)
	}
	img, f, err := c.platformImage(ctx, r, *want, false)
	if err == nil {
		err = readConfig(img, *want, &f)
	}
	if err != nil {
		return image.Facts{}, nil, fmt.Errorf("inspecting %s: %w", ref, c.secrets.err(err))
	}
	f.Ref, f.Platform = ref, platform
	frags, err := c.fragments(ctx, r.Context().Digest(f.ManifestDigest))
	if err != nil {
		return image.Facts{}, nil, fmt.Errorf("looking for fragments attached to %s: %w", ref, c.secrets.err(err))
	}
	return f, frags, nil
}

// fragments reads the fragment envelopes attached to d.
func (c *Client) fragments(ctx context.Context, d name.Digest) ([]image.AttachedFragment, error) {
	// Not filtered by the registry (go-containerregistry would filter the
	// answer again by the descriptors' artifactType): see fragmentLike.
	idx, err := remote.Referrers(d, remote.Reuse(c.puller), remote.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []image.AttachedFragment
	n := 0
	for _, desc := range im.Manifests {
		if !fragmentLike(desc) {
			continue
		}
		if n++; n > maxReferrers {
			break
		}
		got, err := c.referrerFragments(ctx, d.Context(), desc.Digest)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// fragmentLike reports a referrer that may be a fragment: of artifactType
// fragment.ArtifactType, or of the empty config's media type, which some
// registries (go-containerregistry's own) give as the artifactType of
// every manifest with that config, whatever its own artifactType says.
// referrerFragments reads the manifest's own.
func fragmentLike(desc v1.Descriptor) bool {
	return desc.ArtifactType == fragment.ArtifactType || desc.ArtifactType == "application/vnd.oci.empty.v1+json"
}

// referrerFragments reads the envelope layers of one referrer manifest.
func (c *Client) referrerFragments(ctx context.Context, repo name.Repository, m v1.Hash) ([]image.AttachedFragment, error) {
	desc, err := c.puller.Get(ctx, repo.Digest(m.String()))
	if err != nil {
		return nil, err
	}
	var man v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &man); err != nil {
		return nil, fmt.Errorf("referrer %s: %w", m, err)
	}
	if man.ArtifactType != fragment.ArtifactType {
		return nil, nil
	}
	var out []image.AttachedFragment
	for _, l := range man.Layers {
		if l.MediaType != fragment.LayerMediaType {
			continue
		}
		if l.Size < 0 || l.Size > MaxFragmentSize {
			return nil, fmt.Errorf("referrer %s: a fragment of %d bytes, more than the %d cocofy reads", m, l.Size, MaxFragmentSize)
		}
		layer, err := c.puller.Layer(ctx, repo.Digest(l.Digest.String()))
		if err != nil {
			return nil, err
		}
		rc, err := layer.Compressed() // the blob as stored, checked against its digest
		if err != nil {
			return nil, err
		}
		raw, err := io.ReadAll(io.LimitReader(rc, MaxFragmentSize+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("fragment %s: %w", l.Digest, err)
		}
		out = append(out, image.AttachedFragment{Digest: l.Digest.String(), Envelope: raw})
	}
	return out, nil
}
