package layerhash

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"
	"gotest.tools/v3/assert"
)

// assertSameAsHcsshim checks that RootHash(b) is what hcsshim computes for
// b, or that both fail.
func assertSameAsHcsshim(t *testing.T, b []byte) {
	t.Helper()
	want, werr := tar2ext4.ConvertAndComputeRootDigest(bytes.NewReader(b))
	got, err := RootHash(bytes.NewReader(b))
	if werr != nil {
		assert.Assert(t, err != nil, "RootHash = %q, want an error like hcsshim's: %v", got, werr)
		return
	}
	assert.NilError(t, err)
	assert.Equal(t, got, want)
}

func TestRootHashMatchesHcsshim(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	long := strings.Repeat("long-directory-name/", 6) + strings.Repeat("n", 120)
	bigXattrs := map[string]string{
		"SCHILY.xattr.user.big":            strings.Repeat("x", 1500),
		"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x30\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
	}
	cases := map[string]func(*tarBuilder) *tarBuilder{
		"empty tar": func(b *tarBuilder) *tarBuilder { return b },
		"regular files": func(b *tarBuilder) *tarBuilder {
			for _, n := range []int{0, 1, 59, 60, 4095, 4096, 4097, 8192, 100_000, 3 << 20} {
				b.file("files/size-"+strconv.Itoa(n), randomBytes(r, n))
			}
			return b.file("top", []byte("top\n"))
		},
		"directories": func(b *tarBuilder) *tarBuilder {
			b.file("a/b/c/implicit-parents", []byte("x"))
			b.add(tar.Header{Typeflag: tar.TypeDir, Name: "a/b/", Mode: 0o700, Uid: 70000, Gid: 80000}, nil)
			b.add(tar.Header{Typeflag: tar.TypeDir, Name: "a/", Mode: 0o1777, ModTime: time.Unix(-1e9, 5)}, nil)
			b.add(tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755}, nil)
			b.add(tar.Header{Typeflag: tar.TypeDir, Name: "future", ModTime: time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC)}, nil)
			b.add(tar.Header{Typeflag: tar.TypeDir, Name: "times", AccessTime: epoch.Add(time.Hour), ChangeTime: epoch.Add(2 * time.Hour), Format: tar.FormatPAX}, nil)
			for i := range 300 { // a directory of several blocks
				b.file("many/"+strings.Repeat("e", 40)+strconv.Itoa(i), nil)
			}
			return b
		},
		"symlinks": func(b *tarBuilder) *tarBuilder {
			b.file("target", []byte("target"))
			b.symlink("short", "target")
			b.symlink("fits", strings.Repeat("s", 59))
			b.symlink("spills", strings.Repeat("s", 60))
			b.symlink("long", strings.Repeat("dir/", 70)+"target")
			return b.symlink("dangling", "/nowhere")
		},
		"hard links": func(b *tarBuilder) *tarBuilder {
			b.file("d/file", randomBytes(r, 10000))
			b.link("d/link", "d/file")
			b.link("other/link2", "d/file")
			b.symlink("sym", "d/file")
			return b.link("symlink-link", "sym")
		},
		"whiteouts": func(b *tarBuilder) *tarBuilder {
			b.dir("etc/")
			b.file("etc/.wh.passwd", nil)
			b.file(".wh.toplevel", nil)
			b.file("var/lib/.wh.gone", nil)
			b.file("opq/.wh..wh..opq", nil)
			b.dir("opq/")
			b.dir("opq2/")
			b.file("opq2/.wh..wh..opq", nil)
			return b.file("opq2/kept", []byte("kept"))
		},
		"opaque directory with an xattr block": func(b *tarBuilder) *tarBuilder {
			// Marking the directory opaque reads its xattr block back
			// and rewrites it.
			b.add(tar.Header{Typeflag: tar.TypeDir, Name: "x/", PAXRecords: bigXattrs}, nil)
			b.file("x/before", randomBytes(r, 5000))
			b.file("x/.wh..wh..opq", nil)
			b.file("x/after", randomBytes(r, 5000))
			b.add(tar.Header{Typeflag: tar.TypeDir, Name: "y/", PAXRecords: bigXattrs}, nil)
			b.file("y/.wh..wh..opq", nil)
			return b.file("y/.wh..wh..opq", nil)
		},
		"long names": func(b *tarBuilder) *tarBuilder {
			b.file(long, []byte("long"))
			b.file(strings.Repeat("c", 255), []byte("longest component"))
			b.symlink("to-long", long)
			b.link(long+"-link", long)
			return b.add(tar.Header{Typeflag: tar.TypeReg, Name: strings.Repeat("g/", 60) + "gnu", Format: tar.FormatGNU}, []byte("gnu"))
		},
		"devices and fifos": func(b *tarBuilder) *tarBuilder {
			b.add(tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3}, nil)
			b.add(tar.Header{Typeflag: tar.TypeChar, Name: "dev/big", Mode: 0o600, Devmajor: 4095, Devminor: 1 << 19}, nil)
			b.add(tar.Header{Typeflag: tar.TypeBlock, Name: "dev/sda", Mode: 0o660, Devmajor: 8, Devminor: 0}, nil)
			return b.add(tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o600}, nil)
		},
		"xattrs": func(b *tarBuilder) *tarBuilder {
			b.add(tar.Header{Typeflag: tar.TypeReg, Name: "small", PAXRecords: map[string]string{"SCHILY.xattr.user.a": "1"}}, []byte("a"))
			b.add(tar.Header{Typeflag: tar.TypeReg, Name: "big", PAXRecords: bigXattrs}, randomBytes(r, 9000))
			return b.add(tar.Header{Typeflag: tar.TypeDir, Name: "dir/", PAXRecords: map[string]string{
				"SCHILY.xattr.trusted.overlay.opaque": "y", "SCHILY.xattr.user.z": strings.Repeat("z", 200),
			}}, nil)
		},
		"sparse files": func(b *tarBuilder) *tarBuilder {
			b.sparse("sparse/holes", 3<<20, 5000, randomBytes(r, 10000))
			b.sparse("sparse/all-hole", 1<<20, 1<<20, nil)
			return b.file("sparse/after", []byte("after"))
		},
		"modes and owners": func(b *tarBuilder) *tarBuilder {
			b.add(tar.Header{Typeflag: tar.TypeReg, Name: "suid", Mode: 0o4755, Uid: 0, Gid: 0}, []byte("x"))
			b.add(tar.Header{Typeflag: tar.TypeReg, Name: "owned", Mode: 0o640, Uid: 1 << 20, Gid: 65536}, []byte("y"))
			return b.add(tar.Header{Typeflag: tar.TypeReg, Name: "zero-mode", Mode: 0}, []byte("z"))
		},
		"replaced entries": func(b *tarBuilder) *tarBuilder {
			b.file("empty", nil)
			b.file("empty", nil)
			b.symlink("s", "a")
			b.symlink("s", "b")
			b.dir("d/")
			return b.add(tar.Header{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o711}, nil)
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			assertSameAsHcsshim(t, build(newTar(t)).bytes())
		})
	}
	t.Run("mixed layer", func(t *testing.T) {
		assertSameAsHcsshim(t, mixedLayer(t, 7, 3<<20))
	})
}

