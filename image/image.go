// Package image holds the facts cocofy needs about a container image, and the
// interfaces through which the pipeline asks for them.
//
// The facts come from a registry (internal/registry), from a reviewed lock
// file (internal/lockfile), or from a cache; the pipeline does not know which.
// This package does no I/O.
package image

import (
	"context"
	"slices"
	"strings"
)

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
	// EtcGroup is what the layer does to the image's /etc/group, read while
	// its root hash was computed. Nil when that is not known: facts cached
	// or locked by an older cocofy, or a layer that was not hashed.
	EtcGroup *EtcGroup `json:"etcGroup,omitempty"`
}

// EtcGroup is what one layer does to the image's /etc/group, the file in
// which the Confidential ACI guest looks up each additional GID of a
// container (fsGroup, supplementalGroups): hcsshim, since PR #2465, fails to
// create a container whose additional GID the file does not define exactly
// once.
type EtcGroup struct {
	// Change is EtcGroupKept, EtcGroupWritten, EtcGroupRemoved or
	// EtcGroupUnknown.
	Change string `json:"change"`
	// GIDs are the group IDs the layer's file defines, sorted, when Change
	// is EtcGroupWritten: the third field of each line, read as the guest
	// reads it (moby/sys/user: blank and # lines skipped, a field that is
	// not a number is 0). A GID on several lines is listed as often.
	GIDs []uint32 `json:"gids,omitempty"`
}

// Values of EtcGroup.Change.
const (
	// EtcGroupKept: the layer leaves /etc/group as the layers below have it.
	EtcGroupKept = "kept"
	// EtcGroupWritten: the layer has /etc/group, a regular file; GIDs are
	// the groups it defines.
	EtcGroupWritten = "written"
	// EtcGroupRemoved: the layer hides the /etc/group of the layers below
	// (a whiteout of the file or of /etc, an opaque /etc or /) and has none
	// of its own.
	EtcGroupRemoved = "removed"
	// EtcGroupUnknown: the layer has /etc/group, or /etc, in a form whose
	// groups cocofy does not read: a link or special file, a file too
	// large, a GID beyond 32 bits, /etc that is not a directory.
	EtcGroupUnknown = "unknown"
)

// Valid reports whether g is an EtcGroup cocofy wrote: a known Change,
// and GIDs, sorted, only when written.
func (g *EtcGroup) Valid() bool {
	switch g.Change {
	case EtcGroupWritten:
		return slices.IsSorted(g.GIDs)
	case EtcGroupKept, EtcGroupRemoved, EtcGroupUnknown:
		return len(g.GIDs) == 0
	}
	return false
}

// EtcGroup returns the image's /etc/group as its layers leave it: whether
// the file exists and, if so, the GIDs it defines (as EtcGroup.GIDs lists
// them). The topmost layer that writes, removes or has an unknown
// /etc/group decides. ok is false when the facts do not tell: a layer at or
// above that one has no EtcGroup, or that layer's is EtcGroupUnknown.
func (f Facts) EtcGroup() (gids []uint32, exists, ok bool) {
	for i := len(f.Layers) - 1; i >= 0; i-- {
		g := f.Layers[i].EtcGroup
		if g == nil || !g.Valid() {
			return nil, false, false
		}
		switch g.Change {
		case EtcGroupWritten:
			return g.GIDs, true, true
		case EtcGroupRemoved:
			return nil, false, true
		case EtcGroupUnknown:
			return nil, false, false
		}
	}
	return nil, false, len(f.Layers) > 0
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
	// Fragments are the signed policy fragments attached to the platform
	// manifest, as a lock file records them (FragmentSource); nil when
	// they were not looked up.
	Fragments []AttachedFragment `json:"fragments,omitempty"`
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

// Split cuts an image reference as written into its repository (with its
// registry, as written), tag and digest, any of which may be empty: a
// colon before the last slash is a registry's port, not a tag.
func Split(ref string) (repo, tag, digest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	slash := strings.LastIndex(ref, "/")
	if c := strings.LastIndex(ref, ":"); c > slash {
		return ref[:c], ref[c+1:], digest
	}
	return ref, "", digest
}

// AttachedFragment is a signed policy fragment attached to an image's
// platform manifest as an OCI referrer.
type AttachedFragment struct {
	// Digest is the digest of the envelope blob ("sha256:<hex>").
	Digest string `json:"digest"`
	// Envelope is the COSE_Sign1 envelope as stored; nobody has checked it.
	Envelope []byte `json:"envelope"`
}

// FragmentSource finds the signed policy fragments attached to images.
type FragmentSource interface {
	// Attached returns the facts of ref on platform without layer root
	// hashes (its config and layer digests: no layer is downloaded), and
	// the fragments attached to that platform manifest.
	Attached(ctx context.Context, ref, platform string) (Facts, []AttachedFragment, error)
}
