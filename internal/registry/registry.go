// Package registry resolves image references and reads image facts from OCI
// registries with go-containerregistry.
//
// Credentials come from the keychain (docker config and its credential
// helpers, which covers `az acr login`); they are never printed: every
// credential handed out or sent, and the bearer tokens obtained with them,
// is scrubbed from error text, whatever a registry echoes back. Plain HTTP is
// used only for loopback hosts and for hosts listed as insecure (a guard on
// the transport refuses the fallback go-containerregistry also allows for
// *.local and RFC 1918 addresses). Every
// manifest and config fetched is checked against its digest by
// go-containerregistry; a digest already written in a reference is verified
// against the registry, and a tag's digest is that of the manifest's own
// bytes (one GET, no HEAD). A registry host is probed
// (GET /v2/) once per Client, not once per repository. A response body
// that stops sending fails after an idle timeout. Attached reads the
// signed policy fragments attached to an image's platform manifest (OCI
// referrers), and the image's facts without downloading a layer; it
// checks no signature.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"cocofy.dev/cocofy/cache"
	"cocofy.dev/cocofy/image"
)

// Client talks to registries. The zero value is not usable; use New.
type Client struct {
	insecure []string
	// puller reuses one authenticated transport per repository, so a
	// token is fetched once per repository and run, not per image; the
	// transport answers the registry's /v2/ probe once per host (pings).
	puller *remote.Puller
	// Cache, when set, keeps the facts of platform manifests by digest.
	cache cache.Store
	// hasher, when set, computes each layer's dm-verity root hash.
	hasher LayerHasher
	// secrets are scrubbed from every error text.
	secrets *secrets
}

// LayerHasher computes dm-verity root hashes of layers, in order
// (internal/layerhash.Hasher).
type LayerHasher interface {
	RootHashes(ctx context.Context, layers []v1.Layer) ([]string, error)
}

// FactsKind is the kind of the cache entries that hold image facts, by
// platform manifest digest. Entries are immutable: a manifest digest always
// names the same config and layers.
const FactsKind = "facts"

// Options configure a Client.
type Options struct {
	// Keychain finds credentials; nil means Keychain().
	Keychain authn.Keychain
	// Insecure lists registry hosts ("host[:port]") that may be reached
	// over plain HTTP.
	Insecure []string
	// Transport is the HTTP transport; nil means go-containerregistry's
	// default (which honours HTTPS_PROXY and SSL_CERT_FILE/SSL_CERT_DIR)
	// with ResponseTimeout and Retry-After handling.
	Transport http.RoundTripper
	// ResponseTimeout bounds the wait for each response's headers; zero
	// means DefaultResponseTimeout.
	ResponseTimeout time.Duration
	// IdleTimeout bounds the wait for the next bytes of a response body
	// (a stalled download); zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Cache keeps platform facts between runs; nil means none.
	Cache cache.Store
	// Hasher, when set, fills each layer's root hash (needed for CCE
	// policies; it downloads every layer not cached).
	Hasher LayerHasher
}

// New returns a Client.
func New(o Options) *Client {
	c := &Client{insecure: o.Insecure, cache: o.Cache, hasher: o.Hasher, secrets: &secrets{}}
	kc, rt := o.Keychain, o.Transport
	if kc == nil {
		kc = Keychain()
	}
	if rt == nil {
		timeout := o.ResponseTimeout
		if timeout == 0 {
			timeout = DefaultResponseTimeout
		}
		rt = newTransport(timeout)
	}
	idle := o.IdleTimeout
	if idle == 0 {
		idle = DefaultIdleTimeout
	}
	rt = &plainHTTPGuard{next: &idleBodies{next: rt, timeout: idle}, insecure: o.Insecure}
	rt = recordAuthorization{next: rt, s: c.secrets}
	rt = newPings(rt)
	p, err := remote.NewPuller(
		remote.WithAuthFromKeychain(recordingKeychain{kc: kc, s: c.secrets}),
		remote.WithTransport(rt),
		// Three tries over about 3.5 s for 408, 429 and 5xx answers and
		// temporary network errors.
		remote.WithRetryBackoff(remote.Backoff{Duration: 500 * time.Millisecond, Factor: 3, Jitter: 0.1, Steps: 3}),
		remote.WithUserAgent("cocofy"),
	)
	if err != nil {
		panic(err) // only invalid options fail, and these are fixed
	}
	c.puller = p
	return c
}

func (c *Client) parse(ref string) (name.Reference, error) {
	var opts []name.Option
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	if slices.Contains(c.insecure, r.Context().RegistryStr()) {
		opts = append(opts, name.Insecure)
		r, err = name.ParseReference(ref, opts...)
	}
	return r, err
}

