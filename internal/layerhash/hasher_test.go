package layerhash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/cache"
	"cocofy.dev/cocofy/image"
)

var _ Cache = cache.Dir{}

// testLayer is a v1.Layer whose blob and digest the test controls, and
// which counts how often its blob is opened.
type testLayer struct {
	v1.Layer
	digest v1.Hash                       // if set, replaces the layer's
	size   int64                         // if set, replaces the layer's
	blob   func() (io.ReadCloser, error) // if set, replaces the layer's
	opens  atomic.Int32
}

func (l *testLayer) Digest() (v1.Hash, error) {
	if l.digest != (v1.Hash{}) {
		return l.digest, nil
	}
	return l.Layer.Digest()
}

func (l *testLayer) Size() (int64, error) {
	if l.size != 0 {
		return l.size, nil
	}
	return l.Layer.Size()
}

func (l *testLayer) Compressed() (io.ReadCloser, error) {
	l.opens.Add(1)
	if l.blob != nil {
		return l.blob()
	}
	return l.Layer.Compressed()
}

func newLayer(blob []byte, mt types.MediaType) *testLayer {
	return &testLayer{Layer: static.NewLayer(blob, mt)}
}

func digestOf(b []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}
}

func hcsshimRootHash(t *testing.T, tarball []byte) string {
	t.Helper()
	h, err := tar2ext4.ConvertAndComputeRootDigest(bytes.NewReader(tarball))
	assert.NilError(t, err)
	return h
}

func TestHasherCompressions(t *testing.T) {
	tarball := mixedLayer(t, 21, 2<<20)
	want := hcsshimRootHash(t, tarball)
	cases := map[string]*testLayer{
		"gzip":                       newLayer(gzipBytes(t, tarball), types.DockerLayer),
		"zstd":                       newLayer(zstdBytes(t, tarball), types.OCILayerZStd),
		"uncompressed":               newLayer(tarball, types.OCIUncompressedLayer),
		"gzip labelled uncompressed": newLayer(gzipBytes(t, tarball), types.OCIUncompressedLayer),
		"multi-member gzip":          newLayer(append(gzipBytes(t, tarball[:1<<20]), gzipBytes(t, tarball[1<<20:])...), types.OCILayer),
	}
	for name, l := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var h Hasher
			got, err := h.RootHash(context.Background(), l)
			assert.NilError(t, err)
			assert.Equal(t, got, want)
		})
	}
}

func TestHasherEmptyLayer(t *testing.T) {
	tarball := newTar(t).bytes() // what docker calls an empty layer
	var h Hasher
	got, err := h.RootHash(context.Background(), newLayer(gzipBytes(t, tarball), types.DockerLayer))
	assert.NilError(t, err)
	assert.Equal(t, got, hcsshimRootHash(t, tarball))
}

func TestHasherDigestMismatch(t *testing.T) {
	gz := gzipBytes(t, mixedLayer(t, 22, 1<<20))
	wrong := digestOf([]byte("something else"))
	l := newLayer(gz, types.DockerLayer)
	l.digest = wrong
	var h Hasher
	_, err := h.RootHash(context.Background(), l)
	assert.ErrorIs(t, err, ErrDigestMismatch)
	assert.ErrorContains(t, err, "want "+wrong.String())
	assert.ErrorContains(t, err, "got "+digestOf(gz).String())
}

func TestHasherCorruptBlob(t *testing.T) {
	tarball := mixedLayer(t, 23, 1<<20)
	gz := gzipBytes(t, tarball)
	cases := map[string][]byte{
		"truncated gzip":   gz[:len(gz)/2],
		"flipped byte":     flip(gz, len(gz)/2),
		"truncated tar":    tarball[:len(tarball)/2],
		"flipped tar byte": flip(tarball, 700),
		"extra bytes":      append(bytes.Clone(gz), 0),
	}
	for name, blob := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := newLayer(blob, types.DockerLayer)
			l.digest, l.size = digestOf(gz), int64(len(gz))
			if strings.Contains(name, "tar") {
				l.digest, l.size = digestOf(tarball), int64(len(tarball))
			}
			var h Hasher
			_, err := h.RootHash(context.Background(), l)
			assert.ErrorIs(t, err, ErrDigestMismatch)
			assert.ErrorContains(t, err, l.digest.String())
			if strings.HasPrefix(name, "truncated") {
				assert.ErrorContains(t, err, "truncated")
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x40
	return b
}

func TestHasherReadError(t *testing.T) {
	gz := gzipBytes(t, mixedLayer(t, 24, 1<<20))
	boom := errors.New("connection reset")
	l := newLayer(gz, types.DockerLayer)
	l.blob = func() (io.ReadCloser, error) {
		return io.NopCloser(&errReader{r: bytes.NewReader(gz[:len(gz)/2]), err: boom}), nil
	}
	var h Hasher
	_, err := h.RootHash(context.Background(), l)
	assert.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, digestOf(gz).String())
}

