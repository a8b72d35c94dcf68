package layerhash

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"cocofy.dev/cocofy/cache"
	"cocofy.dev/cocofy/image"
)

// Defaults of Hasher and Limits.
const (
	DefaultJobs            = 4
	DefaultMaxUncompressed = 16 << 30
	DefaultMaxRatio        = 1000
	DefaultRatioAfter      = 1 << 30
)

// CacheKind is the kind of the Cache entries Hasher reads and writes, keyed
// by layer digest. The value is a CacheEntry; entries written before
// CacheEntry existed hold the root hash alone (a string) and are still
// used, with no EtcGroup.
const CacheKind = "roothash"

// CacheEntry is the value of a Cache entry: what hashing a layer told.
type CacheEntry struct {
	RootHash string `json:"rootHash"`
	// EtcGroup is what the layer does to /etc/group; nil in entries of an
	// older cocofy.
	EtcGroup *image.EtcGroup `json:"etcGroup,omitempty"`
}

// Limits protect against decompression bombs: layers whose blob is small
// but which decompress to a huge tar. Zero means the default.
type Limits struct {
	// MaxUncompressed is the most bytes a layer may decompress to, and
	// the most its files' sizes may add up to, a sparse file counting at
	// its full size (it takes no room in the tar but is hashed in full);
	// negative means no limit. Its ext4 image may be twice as large. By
	// default, 16 GiB: the images Confidential ACI runs are far smaller.
	MaxUncompressed int64
	// MaxRatio is the most bytes a layer may decompress to per byte of
	// blob read, once it has decompressed to more than RatioAfter bytes;
	// negative means no limit. By default, 1000: deflate cannot do much
	// better (1032), so only a gzip stream of almost nothing but zeros, or
	// a zstd bomb, goes past it.
	MaxRatio int64
	// RatioAfter is the number of decompressed bytes from which MaxRatio
	// applies; negative means from the first byte. By default, 1 GiB, so
	// that layers of mostly zeros but of ordinary size are fine.
	RatioAfter int64
}

func (l Limits) withDefaults() Limits {
	def := func(v *int64, d int64) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 1<<63 - 1
		}
	}
	def(&l.MaxUncompressed, DefaultMaxUncompressed)
	def(&l.MaxRatio, DefaultMaxRatio)
	switch {
	case l.RatioAfter == 0:
		l.RatioAfter = DefaultRatioAfter
	case l.RatioAfter < 0:
		l.RatioAfter = 0
	}
	return l
}

// Cache keeps what hashing told about each layer (CacheEntry) by layer
// digest (kind CacheKind).
type Cache = cache.Store

// Hasher computes the root hashes of image layers. It reads each layer's
// compressed blob and verifies its digest while streaming it, decompresses
// it (gzip, zstd, or none, told apart by their magic numbers), enforces
// Limits, and hashes the tar as RootHash does, reading what the layer does
// to /etc/group from the same stream. The zero value is ready to
// use. A Hasher may be used from several goroutines.
type Hasher struct {
	// Cache, when set, keeps root hashes and /etc/group facts by layer
	// digest (kind CacheKind). A failure to store one is reported on
	// Progress, not returned.
	Cache Cache
	// Jobs is the number of layers the Hasher hashes at once, across all
	// its callers (one budget, however many images are inspected in
	// parallel). By default, DefaultJobs.
	Jobs int
	// Limits guard against decompression bombs.
	Limits Limits
	// Progress, when set, receives a line per layer about every second
	// while it is hashed, and one when it is done, each naming the images
	// that use the layer (ImageLayers). A layer is hashed, and its lines
	// printed, once per Hasher however many images share it.
	Progress io.Writer
	// TempDir is where the temporary files go. By default, os.TempDir().
	TempDir string

	mu     sync.Mutex            // serializes writes to Progress; guards users and hashed
	users  map[string][]string   // layer digest: the images that use it, in order of asking
	hashed map[string]CacheEntry // layer digest: what hashing it told, this Hasher's lifetime

	budgetOnce sync.Once
	budget     chan struct{}      // Jobs tokens, shared by every hash
	flight     singleflight.Group // one hash per digest at a time
}

// acquire takes one of the Jobs tokens, or fails when ctx ends first.
func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	h.budgetOnce.Do(func() { h.budget = make(chan struct{}, orDefault(h.Jobs, DefaultJobs)) })
	select {
	case h.budget <- struct{}{}:
		return func() { <-h.budget }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// RootHashes returns the root hashes of ls, in the same order, as Layers
// does.
func (h *Hasher) RootHashes(ctx context.Context, ls []v1.Layer) ([]string, error) {
	facts, err := h.Layers(ctx, ls)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(facts))
	for i, f := range facts {
		out[i] = f.RootHash
	}
	return out, nil
}

