package layerhash

import (
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/Microsoft/hcsshim/ext4/dmverity"
	"gotest.tools/v3/assert"
)

// memFile is the io.ReadWriteSeeker tar2ext4 would write to: the model
// the device must agree with.
type memFile struct {
	b   []byte
	pos int
}

func (m *memFile) Write(p []byte) (int, error) {
	if end := m.pos + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	m.pos += copy(m.b[m.pos:], p)
	return len(p), nil
}

func (m *memFile) Read(p []byte) (int, error) {
	if m.pos >= len(m.b) {
		return 0, io.EOF
	}
	n := copy(p, m.b[m.pos:])
	m.pos += n
	return n, nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += int64(m.pos)
	case io.SeekEnd:
		off += int64(len(m.b))
	}
	m.pos = int(off)
	return off, nil
}

func wantRootHash(t *testing.T, image []byte) string {
	t.Helper()
	tree, err := dmverity.MerkleTree(bytesReader(image))
	assert.NilError(t, err)
	return hex.EncodeToString(dmverity.RootHash(tree))
}

func bytesReader(b []byte) io.Reader { return &memFile{b: b} }

func newTestDevice(t *testing.T) *device {
	t.Helper()
	d, err := newDevice(t.TempDir())
	assert.NilError(t, err)
	t.Cleanup(func() { assert.NilError(t, d.Close()) })
	return d
}

func rootHashOf(t *testing.T, d *device) string {
	t.Helper()
	root, err := d.RootHash()
	assert.NilError(t, err)
	return hex.EncodeToString(root)
}

// TestTreeSizes checks the tree against dmverity.MerkleTree at the sizes
// where it gains a level.
func TestTreeSizes(t *testing.T) {
	sizes := []int{1, 2, 127, 128, 129, 128*128 - 1}
	if !testing.Short() {
		sizes = append(sizes, 128*128, 128*128+1)
	}
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range sizes {
		image := make([]byte, n*blockSize)
		for i := 0; i < n; i += 1 + r.IntN(50) {
			copy(image[i*blockSize:], randomBytes(r, 64))
		}
		d := newTestDevice(t)
		_, err := d.Write(image)
		assert.NilError(t, err)
		assert.Equal(t, rootHashOf(t, d), wantRootHash(t, image), "%d blocks", n)
	}
}

// TestDeviceWrites writes the same pattern to the device and to memory:
// unaligned writes, holes, blocks written last, kept blocks read back and
// rewritten.
func TestDeviceWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	xattrBlock := func() []byte {
		b := randomBytes(r, blockSize)
		binary.LittleEndian.PutUint32(b, xattrMagic)
		return b
	}
	d, m := newTestDevice(t), &memFile{}
	both := func(f func(w io.ReadWriteSeeker)) {
		f(d)
		f(m)
	}
	write := func(off int64, p []byte) {
		both(func(w io.ReadWriteSeeker) {
			_, err := w.Seek(off, io.SeekStart)
			assert.NilError(t, err)
			n, err := w.Write(p)
			assert.NilError(t, err)
			assert.Equal(t, n, len(p))
		})
	}
	x1, x2 := xattrBlock(), xattrBlock()
	write(9*blockSize, randomBytes(r, 100))             // partial, into a hole
	write(9*blockSize+100, randomBytes(r, 3*blockSize)) // completes it, then unaligned
	write(12*blockSize+100, randomBytes(r, blockSize-100))
	write(13*blockSize, x1)
	write(14*blockSize, randomBytes(r, 10*blockSize))
	write(30*blockSize, x2) // after a hole
	write(31*blockSize, randomBytes(r, blockSize))
	write(13*blockSize+8, []byte("partial rewrite of a kept block"))

	// Read a kept block back, as compactext4's Stat does.
	got := make([]byte, blockSize)
	_, err := d.Seek(13*blockSize, io.SeekStart)
	assert.NilError(t, err)
	_, err = io.ReadFull(d, got)
	assert.NilError(t, err)
	assert.DeepEqual(t, got, m.b[13*blockSize:14*blockSize])

	write(30*blockSize, randomBytes(r, blockSize)) // kept block overwritten by data
	write(0, randomBytes(r, 9*blockSize))          // super block and group descriptors last
	both(func(w io.ReadWriteSeeker) {
		end, err := w.Seek(0, io.SeekEnd)
		assert.NilError(t, err)
		assert.Equal(t, end, int64(32*blockSize))
	})
	assert.Equal(t, rootHashOf(t, d), wantRootHash(t, m.b))

	// What the device cannot do, it refuses.
	_, err = d.Seek(20*blockSize, io.SeekStart)
	assert.NilError(t, err)
	_, err = d.Read(got)
	assert.ErrorIs(t, err, errUnkept)
	_, err = d.Seek(20*blockSize+1, io.SeekStart)
	assert.NilError(t, err)
	_, err = d.Write([]byte("x"))
	assert.ErrorIs(t, err, errPartial)
}

func TestDeviceImageSize(t *testing.T) {
	d := newTestDevice(t)
	_, err := d.RootHash()
	assert.ErrorIs(t, err, errImageSize)
	_, err = d.Write(make([]byte, blockSize+1))
	assert.NilError(t, err)
	_, err = d.RootHash()
	assert.ErrorIs(t, err, errImageSize)
}