// TestRootHashErrorsLikeHcsshim feeds streams that hcsshim refuses, or
// accepts although they are odd.
func TestRootHashErrorsLikeHcsshim(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	valid := newTar(t).file("a", randomBytes(r, 20000)).file("b", []byte("b")).bytes()
	cases := map[string][]byte{
		"empty stream":       {},
		"random bytes":       randomBytes(r, 10000),
		"truncated tar":      valid[:10000],
		"trailing garbage":   append(bytes.Clone(valid), randomBytes(r, 5000)...),
		"file replaced":      newTar(t).file("f", []byte("data")).file("f", []byte("again")).bytes(),
		"file over dir":      newTar(t).dir("d/").file("d", []byte("x")).bytes(),
		"dir over file":      newTar(t).file("d", []byte("x")).dir("d/").bytes(),
		"link to nothing":    newTar(t).link("l", "missing").bytes(),
		"link to a dir":      newTar(t).dir("d/").link("l", "d").bytes(),
		"name too long":      newTar(t).file(strings.Repeat("n", 256), nil).bytes(),
		"xattr too big":      newTar(t).add(tar.Header{Typeflag: tar.TypeReg, Name: "x", PAXRecords: map[string]string{"SCHILY.xattr.user.x": strings.Repeat("x", 5000)}}, nil).bytes(),
		"whiteout in a file": newTar(t).file("f", nil).file("f/.wh.x", nil).bytes(),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			assertSameAsHcsshim(t, b)
		})
	}
}

func TestRootHashNotTar(t *testing.T) {
	_, err := RootHash(strings.NewReader(strings.Repeat("this is not a tar archive\n", 100)))
	assert.ErrorIs(t, err, ErrNotTar)
}

// TestRootHashLargeFile covers files of several extents and images of
// several block groups (128 MiB each).
func TestRootHashLargeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 300 MB")
	}
	r := rand.New(rand.NewPCG(5, 6))
	b := newTar(t).file("big", make([]byte, 129<<20))
	b.file("after", randomBytes(r, 1<<20))
	b.add(tar.Header{Typeflag: tar.TypeDir, Name: "x/", PAXRecords: map[string]string{"SCHILY.xattr.user.big": strings.Repeat("x", 1500)}}, nil)
	b.file("x/.wh..wh..opq", nil)
	assertSameAsHcsshim(t, b.bytes())
}

type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func TestRootHashReadError(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	b := newTar(t).file("a", randomBytes(r, 3<<20)).bytes()
	boom := errors.New("boom")
	_, err := RootHash(&errReader{r: bytes.NewReader(b[:2<<20]), err: boom})
	assert.ErrorIs(t, err, boom)

	// Past the end of the archive, hcsshim does not read, so errors there
	// do not count.
	got, err := RootHash(&errReader{r: bytes.NewReader(b), err: boom})
	assert.NilError(t, err)
	want, err := tar2ext4.ConvertAndComputeRootDigest(bytes.NewReader(b))
	assert.NilError(t, err)
	assert.Equal(t, got, want)
}

func FuzzRootHash(f *testing.F) {
	r := rand.New(rand.NewPCG(9, 10))
	f.Add([]byte{})
	f.Add(newTar(f).file("a", []byte("a")).symlink("b", "a").link("c", "a").bytes())
	f.Add(newTar(f).dir("x/").file("x/.wh..wh..opq", nil).file("x/.wh.y", nil).bytes())
	f.Add(newTar(f).file("big", randomBytes(r, 9000)).bytes())
	f.Add(newTar(f).sparse("s", 100_000, 5000, []byte("data")).bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		// Sparse entries can declare gigabytes of zeros in a few bytes:
		// correct, but too slow to fuzz.
		var total int64
		for tr := tar.NewReader(bytes.NewReader(b)); ; {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if total += h.Size; total > 64<<20 {
				t.Skip("expands to more than 64 MiB")
			}
		}
		assertSameAsHcsshim(t, b)
	})
}