// Layers returns the facts of ls (digest, root hash, and what the layer
// does to /etc/group when that is known), in the same order, hashing up to
// Jobs layers at once, each distinct digest once. It returns the first
// error and stops the other layers.
func (h *Hasher) Layers(ctx context.Context, ls []v1.Layer) ([]image.Layer, error) {
	return h.ImageLayers(ctx, "", ls)
}

// ImageLayers is Layers for the layers of the image named img, which the
// progress lines of those layers name, together with the other images that
// use them. Every image is named before any of its layers is hashed, so
// that images inspected at once are named on the lines of the layers they
// share.
func (h *Hasher) ImageLayers(ctx context.Context, img string, ls []v1.Layer) ([]image.Layer, error) {
	digests := make([]v1.Hash, len(ls))
	first := map[v1.Hash]int{}
	for i, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("layer %d: reading digest: %w", i, err)
		}
		digests[i] = d
		if _, ok := first[d]; !ok {
			first[d] = i
		}
	}
	if img != "" {
		h.use(img, digests)
	}
	out := make([]image.Layer, len(ls))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(orDefault(h.Jobs, DefaultJobs))
	for i, l := range ls {
		if first[digests[i]] != i {
			continue
		}
		g.Go(func() error {
			f, err := h.Layer(ctx, l)
			out[i] = f
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, d := range digests {
		out[i] = out[first[d]]
	}
	return out, nil
}

// use records that image img has the layers ds.
func (h *Hasher) use(img string, ds []v1.Hash) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.users == nil {
		h.users = map[string][]string{}
	}
	for _, d := range ds {
		if !slices.Contains(h.users[d.String()], img) {
			h.users[d.String()] = append(h.users[d.String()], img)
		}
	}
}

// usersOf returns the images that use layer d, as the progress lines name
// them: " (a, b)", or "" when none was named.
func (h *Hasher) usersOf(d string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.users[d]) == 0 {
		return ""
	}
	return " (" + strings.Join(h.users[d], ", ") + ")"
}

// orDefault returns v, or def if v is not positive.
func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// RootHash returns the root hash of l, as Layer does.
func (h *Hasher) RootHash(ctx context.Context, l v1.Layer) (string, error) {
	f, err := h.Layer(ctx, l)
	return f.RootHash, err
}

// Layer returns the facts of l: its digest, its root hash, and what it
// does to /etc/group, read from the same stream (EtcGroup is nil when the
// root hash comes from a Cache entry of an older cocofy). They come from
// Cache if they are there. Errors name the layer digest.
func (h *Hasher) Layer(ctx context.Context, l v1.Layer) (image.Layer, error) {
	d, err := l.Digest()
	if err != nil {
		return image.Layer{}, fmt.Errorf("reading layer digest: %w", err)
	}
	e, ok, bad := h.cached(d.String())
	if ok {
		return image.Layer{Digest: d.String(), RootHash: e.RootHash, EtcGroup: e.EtcGroup}, nil
	}
	// Images that share a layer hash it once: at once, by waiting for the
	// same hash; later, by taking what it told (also without a Cache, or
	// with one that cannot be written), unless the Cache holds an entry to
	// rewrite.
	v, err, _ := h.flight.Do(d.String(), func() (any, error) {
		if e, ok := h.hashedBefore(d.String()); ok && !bad {
			return e, nil
		}
		release, err := h.acquire(ctx)
		if err != nil {
			return CacheEntry{}, err
		}
		defer release()
		e, err := h.hash(ctx, l, d)
		if err != nil {
			return CacheEntry{}, err
		}
		h.mu.Lock()
		if h.hashed == nil {
			h.hashed = map[string]CacheEntry{}
		}
		h.hashed[d.String()] = e
		h.mu.Unlock()
		if h.Cache != nil {
			if err := h.Cache.Put(CacheKind, d.String(), e); err != nil {
				h.printf("warning: caching the root hash of layer %s: %v\n", d, err)
			}
		}
		return e, nil
	})
	if err != nil {
		return image.Layer{}, fmt.Errorf("hashing layer %s: %w", d, err)
	}
	e = v.(CacheEntry)
	return image.Layer{Digest: d.String(), RootHash: e.RootHash, EtcGroup: e.EtcGroup}, nil
}

// hashedBefore returns what hashing layer d told, if this Hasher hashed it.
func (h *Hasher) hashedBefore(d string) (CacheEntry, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.hashed[d]
	return e, ok
}