func TestHasherNotTar(t *testing.T) {
	junk := randomBytes(rand.New(rand.NewPCG(25, 26)), 100_000)
	for name, l := range map[string]*testLayer{
		"gzip":         newLayer(gzipBytes(t, junk), types.DockerLayer),
		"uncompressed": newLayer(junk, types.OCIUncompressedLayer),
		"zstd":         newLayer(zstdBytes(t, junk), types.OCILayerZStd),
	} {
		t.Run(name, func(t *testing.T) {
			var h Hasher
			_, err := h.RootHash(context.Background(), l)
			assert.ErrorIs(t, err, ErrNotTar)
		})
	}
}

func TestHasherLimits(t *testing.T) {
	zeros := newTar(t).file("zeros", make([]byte, 64<<20)).bytes()
	bomb := newLayer(gzipBytes(t, zeros), types.DockerLayer)

	h := Hasher{Limits: Limits{MaxUncompressed: 8 << 20}}
	_, err := h.RootHash(context.Background(), bomb)
	assert.ErrorIs(t, err, ErrLimit)
	assert.ErrorContains(t, err, "more than 8 MiB (Limits.MaxUncompressed)")

	h = Hasher{Limits: Limits{MaxRatio: 100, RatioAfter: 1 << 20}}
	_, err = h.RootHash(context.Background(), bomb)
	assert.ErrorIs(t, err, ErrLimit)
	assert.ErrorContains(t, err, "more than 100 times")
	assert.ErrorContains(t, err, "Limits.MaxRatio")

	// A sparse file is tiny in the tar, but not in the image: it counts
	// at its full size, before any of it is hashed.
	h = Hasher{Limits: Limits{MaxUncompressed: 8 << 20}}
	sparse := newTar(t).sparse("s", 64<<20, 0, nil).bytes()
	_, err = h.RootHash(context.Background(), newLayer(gzipBytes(t, sparse), types.DockerLayer))
	assert.ErrorIs(t, err, ErrLimit)
	assert.ErrorContains(t, err, "the layer's files, sparse ones at their full size, add up to more than 8 MiB (Limits.MaxUncompressed)")

	h = Hasher{Limits: Limits{MaxRatio: 100, RatioAfter: 1 << 20}}
	zbomb := newLayer(zstdBytes(t, zeros), types.OCILayerZStd)
	_, err = h.RootHash(context.Background(), zbomb)
	assert.ErrorIs(t, err, ErrLimit)

	// By default, a layer of zeros of ordinary size is fine.
	h = Hasher{}
	got, err := h.RootHash(context.Background(), bomb)
	assert.NilError(t, err)
	assert.Equal(t, got, hcsshimRootHash(t, zeros))
}

// Sparse files count against MaxUncompressed: a layer of a few hundred
// bytes holding a sparse file larger than the limit (but whose ext4 image
// stays under twice the limit) is refused, not hashed in full.
func TestSparseFilesCountAgainstTheLimit(t *testing.T) {
	sparse := newTar(t).sparse("s", 100<<20, 0, nil).bytes()
	layer := gzipBytes(t, sparse)
	assert.Assert(t, len(layer) < 1<<10, "%d bytes", len(layer))
	h := Hasher{Limits: Limits{MaxUncompressed: 64 << 20}}
	_, err := h.RootHash(context.Background(), newLayer(layer, types.DockerLayer))
	assert.ErrorIs(t, err, ErrLimit)
	assert.ErrorContains(t, err, "the layer's files, sparse ones at their full size, add up to more than 64 MiB")

	// Files that fit are fine, sparse or not.
	h = Hasher{Limits: Limits{MaxUncompressed: 128 << 20}}
	got, err := h.RootHash(context.Background(), newLayer(layer, types.DockerLayer))
	assert.NilError(t, err)
	assert.Equal(t, got, hcsshimRootHash(t, sparse))
}

// mapCache is a Cache in memory.
type mapCache struct {
	mu sync.Mutex
	m  map[string][]byte // JSON, as cache.Dir keeps it
}

func (c *mapCache) Get(kind, key string, v any) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[kind+"/"+key]
	return ok && json.Unmarshal(b, v) == nil
}

func (c *mapCache) Put(kind, key string, v any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.m[kind+"/"+key] = b
	return nil
}