// Resolve returns the digest ref names: for a tag, what the registry says
// now; for a digest, the digest after checking that the registry has it.
// One GET of the manifest answers, in one round trip: go-containerregistry
// hashes the bytes it gets, so the digest is the manifest's own, never a
// header a registry or proxy may get wrong (for a digest, it checks the
// bytes against it). An index's digest is pinned as it is; its platform
// manifests are read only for image facts (Inspect).
func (c *Client) Resolve(ctx context.Context, ref string) (image.Pin, error) {
	r, err := c.parse(ref)
	if err != nil {
		return image.Pin{}, err
	}
	d, err := c.puller.Get(ctx, r)
	if err != nil {
		return image.Pin{}, fmt.Errorf("resolving %s: %w", ref, c.secrets.err(explain(err, r)))
	}
	return c.pin(ref, r, d.Digest)
}

// pin returns the pin of ref, checking a digest written in it.
func (c *Client) pin(ref string, r name.Reference, got v1.Hash) (image.Pin, error) {
	if d, ok := r.(name.Digest); ok && got.String() != d.DigestStr() {
		return image.Pin{}, fmt.Errorf("resolving %s: registry returned digest %s", ref, got)
	}
	return image.Pin{Ref: ref, Digest: got.String()}, nil
}

// Inspect returns the facts of ref on platform: for an index, of the
// platform's manifest. Layer root hashes are left empty.
func (c *Client) Inspect(ctx context.Context, ref, platform string) (image.Facts, error) {
	r, err := c.parse(ref)
	if err != nil {
		return image.Facts{}, err
	}
	want, err := v1.ParsePlatform(platform)
	if err != nil {
		return image.Facts{}, fmt.Errorf("platform %q: %w", platform, err)
	}
	f, err := c.inspect(ctx, r, label(ref), *want)
	if err != nil {
		return image.Facts{}, fmt.Errorf("inspecting %s: %w", ref, c.secrets.err(err))
	}
	f.Ref, f.Platform = ref, platform
	return f, nil
}

func (c *Client) inspect(ctx context.Context, r name.Reference, display string, want v1.Platform) (image.Facts, error) {
	img, f, err := c.platformImage(ctx, r, want, true)
	if err != nil || img == nil {
		return f, err
	}
	if err := readConfig(img, want, &f); err != nil {
		return f, err
	}
	if c.hasher != nil {
		if err := c.hashLayers(ctx, display, img, &f); err != nil {
			return f, err
		}
	}
	if c.cache != nil {
		entry := f
		entry.Ref, entry.Digest = "", "" // the same manifest may be reached from many refs
		if err := c.cache.Put(FactsKind, f.ManifestDigest, entry); err != nil {
			return f, err
		}
	}
	return f, nil
}

// platformImage returns the image of r's manifest for want (the
// matching entry of an index) and facts naming its digests; with cached,
// facts the cache has for that manifest instead, and no image.
func (c *Client) platformImage(ctx context.Context, r name.Reference, want v1.Platform, cached bool) (v1.Image, image.Facts, error) {
	desc, err := c.puller.Get(ctx, r)
	if err != nil {
		return nil, image.Facts{}, err
	}
	f := image.Facts{Pin: image.Pin{Digest: desc.Digest.String()}}
	if !desc.MediaType.IsIndex() {
		f.ManifestDigest = f.Digest
		if cf, ok := c.cachedFacts(f.ManifestDigest); ok && cached {
			return nil, withPin(cf, f), nil
		}
		img, err := desc.Image()
		return img, f, err
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, f, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, f, err
	}
	var found *v1.Descriptor
	for i := range im.Manifests {
		if p := im.Manifests[i].Platform; p != nil && p.Satisfies(want) {
			found = &im.Manifests[i]
			break
		}
	}
	if found == nil {
		return nil, f, fmt.Errorf("the index has no manifest for %s", want.String())
	}
	f.ManifestDigest = found.Digest.String()
	if cf, ok := c.cachedFacts(f.ManifestDigest); ok && cached {
		return nil, withPin(cf, f), nil
	}
	img, err := idx.Image(found.Digest)
	return img, f, err
}

// readConfig fills in f's platform, config and layer digests from img,
// which must be for want.
func readConfig(img v1.Image, want v1.Platform, f *image.Facts) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	// The config is read whole into memory, and the registry says how
	// big it is: a 3 GB one is refused here, before any of it is read
	// (and the read stops at the size the manifest gives).
	if size := m.Config.Size; size < 0 || size > MaxConfigSize {
		return fmt.Errorf("the image config is %d bytes, more than the %d cocofy reads", size, MaxConfigSize)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if err := checkPlatform(cf, want); err != nil {
		return err
	}
	got := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	if !got.Satisfies(want) {
		return fmt.Errorf("the image is for %s, not %s", got.String(), want.String())
	}
	f.OS, f.Architecture = cf.OS, cf.Architecture
	f.Config = image.Config{
		Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd, Env: cf.Config.Env,
		WorkingDir: cf.Config.WorkingDir, User: cf.Config.User, StopSignal: cf.Config.StopSignal,
	}
	for _, l := range m.Layers {
		f.Layers = append(f.Layers, image.Layer{Digest: l.Digest.String()})
	}
	return nil
}

