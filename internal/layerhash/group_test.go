package layerhash

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/cache"
	"cocofy.dev/cocofy/image"
)

const debianGroup = `root:x:0:
daemon:x:1:
# a comment, then a blank line

adm:x:4:syslog,alice
nogroup:x:65534:
`

// A layer's /etc/group is read while it is hashed, between files large
// enough to span the pipe's chunks (which the tar reader skips without
// copying), and the root hash is still hcsshim's. The cache keeps both.
func TestHasherReadsEtcGroup(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	tarball := newTar(t).
		dir("etc/").
		file("etc/big1", randomBytes(r, 700<<10)).
		file("etc/group-", []byte("old:x:9:\n")).
		file("usr/big2", textBytes(r, 900<<10)).
		file("./etc/group", []byte(debianGroup)).
		file("usr/big3", binaryBytes(r, 300<<10)).
		bytes()
	want := hcsshimRootHash(t, tarball)
	c := cache.Dir{Path: t.TempDir()}
	h := Hasher{Cache: c}
	l := newLayer(gzipBytes(t, tarball), types.DockerLayer)
	for range 2 {
		got, err := h.Layer(context.Background(), l)
		assert.NilError(t, err)
		d, _ := l.Digest()
		assert.DeepEqual(t, got, image.Layer{Digest: d.String(), RootHash: want,
			EtcGroup: &image.EtcGroup{Change: image.EtcGroupWritten, GIDs: []uint32{0, 1, 4, 65534}}})
	}
	assert.Equal(t, l.opens.Load(), int32(1), "the second answer comes from the cache, /etc/group included")
}

// What each layer does to /etc/group, and what the image's /etc/group is
// once the layers are stacked: a later layer's whiteout removes it.
func TestLayerEtcGroup(t *testing.T) {
	kept := &image.EtcGroup{Change: image.EtcGroupKept}
	removed := &image.EtcGroup{Change: image.EtcGroupRemoved}
	unknown := &image.EtcGroup{Change: image.EtcGroupUnknown}
	written := func(gids ...uint32) *image.EtcGroup {
		return &image.EtcGroup{Change: image.EtcGroupWritten, GIDs: gids}
	}
	base := func(t *testing.T) *tarBuilder {
		return newTar(t).dir("etc/").file("etc/group", []byte(debianGroup))
	}
	cases := map[string]struct {
		tar  func(t *testing.T) []byte
		want *image.EtcGroup
	}{
		"written": {func(t *testing.T) []byte { return base(t).bytes() }, written(0, 1, 4, 65534)},
		"absolute path": {func(t *testing.T) []byte {
			return newTar(t).file("/etc/group", []byte("a:x:5:\n")).bytes()
		}, written(5)},
		"no /etc/group": {func(t *testing.T) []byte {
			return newTar(t).dir("etc/").file("etc/passwd", []byte("root:x:0:0::/root:/bin/sh\n")).file("etc/groups", nil).bytes()
		}, kept},
		"empty layer": {func(t *testing.T) []byte { return nil }, kept},
		"whiteout": {func(t *testing.T) []byte {
			return newTar(t).dir("etc/").file("etc/.wh.group", nil).bytes()
		}, removed},
		"whiteout of etc": {func(t *testing.T) []byte { return newTar(t).file(".wh.etc", nil).bytes() }, removed},
		"opaque etc": {func(t *testing.T) []byte {
			return newTar(t).dir("etc/").file("etc/.wh..wh..opq", nil).file("etc/hosts", nil).bytes()
		}, removed},
		"opaque root": {func(t *testing.T) []byte { return newTar(t).file(".wh..wh..opq", nil).bytes() }, removed},
		"opaque etc with its own file": {func(t *testing.T) []byte {
			return newTar(t).dir("etc/").file("etc/group", []byte("a:x:5:\n")).file("etc/.wh..wh..opq", nil).bytes()
		}, written(5)},
		"whiteout, then file": {func(t *testing.T) []byte {
			return newTar(t).dir("etc/").file("etc/.wh.group", nil).file("etc/group", []byte("a:x:5:\n")).bytes()
		}, written(5)},
		"symlink": {func(t *testing.T) []byte {
			return newTar(t).dir("etc/").symlink("etc/group", "/usr/share/group").bytes()
		}, unknown},
		"hard link": {func(t *testing.T) []byte {
			return newTar(t).dir("etc/").file("etc/group-", []byte(debianGroup)).link("etc/group", "etc/group-").bytes()
		}, unknown},
		"etc is a symlink": {func(t *testing.T) []byte {
			return newTar(t).symlink("etc", "usr/etc").dir("usr/etc/").file("usr/etc/group", []byte("a:x:5:\n")).bytes()
		}, unknown},
		"too large": {func(t *testing.T) []byte {
			return newTar(t).dir("etc/").file("etc/group", []byte(strings.Repeat("g:x:1:\n", MaxEtcGroupSize/7+1))).bytes()
		}, unknown},
		"GID beyond 32 bits": {func(t *testing.T) []byte {
			return newTar(t).dir("etc/").file("etc/group", []byte("a:x:4294967296:\n")).bytes()
		}, unknown},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tarball := tc.tar(t)
			root, got, err := hashTar(bytes.NewReader(tarball), "", 0, true)
			assert.NilError(t, err)
			assert.Equal(t, root, hcsshimRootHash(t, tarball))
			assert.DeepEqual(t, got, tc.want)
		})
	}

	// A base layer defines the groups; a later layer whites the file out.
	upper := newTar(t).dir("etc/").file("etc/.wh.group", nil).bytes()
	h := Hasher{}
	ls, err := h.Layers(context.Background(), []v1.Layer{
		newLayer(gzipBytes(t, base(t).bytes()), types.DockerLayer),
		newLayer(gzipBytes(t, upper), types.DockerLayer),
	})
	assert.NilError(t, err)
	assert.DeepEqual(t, ls[0].EtcGroup, written(0, 1, 4, 65534))
	assert.DeepEqual(t, ls[1].EtcGroup, removed)
	gids, exists, ok := image.Facts{Layers: ls}.EtcGroup()
	assert.Assert(t, ok && !exists, "whited out: no /etc/group, known")
	assert.Equal(t, len(gids), 0)
	gids, exists, ok = image.Facts{Layers: ls[:1]}.EtcGroup()
	assert.Assert(t, ok && exists)
	assert.DeepEqual(t, gids, []uint32{0, 1, 4, 65534})
}