func TestHasherCache(t *testing.T) {
	tarball := mixedLayer(t, 27, 1<<20)
	want := hcsshimRootHash(t, tarball)
	for name, c := range map[string]Cache{
		"map":       &mapCache{},
		"cache.Dir": cache.Dir{Path: t.TempDir()},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLayer(gzipBytes(t, tarball), types.DockerLayer)
			h := Hasher{Cache: c}
			for range 2 {
				got, err := h.RootHash(context.Background(), l)
				assert.NilError(t, err)
				assert.Equal(t, got, want)
				assert.Equal(t, l.opens.Load(), int32(1), "blob opened again: not cached")
			}
			d, err := l.Digest()
			assert.NilError(t, err)
			var cached CacheEntry
			assert.Assert(t, c.Get(CacheKind, d.String(), &cached))
			assert.DeepEqual(t, cached, CacheEntry{RootHash: want, EtcGroup: &image.EtcGroup{Change: image.EtcGroupKept}})

			// An entry that is not a root hash is recomputed.
			assert.NilError(t, c.Put(CacheKind, d.String(), "not a hash"))
			got, err := h.RootHash(context.Background(), l)
			assert.NilError(t, err)
			assert.Equal(t, got, want)
			assert.Equal(t, l.opens.Load(), int32(2))
		})
	}
}

func TestHasherRootHashes(t *testing.T) {
	var layers []v1.Layer
	var want []string
	for i := range 6 {
		tarball := mixedLayer(t, uint64(30+i), 256<<10+i*50<<10)
		layers = append(layers, newLayer(gzipBytes(t, tarball), types.DockerLayer))
		want = append(want, hcsshimRootHash(t, tarball))
	}
	layers = append(layers, layers[1]) // the same layer twice
	want = append(want, want[1])
	h := Hasher{Jobs: 3}
	got, err := h.RootHashes(context.Background(), layers)
	assert.NilError(t, err)
	assert.DeepEqual(t, got, want)
	assert.Equal(t, layers[1].(*testLayer).opens.Load(), int32(1))

	got, err = h.RootHashes(context.Background(), nil)
	assert.NilError(t, err)
	assert.Equal(t, len(got), 0)
}

func TestHasherRootHashesError(t *testing.T) {
	junk := newLayer(gzipBytes(t, []byte(strings.Repeat("junk", 1000))), types.DockerLayer)
	layers := []v1.Layer{
		newLayer(gzipBytes(t, mixedLayer(t, 40, 64<<10)), types.DockerLayer),
		junk,
		newLayer(gzipBytes(t, mixedLayer(t, 41, 64<<10)), types.DockerLayer),
	}
	h := Hasher{Jobs: 2}
	_, err := h.RootHashes(context.Background(), layers)
	assert.ErrorIs(t, err, ErrNotTar)
	d, _ := junk.Digest()
	assert.ErrorContains(t, err, d.String())
}

// blockingBlob is a blob that delivers some bytes, then blocks until it is
// closed, as a stalled download does.
type blockingBlob struct {
	first  io.Reader
	closed chan struct{}
	once   sync.Once
}

func (b *blockingBlob) Read(p []byte) (int, error) {
	if n, err := b.first.Read(p); err != io.EOF {
		return n, err
	}
	<-b.closed
	return 0, errors.New("read on closed body")
}

func (b *blockingBlob) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

func TestHasherCancel(t *testing.T) {
	gz := gzipBytes(t, mixedLayer(t, 42, 2<<20))
	blob := &blockingBlob{first: bytes.NewReader(gz[:len(gz)/2]), closed: make(chan struct{})}
	l := newLayer(gz, types.DockerLayer)
	l.blob = func() (io.ReadCloser, error) { return blob, nil }
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	var h Hasher
	start := time.Now()
	_, err := h.RootHash(ctx, l)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Assert(t, time.Since(start) < 5*time.Second)
	select {
	case <-blob.closed:
	default:
		t.Error("blob not closed")
	}

	// A context canceled before the start reads nothing.
	_, err = h.RootHash(ctx, newLayer(gz, types.DockerLayer))
	assert.ErrorIs(t, err, context.Canceled)
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestHasherProgress(t *testing.T) {
	l := newLayer(gzipBytes(t, mixedLayer(t, 43, 1<<20)), types.DockerLayer)
	d, _ := l.Digest()
	var out syncBuffer
	h := Hasher{Progress: &out}
	_, err := h.RootHash(context.Background(), l)
	assert.NilError(t, err)
	line := out.b.String()
	assert.Assert(t, strings.HasPrefix(line, "hashing layer "+d.String()[:len("sha256:")+12]+" "), line)
	assert.Assert(t, strings.HasSuffix(line, " MB/s done\n"), line)
}
