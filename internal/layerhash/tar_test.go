package layerhash

import (
	"archive/tar"
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Helpers that build layers for the tests and the benchmark.

// tarBuilder writes a tar archive in memory.
type tarBuilder struct {
	t   testing.TB
	buf bytes.Buffer
	tw  *tar.Writer
}

// epoch is the default time of entries, with nanoseconds so that the
// extra time fields matter.
var epoch = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

func newTar(t testing.TB) *tarBuilder {
	b := &tarBuilder{t: t}
	b.tw = tar.NewWriter(&b.buf)
	return b
}

// add writes hdr and body; it fills in Size for regular files, and a
// default mode and times.
func (b *tarBuilder) add(hdr tar.Header, body []byte) *tarBuilder {
	b.t.Helper()
	if hdr.Typeflag == tar.TypeReg {
		hdr.Size = int64(len(body))
	}
	if hdr.Mode == 0 {
		hdr.Mode = 0o644
		if hdr.Typeflag == tar.TypeDir {
			hdr.Mode = 0o755
		}
	}
	if hdr.ModTime.IsZero() {
		hdr.ModTime = epoch
	}
	if err := b.tw.WriteHeader(&hdr); err != nil {
		b.t.Fatalf("writing tar header %q: %v", hdr.Name, err)
	}
	if _, err := b.tw.Write(body); err != nil {
		b.t.Fatalf("writing tar entry %q: %v", hdr.Name, err)
	}
	return b
}

func (b *tarBuilder) file(name string, body []byte) *tarBuilder {
	return b.add(tar.Header{Typeflag: tar.TypeReg, Name: name}, body)
}

func (b *tarBuilder) dir(name string) *tarBuilder {
	return b.add(tar.Header{Typeflag: tar.TypeDir, Name: name}, nil)
}

func (b *tarBuilder) symlink(name, target string) *tarBuilder {
	return b.add(tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target}, nil)
}

func (b *tarBuilder) link(name, target string) *tarBuilder {
	return b.add(tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}, nil)
}

// sparse writes a GNU sparse file of size bytes holding data at off, zeros
// elsewhere. archive/tar no longer writes sparse files, so this patches the
// header of a regular file.
func (b *tarBuilder) sparse(name string, size, off int64, data []byte) *tarBuilder {
	b.t.Helper()
	if err := b.tw.Flush(); err != nil {
		b.t.Fatal(err)
	}
	start := b.buf.Len()
	b.add(tar.Header{Typeflag: tar.TypeReg, Name: name, Format: tar.FormatGNU}, data)
	if err := b.tw.Flush(); err != nil {
		b.t.Fatal(err)
	}
	hdr := b.buf.Bytes()[start : start+512]
	octal := func(field []byte, v int64) {
		copy(field, fmt.Sprintf("%0*o\x00", len(field)-1, v))
	}
	hdr[156] = 'S'
	octal(hdr[386:398], off)              // sparse[0].offset
	octal(hdr[398:410], int64(len(data))) // sparse[0].numbytes
	octal(hdr[483:495], size)             // realsize
	copy(hdr[148:156], "        ")
	sum := 0
	for _, c := range hdr {
		sum += int(c)
	}
	copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

func (b *tarBuilder) bytes() []byte {
	b.t.Helper()
	if err := b.tw.Close(); err != nil {
		b.t.Fatalf("closing tar: %v", err)
	}
	return b.buf.Bytes()
}

func randomBytes(r *rand.Rand, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

var words = strings.Fields(`the of and to in is that for it as was with be by on not he this
are or his from at which but have an they you were her she there been one all we their
has would when if so no will more can out up about into them some could what time only
package import func return error string int byte struct interface nil true false range
config layer image digest policy container kernel root hash verity block inode`)

// textBytes returns n bytes of word salad, which compresses like text.
func textBytes(r *rand.Rand, n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(12) == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

// binaryBytes returns n bytes of skewed random data, which compresses like
// executables.
func binaryBytes(r *rand.Rand, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		switch v := r.Uint32(); v % 4 {
		case 0, 1:
			p[i] = 0
		case 2:
			p[i] = byte(v>>8) & 0x0f
		default:
			p[i] = byte(v >> 8)
		}
	}
	return p
}

// mixedLayer returns a deterministic layer tar of about size bytes: a tree
// of directories holding text, binary, incompressible and zero files of
// sizes from a few bytes to a few MB, with symlinks and hard links.
func mixedLayer(t testing.TB, seed uint64, size int) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	b := newTar(t)
	var dirs []string
	for i := range 40 {
		d := "usr/"
		if i > 0 {
			d = dirs[r.IntN(len(dirs))] + "d" + string(rune('a'+i%26)) + strings.Repeat("x", i%5) + "/"
		}
		dirs = append(dirs, d)
		b.dir(d)
	}
	var files []string
	total := 0
	for i := 0; total < size; i++ {
		// Log-uniform sizes from 16 B to 4 MB.
		n := int(16 * math.Exp2(r.Float64()*18))
		var body []byte
		switch k := r.IntN(10); {
		case k < 5:
			body = textBytes(r, n)
		case k < 8:
			body = binaryBytes(r, n)
		case k < 9:
			body = randomBytes(r, n)
		default:
			body = make([]byte, n)
		}
		name := dirs[r.IntN(len(dirs))] + "f" + strings.Repeat("0", i%7) + strconv.Itoa(i)
		kind := r.IntN(40)
		if len(files) == 0 {
			kind = -1
		}
		switch kind {
		case 0:
			b.symlink(name, "../"+files[r.IntN(len(files))])
		case 1:
			b.link(name, files[r.IntN(len(files))])
		default:
			b.file(name, body)
			files = append(files, name)
			total += n
		}
	}
	return b.bytes()
}

func gzipBytes(t testing.TB, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstdBytes(t testing.TB, p []byte) []byte {
	t.Helper()
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(p, nil)
}
