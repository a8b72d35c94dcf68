// Package fixed provides deterministic image.Resolver and image.Inspector
// implementations for tests: digests are the sha256 of the reference's
// repository and tag, so golden files never change and no network is used.
package fixed

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"cocofy.dev/cocofy/image"
)

// Resolver pins every reference to "sha256:" + sha256(repository): the tag
// and any digest are left out, so that a reference whose tag was dropped
// verifies like it would against a registry. A reference listed in Fail fails with that error. An already
// pinned reference whose digest differs from the computed one fails like a
// registry would.
type Resolver struct {
	Fail map[string]error
}

var _ image.Resolver = Resolver{}

// Digest is the digest Resolver gives ref.
func Digest(ref string) string {
	repo, _, _ := strings.Cut(ref, "@")
	if colon := strings.LastIndex(repo, ":"); colon > strings.LastIndex(repo, "/") {
		repo = repo[:colon]
	}
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(repo)))
}

// Resolve implements image.Resolver.
func (r Resolver) Resolve(_ context.Context, ref string) (image.Pin, error) {
	if err := r.Fail[ref]; err != nil {
		return image.Pin{}, fmt.Errorf("resolving %q: %w", ref, err)
	}
	d := Digest(ref)
	if _, have, ok := strings.Cut(ref, "@"); ok && have != d {
		return image.Pin{}, fmt.Errorf("resolving %q: the registry has %s, not %s", ref, d, have)
	}
	return image.Pin{Ref: ref, Digest: d}, nil
}

// Inspector gives every reference the same made-up facts, derived from its
// repository like Resolver's digest: two layers whose root hashes are
// sha256 of the repository and the layer index, and a config with PATH and
// a /bin/sh command. Facts replaces them per reference; a reference listed
// in Fail fails with that error.
type Inspector struct {
	Facts map[string]image.Facts
	Fail  map[string]error
}

var _ image.Inspector = Inspector{}

// Inspect implements image.Inspector.
func (i Inspector) Inspect(_ context.Context, ref, platform string) (image.Facts, error) {
	if err := i.Fail[ref]; err != nil {
		return image.Facts{}, fmt.Errorf("inspecting %q: %w", ref, err)
	}
	if f, ok := i.Facts[ref]; ok {
		return f, nil
	}
	d := Digest(ref)
	if _, have, ok := strings.Cut(ref, "@"); ok && have != d {
		return image.Facts{}, fmt.Errorf("inspecting %q: the registry has %s, not %s", ref, d, have)
	}
	os, arch, _ := strings.Cut(platform, "/")
	f := image.Facts{
		Pin:            image.Pin{Ref: ref, Digest: d},
		Platform:       platform,
		ManifestDigest: d,
		OS:             os,
		Architecture:   arch,
		Config: image.Config{
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd: []string{"/bin/sh"},
		},
	}
	for n := range 2 {
		l := fmt.Sprintf("%s layer %d", strings.TrimPrefix(d, "sha256:"), n)
		f.Layers = append(f.Layers, image.Layer{
			Digest:   fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("blob "+l))),
			RootHash: fmt.Sprintf("%x", sha256.Sum256([]byte(l))),
		})
	}
	return f, nil
}