// cached returns the Cache entry of layer digest d, if there is a usable
// one: a CacheEntry, or a root hash alone (an older cocofy's entry). bad
// reports an entry that is there but unusable.
func (h *Hasher) cached(d string) (e CacheEntry, ok, bad bool) {
	if h.Cache == nil {
		return CacheEntry{}, false, false
	}
	var raw json.RawMessage
	if !h.Cache.Get(CacheKind, d, &raw) {
		return CacheEntry{}, false, false
	}
	if json.Unmarshal(raw, &e.RootHash) != nil && json.Unmarshal(raw, &e) != nil {
		return CacheEntry{}, false, true
	}
	if !isRootHash(e.RootHash) {
		return CacheEntry{}, false, true
	}
	if e.EtcGroup != nil && !e.EtcGroup.Valid() {
		e.EtcGroup = nil // not what this cocofy writes: not known
	}
	return e, true, false
}

func isRootHash(s string) bool {
	if len(s) != 2*sumSize {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (h *Hasher) hash(ctx context.Context, l v1.Layer, d v1.Hash) (CacheEntry, error) {
	if d.Algorithm != "sha256" {
		return CacheEntry{}, fmt.Errorf("unsupported digest algorithm %q", d.Algorithm)
	}
	if err := ctx.Err(); err != nil {
		return CacheEntry{}, err
	}
	size, err := l.Size()
	if err != nil {
		size = -1
	}
	rc, err := l.Compressed()
	if err != nil {
		return CacheEntry{}, fmt.Errorf("opening blob: %w", err)
	}
	limits := h.Limits.withDefaults()
	s := newLayerStream(ctx, rc, d, size, limits)
	defer s.close()
	if h.Progress != nil {
		s.progress = h.progress(d, size)
	}
	root, group, err := hashTar(s, h.TempDir, limits.MaxUncompressed, true)
	if ctx.Err() != nil {
		return CacheEntry{}, ctx.Err()
	}
	if err != nil {
		// A blob that is not the layer is the better explanation, if the
		// layer was read at all.
		if s.dec != nil {
			if verr := s.verifyRest(); errors.Is(verr, ErrDigestMismatch) {
				return CacheEntry{}, verr
			}
		}
		return CacheEntry{}, err
	}
	if s.progress != nil {
		s.progress(s.in, true)
	}
	return CacheEntry{RootHash: root, EtcGroup: group}, nil
}

// progress returns a function that prints how far the hashing of layer d
// is, at most about once a second unless done.
func (h *Hasher) progress(d v1.Hash, size int64) func(read int64, done bool) {
	start := time.Now()
	last := start
	short := d.String()
	if len(short) > len("sha256:")+12 {
		short = short[:len("sha256:")+12]
	}
	return func(read int64, done bool) {
		now := time.Now()
		if !done && now.Sub(last) < time.Second {
			return
		}
		last = now
		const mb = 1e6
		rate := float64(read) / mb / max(now.Sub(start).Seconds(), 1e-3)
		users := h.usersOf(d.String())
		switch {
		case done:
			h.printf("hashing layer %s%s %.1f MB %.1f MB/s done\n", short, users, float64(read)/mb, rate)
		case size > 0:
			h.printf("hashing layer %s%s %.1f/%.1f MB %.1f MB/s\n", short, users, float64(read)/mb, float64(size)/mb, rate)
		default:
			h.printf("hashing layer %s%s %.1f MB %.1f MB/s\n", short, users, float64(read)/mb, rate)
		}
	}
}

func (h *Hasher) printf(format string, args ...any) {
	if h.Progress == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(h.Progress, format, args...)
}

// blobReader reads a blob, hashing and counting what it reads. Its errors
// other than io.EOF are readErrors.
type blobReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (b *blobReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	b.n += int64(n)
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

// readError is a failure to read the blob, as opposed to a problem with
// what was read.
type readError struct{ err error }

func (e *readError) Error() string { return "reading blob: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// layerStream is the uncompressed tar of a layer, read from its blob. It
// returns io.EOF only after it has read the whole blob and found the digest
// right, and fails when Limits are exceeded.
//
// The blob is read and hashed in a goroutine of its own, ahead of the
// decompression, so that neither the network nor SHA-256 holds the
// decompression up.
type layerStream struct {
	ctx       context.Context
	blob      *blobReader // read by raw's goroutine until raw's EOF
	raw       *pipe       // the blob
	closeBlob func()
	stopClose func() bool
	want      v1.Hash
	size      int64 // of the blob, -1 if unknown
	limits    Limits
	progress  func(read int64, done bool)

	in       int64         // bytes taken from raw
	br       *bufio.Reader // over raw
	dec      io.Reader     // decompresses br
	closeDec func()
	out      int64 // bytes decompressed
	err      error // sticky: once set, Read returns it
	verified bool  // verifyRest ran
	verr     error // and returned this
}

func newLayerStream(ctx context.Context, rc io.ReadCloser, want v1.Hash, size int64, limits Limits) *layerStream {
	s := &layerStream{ctx: ctx, want: want, size: size, limits: limits}
	// Closing the blob is what unblocks a read from the network.
	var once sync.Once
	s.closeBlob = func() { once.Do(func() { _ = rc.Close() }) }
	s.stopClose = context.AfterFunc(ctx, s.closeBlob)
	s.blob = &blobReader{r: rc, h: sha256.New()}
	s.raw = newPipe(s.blob)
	s.br = bufio.NewReaderSize(countingReader{s.raw, &s.in}, 64<<10)
	return s
}

// close releases the decompressor and the blob, and waits for the blob's
// goroutine.
func (s *layerStream) close() {
	if s.closeDec != nil {
		s.closeDec()
	}
	s.stopClose()
	s.closeBlob()
	_ = s.raw.stop()
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// open chooses the decompressor from the blob's first bytes, as containerd
// does: media types are not always right.
func (s *layerStream) open() error {
	magic, _ := s.br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		z, err := gzip.NewReader(s.br)
		if err != nil {
			return fmt.Errorf("decompressing gzip: %w", err)
		}
		s.dec, s.closeDec = z, func() { _ = z.Close() }
	case bytes.HasPrefix(magic, zstdMagic):
		z, err := zstd.NewReader(s.br)
		if err != nil {
			return fmt.Errorf("decompressing zstd: %w", err)
		}
		s.dec, s.closeDec = z, z.Close
	default:
		s.dec = s.br
	}
	return nil
}

// Read implements io.Reader.
func (s *layerStream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, err
	}
	if s.dec == nil {
		if err := s.open(); err != nil {
			s.err = s.fail(err)
			return 0, s.err
		}
	}
	n, err := s.dec.Read(p)
	s.out += int64(n)
	if s.progress != nil {
		s.progress(s.in, false)
	}
	if lerr := s.checkLimits(); lerr != nil {
		s.err = lerr
		return 0, lerr
	}
	switch {
	case err == io.EOF:
		if verr := s.verifyRest(); verr != nil {
			s.err = verr
			return n, verr
		}
	case err != nil:
		s.err = s.fail(fmt.Errorf("decompressing: %w", err))
		return n, s.err
	}
	return n, err
}

// fail returns the error to report for a decompression failure err: a
// failure to read the blob, else a digest mismatch, else err.
func (s *layerStream) fail(err error) error {
	var re *readError
	if errors.As(err, &re) {
		return re
	}
	if verr := s.verifyRest(); verr != nil {
		return verr
	}
	return err
}

func (s *layerStream) checkLimits() error {
	lim := s.limits
	if s.out > lim.MaxUncompressed {
		return fmt.Errorf("%w: the layer decompresses to more than %s (Limits.MaxUncompressed)", ErrLimit, bytesString(lim.MaxUncompressed))
	}
	if s.out > lim.RatioAfter && s.out/lim.MaxRatio > s.in {
		return fmt.Errorf("%w: the layer decompresses to more than %d times the %s of blob read, past %s (Limits.MaxRatio)",
			ErrLimit, lim.MaxRatio, bytesString(s.in), bytesString(lim.RatioAfter))
	}
	return nil
}

// verifyRest reads the rest of the blob and checks its digest. It does
// nothing if a limit was hit or ctx is done, and returns the same result
// when called again.
func (s *layerStream) verifyRest() error {
	if s.verified || errors.Is(s.err, ErrLimit) || s.ctx.Err() != nil {
		return s.verr
	}
	s.verified = true
	if _, err := io.Copy(io.Discard, s.br); err != nil {
		s.verr = err
		return err
	}
	// raw is at EOF: its goroutine is done with blob.
	got := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", s.blob.h.Sum(nil))}
	switch {
	case got == s.want:
	case s.size >= 0 && s.blob.n < s.size:
		s.verr = fmt.Errorf("%w: blob truncated: read %d of %d bytes, digest %s, want %s", ErrDigestMismatch, s.blob.n, s.size, got, s.want)
	default:
		s.verr = fmt.Errorf("%w: got %s, want %s", ErrDigestMismatch, got, s.want)
	}
	return s.verr
}

// bytesString formats n bytes for people.
func bytesString(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