// hashLayers fills in the root hash (and, when the hasher reads it, the
// /etc/group change) of each of f's layers.
func (c *Client) hashLayers(ctx context.Context, display string, img v1.Image, f *image.Facts) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	// A hasher that also reads what each layer does to /etc/group
	// (layerhash.Hasher) fills that in; with another, it stays unknown.
	// One that is told the image names it on its progress lines.
	var hashed []image.Layer
	switch lh := c.hasher.(type) {
	case interface {
		ImageLayers(context.Context, string, []v1.Layer) ([]image.Layer, error)
	}:
		hashed, err = lh.ImageLayers(ctx, display, layers)
	case interface {
		Layers(context.Context, []v1.Layer) ([]image.Layer, error)
	}:
		hashed, err = lh.Layers(ctx, layers)
	default:
		hashes, err := c.hasher.RootHashes(ctx, layers)
		if err != nil {
			return err
		}
		for i := range f.Layers {
			f.Layers[i].RootHash = hashes[i]
		}
		return nil
	}
	if err != nil {
		return err
	}
	for i := range f.Layers {
		f.Layers[i].RootHash, f.Layers[i].EtcGroup = hashed[i].RootHash, hashed[i].EtcGroup
	}
	return nil
}

// MaxConfigSize bounds an image config blob: real ones are kilobytes; a
// config with a hundred thousand environment variables is a few megabytes.
const MaxConfigSize = 16 << 20

// label names ref on progress lines: without its digest when it has a
// tag, else with the digest shortened.
func label(ref string) string {
	base, digest, ok := strings.Cut(ref, "@")
	if !ok {
		return ref
	}
	if _, err := name.NewTag(base, name.StrictValidation); err == nil {
		return base
	}
	if len(digest) > len("sha256:")+12 {
		digest = digest[:len("sha256:")+12]
	}
	return base + "@" + digest
}

// checkPlatform reports an image config that does not say which platform
// it is for.
func checkPlatform(cf *v1.ConfigFile, want v1.Platform) error {
	var missing []string
	if cf.OS == "" {
		missing = append(missing, "os")
	}
	if cf.Architecture == "" {
		missing = append(missing, "architecture")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("the image config sets no %s: cannot tell whether the image runs on %s", strings.Join(missing, "/"), want.String())
}

// cachedFacts returns cached facts, provided they have root hashes when
// this client computes them.
func (c *Client) cachedFacts(manifestDigest string) (image.Facts, bool) {
	if c.cache == nil {
		return image.Facts{}, false
	}
	var f image.Facts
	ok := c.cache.Get(FactsKind, manifestDigest, &f)
	if ok && c.hasher != nil && !f.HasRootHashes() {
		return image.Facts{}, false
	}
	return f, ok
}

// withPin returns cached platform facts with the pin of this lookup.
func withPin(cached, f image.Facts) image.Facts {
	cached.Digest, cached.ManifestDigest = f.Digest, f.ManifestDigest
	return cached
}

// explain puts what a 401, 403 or 404 answer to a manifest request means
// for the user before the registry's own words, if it gave any.
func explain(err error, r name.Reference) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	host := r.Context().RegistryStr()
	var msg string
	switch te.StatusCode {
	case http.StatusUnauthorized:
		msg = fmt.Sprintf("401 Unauthorized: no or wrong credentials for %s (docker login or az acr login)", host)
	case http.StatusForbidden:
		msg = fmt.Sprintf("403 Forbidden: the credentials for %s may not read %s", host, r.Context().RepositoryStr())
	case http.StatusNotFound:
		msg = fmt.Sprintf("404 Not Found: %s has no manifest %s", r.Context().Name(), r.Identifier())
	default:
		return err
	}
	if te.Request != nil {
		msg += " (" + te.Request.Method + " " + te.Request.URL.Redacted() + ")"
	}
	var said []string
	for _, d := range te.Errors {
		said = append(said, d.String())
	}
	if len(said) > 0 {
		msg += ": " + strings.Join(said, "; ")
	}
	return redacted{msg: msg, err: err}
}

var urlQuery = regexp.MustCompile(`(https?://[^\s?"]+)\?[^\s"]*?(:?(?:\s|"|$))`)
var urlUser = regexp.MustCompile(`(https?://)[^/\s@"]+@`)

// Redact removes query strings (which carry signed blob tokens) and
// user-info from URLs in err's text.
func Redact(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	r := urlQuery.ReplaceAllString(s, "$1?REDACTED$2")
	r = urlUser.ReplaceAllString(r, "${1}REDACTED@")
	if r == s {
		return err
	}
	return redacted{msg: r, err: err}
}

type redacted struct {
	msg string
	err error
}

func (r redacted) Error() string { return r.msg }
func (r redacted) Unwrap() error { return r.err }
