// Package image holds the facts cocofy needs about a container image, and the
// interfaces through which the pipeline asks for them.
//
// The facts come from a registry (internal/registry), from a reviewed lock
// file (internal/lockfile), or from a cache; the pipeline does not know which.
// This package does no I/O.
package image

import "context"

// DefaultPlatform is the platform whose manifest is recorded for a multi-arch
// image. Confidential ACI and AKS pod sandboxing run linux/amd64.
const DefaultPlatform = "linux/amd64"

// Pin is what resolving a reference gives: the digest the reference names.
type Pin struct {
	// Ref is the reference as it was written in the manifest, e.g. "nginx:1.27".
	Ref string `json:"ref"`
	// Digest is the digest of what Ref names: the index digest for a
	// multi-arch image, else the manifest digest. "sha256:<hex>".
	Digest string `json:"digest"`
}

// Config is the subset of the OCI image config (the "config" object) that the
// CCE policy needs.
type Config struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	User       string   `json:"user,omitempty"`
	StopSignal string   `json:"stopSignal,omitempty"`
}

// Layer is one filesystem layer of a platform manifest, base layer first.
type Layer struct {
	// Digest is the digest of the layer blob as stored ("sha256:<hex>").
	Digest string `json:"digest"`
	// RootHash is the dm-verity root hash (hex, no prefix) of the ext4 image
	// made from the uncompressed layer tar, as hcsshim's
	// tar2ext4.ConvertAndComputeRootDigest computes it.
	RootHash string `json:"rootHash,omitempty"`
}

// Facts is everything cocofy knows about one image on one platform.
type Facts struct {
	Pin
	// Platform is "os/arch[/variant]" of the manifest below.
	Platform string `json:"platform"`
	// ManifestDigest is the digest of the platform's image manifest. It
	// equals Digest when the reference names a single manifest.
	ManifestDigest string `json:"manifestDigest"`
	// OS and Architecture are copied from the image config.
	OS           string  `json:"os"`
	Architecture string  `json:"architecture"`
	Config       Config  `json:"config"`
	Layers       []Layer `json:"layers"`
}

// Resolver pins a reference to a digest. Implementations verify any digest
// already present in ref unless they are offline by design.
type Resolver interface {
	Resolve(ctx context.Context, ref string) (Pin, error)
}

// Inspector returns the facts of a reference on a platform, including each
// layer's dm-verity root hash. ref may already be digest-pinned.
type Inspector interface {
	Inspect(ctx context.Context, ref string, platform string) (Facts, error)
}

// HasRootHashes reports whether every layer has its root hash.
func (f Facts) HasRootHashes() bool {
	for _, l := range f.Layers {
		if l.RootHash == "" {
			return false
		}
	}
	return len(f.Layers) > 0
}