// The groups are those the guest's parser (moby/sys/user) finds.
func TestParseEtcGroup(t *testing.T) {
	gids, ok := parseEtcGroup([]byte("  root:x:0:\r\n#wheel:x:10:\n\nstaff:x:50:a,b\nstaff2:x:50:\nnonum:x:abc:\nshort\nplus:x:+7:\nbig:x:4294967295:\nlast:x:3:"))
	assert.Assert(t, ok)
	// "nonum" and "short" have GID 0 for the guest, as root does: three
	// lines define GID 0, two GID 50 (the guest refuses both).
	assert.DeepEqual(t, gids, []uint32{0, 0, 0, 3, 7, 50, 50, 4294967295})

	gids, ok = parseEtcGroup(nil)
	assert.Assert(t, ok)
	assert.DeepEqual(t, gids, []uint32{})

	for _, bad := range []string{"a:x:-1:\n", "a:x:99999999999999999999:\n"} {
		_, ok := parseEtcGroup([]byte(bad))
		assert.Assert(t, !ok, bad)
	}
}

// A root hash cached by an older cocofy (a string alone) is still used,
// without /etc/group facts; an entry whose facts this cocofy did not write
// keeps its root hash only.
func TestHasherOldCacheEntry(t *testing.T) {
	tarball := newTar(t).dir("etc/").file("etc/group", []byte(debianGroup)).bytes()
	want := hcsshimRootHash(t, tarball)
	l := newLayer(gzipBytes(t, tarball), types.DockerLayer)
	d, err := l.Digest()
	assert.NilError(t, err)
	c := cache.Dir{Path: t.TempDir()}
	h := Hasher{Cache: c}

	assert.NilError(t, c.Put(CacheKind, d.String(), want))
	got, err := h.Layer(context.Background(), l)
	assert.NilError(t, err)
	assert.DeepEqual(t, got, image.Layer{Digest: d.String(), RootHash: want})
	assert.Equal(t, l.opens.Load(), int32(0), "served from the old entry")

	assert.NilError(t, c.Put(CacheKind, d.String(), map[string]any{"rootHash": want, "etcGroup": map[string]any{"change": "rewritten"}}))
	got, err = h.Layer(context.Background(), l)
	assert.NilError(t, err)
	assert.DeepEqual(t, got, image.Layer{Digest: d.String(), RootHash: want})
	assert.Equal(t, l.opens.Load(), int32(0))
}

// The tap reads and skips across chunks like a plain reader of the bytes,
// and ends with io.EOF past the end.
func TestTapSeek(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	data := randomBytes(r, 3*chunkSize+123)
	p, tp := newTappedPipe(bytes.NewReader(data))
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer tp.drain()
		buf := make([]byte, 1000)
		pos := 0
		for {
			skip := r.IntN(chunkSize / 2)
			at, err := tp.Seek(int64(skip), io.SeekCurrent)
			pos += skip
			assert.Check(t, err)
			assert.Check(t, at == int64(pos))
			n, err := tp.Read(buf)
			if pos >= len(data) {
				assert.Check(t, err == io.EOF, "past the end: %v", err)
				return
			}
			assert.Check(t, err)
			assert.Check(t, bytes.Equal(buf[:n], data[pos:pos+n]), "at %d", pos)
			pos += n
		}
	}()
	got, err := io.ReadAll(p)
	assert.NilError(t, err)
	assert.Assert(t, bytes.Equal(got, data))
	<-done
}
