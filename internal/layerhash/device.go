package layerhash

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync/atomic"
)

const (
	// blockSize is both the ext4 block size of hcsshim's compactext4 and
	// the dm-verity data and hash block size.
	blockSize = 4096
	// sumSize is the size of a SHA-256 hash.
	sumSize = sha256.Size
	// xattrMagic starts every xattr block compactext4 writes
	// (format.XAttrHeaderMagic, little-endian).
	xattrMagic = 0xea020000
)

// salt is dm-verity's salt as hcsshim sets it: 32 zero bytes, hashed before
// each block.
var salt [sumSize]byte

// device is the io.ReadWriteSeeker that tar2ext4.ConvertTarToExt4 writes the
// ext4 image to. It does not keep the image. It hashes each block as it is
// written (the leaves of the dm-verity tree, 1/128 of the image) into a
// temporary file, and computes the rest of the tree at the end.
//
// compactext4 writes the image front to back, except that it writes the
// super block and group descriptors (blocks 0-8) last, and that to mark a
// directory opaque it reads that directory's xattr block back (Writer.Stat)
// and rewrites it. So the device also keeps, whole, each block that starts
// like an xattr block. A read of a block it did not keep, or a partial
// rewrite of one, fails: if a later compactext4 wrote differently, hashing
// would fail rather than give a wrong hash.
type device struct {
	pos  int64 // offset of the next Read or Write
	size int64 // end of the furthest write
	// max, if positive, is the most bytes the image may have. Sparse
	// tar entries make images much larger than the tar cheaply.
	max int64
	// filesTooBig is set (by the tar scan, in another goroutine) once the
	// layer's files add up to more than the limit: writes then fail.
	filesTooBig atomic.Bool

	// leaves holds the leaf hash of block i at offset sumSize*i. 32 zero
	// bytes mean the block was never written in whole: a hole (zeros), or a
	// block in kept.
	leaves *os.File
	// kept holds whole blocks at the offset slots gives. Its entries take
	// precedence over leaves.
	kept    *os.File
	slots   map[int64]int64
	keptEnd int64

	h    hash.Hash
	sums []byte // scratch for the leaf hashes of one Write
}

var (
	// errFilesTooBig stops the conversion once the tar scan found the
	// files too big; hashTar reports it with the limit.
	errFilesTooBig = fmt.Errorf("%w: the layer's files are too big", ErrLimit)
	errUnkept      = errors.New("read of a block that was not kept")
	errPartial     = errors.New("partial rewrite of a block that was not kept")
	errImageSize   = errors.New("image size is not a multiple of the block size")
)

// newDevice returns an empty device whose temporary files are in dir
// (os.TempDir() if empty).
func newDevice(dir string) (*device, error) {
	leaves, err := tempFile(dir)
	if err != nil {
		return nil, err
	}
	kept, err := tempFile(dir)
	if err != nil {
		_ = leaves.Close()
		_ = os.Remove(leaves.Name())
		return nil, err
	}
	return &device{leaves: leaves, kept: kept, slots: map[int64]int64{}, h: sha256.New()}, nil
}

// tempFile creates a temporary file and, where the OS allows, unlinks it at
// once, so that nothing is left behind even if the process is killed.
func tempFile(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "cocofy-layerhash-*")
	if err != nil {
		return nil, fmt.Errorf("creating temporary file: %w", err)
	}
	_ = os.Remove(f.Name()) // fails on Windows; Close removes it there
	return f, nil
}

// Close releases the temporary files.
func (d *device) Close() error {
	var errs []error
	for _, f := range []*os.File{d.leaves, d.kept} {
		errs = append(errs, f.Close())
		if err := os.Remove(f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Seek implements io.Seeker.
func (d *device) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += d.pos
	case io.SeekEnd:
		offset += d.size
	default:
		return 0, fmt.Errorf("seek: invalid whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("seek: negative offset %d", offset)
	}
	d.pos = offset
	return offset, nil
}

// Write implements io.Writer.
func (d *device) Write(p []byte) (int, error) {
	if d.filesTooBig.Load() {
		return 0, errFilesTooBig
	}
	if d.max > 0 && d.pos+int64(len(p)) > d.max {
		return 0, fmt.Errorf("%w: the ext4 image would be larger than %s (2 × Limits.MaxUncompressed)", ErrLimit, bytesString(d.max))
	}
	written := 0
	for len(p) > 0 {
		b, off := d.pos/blockSize, int(d.pos%blockSize)
		n := blockSize - off
		var err error
		if off == 0 && len(p) >= blockSize {
			n = len(p) &^ (blockSize - 1)
			err = d.writeBlocks(b, p[:n])
		} else {
			n = min(n, len(p))
			err = d.writePartial(b, off, p[:n])
		}
		if err != nil {
			return written, err
		}
		p = p[n:]
		written += n
		d.pos += int64(n)
		d.size = max(d.size, d.pos)
	}
	return written, nil
}

// writeBlocks writes whole blocks p from block first on.
func (d *device) writeBlocks(first int64, p []byte) error {
	d.sums = d.sums[:0]
	for i := 0; i < len(p); i += blockSize {
		blk := p[i : i+blockSize]
		b := first + int64(i/blockSize)
		if binary.LittleEndian.Uint32(blk) == xattrMagic {
			if err := d.keep(b, 0, blk); err != nil {
				return err
			}
		} else {
			delete(d.slots, b)
		}
		d.sums = d.sum(d.sums, blk)
	}
	if _, err := d.leaves.WriteAt(d.sums, first*sumSize); err != nil {
		return fmt.Errorf("writing leaf hashes: %w", err)
	}
	return nil
}

// writePartial writes p at offset off of block b, where p does not cover the
// block.
func (d *device) writePartial(b int64, off int, p []byte) error {
	if _, ok := d.slots[b]; !ok {
		hashed, err := d.hashed(b)
		if err != nil {
			return err
		}
		if hashed {
			return fmt.Errorf("block %d: %w", b, errPartial)
		}
	}
	return d.keep(b, off, p)
}

// keep writes p at offset off of kept block b, adding b to kept (as zeros)
// if it was not there.
func (d *device) keep(b int64, off int, p []byte) error {
	slot, ok := d.slots[b]
	if !ok {
		slot = d.keptEnd
		d.keptEnd += blockSize
		d.slots[b] = slot
		if len(p) < blockSize {
			if _, err := d.kept.WriteAt(make([]byte, blockSize), slot); err != nil {
				return fmt.Errorf("keeping block %d: %w", b, err)
			}
		}
	}
	if _, err := d.kept.WriteAt(p, slot+int64(off)); err != nil {
		return fmt.Errorf("keeping block %d: %w", b, err)
	}
	return nil
}

// hashed reports whether block b's leaf hash is in leaves.
func (d *device) hashed(b int64) (bool, error) {
	var s [sumSize]byte
	_, err := d.leaves.ReadAt(s[:], b*sumSize)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading leaf hashes: %w", err)
	}
	return s != [sumSize]byte{}, nil
}

// Read implements io.Reader. compactext4 reads only xattr blocks back.
func (d *device) Read(p []byte) (int, error) {
	if d.pos >= d.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), d.size-d.pos)]
	read := 0
	for len(p) > 0 {
		b, off := d.pos/blockSize, int(d.pos%blockSize)
		n := min(blockSize-off, len(p))
		if slot, ok := d.slots[b]; ok {
			if _, err := d.kept.ReadAt(p[:n], slot+int64(off)); err != nil {
				return read, fmt.Errorf("reading kept block %d: %w", b, err)
			}
		} else {
			hashed, err := d.hashed(b)
			if err != nil {
				return read, err
			}
			if hashed {
				return read, fmt.Errorf("block %d: %w", b, errUnkept)
			}
			clear(p[:n])
		}
		p = p[n:]
		read += n
		d.pos += int64(n)
	}
	return read, nil
}

// sum appends the dm-verity hash of block blk to dst.
func (d *device) sum(dst, blk []byte) []byte {
	d.h.Reset()
	d.h.Write(salt[:])
	d.h.Write(blk)
	return d.h.Sum(dst)
}

// RootHash returns the root hash of the dm-verity tree over the image
// written, as dmverity.RootHash(dmverity.MerkleTree(image)) computes it.
func (d *device) RootHash() ([]byte, error) {
	if d.size == 0 || d.size%blockSize != 0 {
		return nil, fmt.Errorf("%w: %d bytes", errImageSize, d.size)
	}
	n := d.size / blockSize
	// Hash the kept blocks, now that they are final.
	blk := make([]byte, blockSize)
	for b, slot := range d.slots {
		if _, err := d.kept.ReadAt(blk, slot); err != nil {
			return nil, fmt.Errorf("reading kept block %d: %w", b, err)
		}
		if _, err := d.leaves.WriteAt(d.sum(nil, blk), b*sumSize); err != nil {
			return nil, fmt.Errorf("writing leaf hashes: %w", err)
		}
	}
	// Holes at the end read as zeros, like the holes elsewhere.
	if err := d.leaves.Truncate(n * sumSize); err != nil {
		return nil, fmt.Errorf("writing leaf hashes: %w", err)
	}
	zeroSum := d.sum(nil, make([]byte, blockSize))
	var t tree
	r := bufio.NewReaderSize(io.NewSectionReader(d.leaves, 0, n*sumSize), 1<<20)
	var s [sumSize]byte
	for range n {
		if _, err := io.ReadFull(r, s[:]); err != nil {
			return nil, fmt.Errorf("reading leaf hashes: %w", err)
		}
		if s == [sumSize]byte{} {
			t.add(zeroSum)
		} else {
			t.add(s[:])
		}
	}
	return t.root(), nil
}

// tree computes a dm-verity root hash from the leaf hashes, given in order,
// keeping one hash block per level of the tree.
//
// dmverity.MerkleTree builds each level by hashing the blocks of the level
// below (data blocks first), padding the level with zeros to whole blocks,
// until a level is one block; the root hash is the hash of that block.
type tree struct {
	levels []*level // levels[0] is the first hash level: the leaf hashes
	h      hash.Hash
}

type level struct {
	block  [blockSize]byte
	used   int   // bytes of block filled
	blocks int64 // blocks of this level completed
}

// add appends the hash of a data block.
func (t *tree) add(sum []byte) {
	if t.h == nil {
		t.h = sha256.New()
	}
	t.push(0, sum)
}

func (t *tree) push(i int, sum []byte) {
	if i == len(t.levels) {
		t.levels = append(t.levels, &level{})
	}
	l := t.levels[i]
	l.used += copy(l.block[l.used:], sum)
	if l.used == blockSize {
		t.push(i+1, t.flush(l))
	}
}

// flush completes l's current block, zero-padded, and returns its hash.
func (t *tree) flush(l *level) []byte {
	clear(l.block[l.used:])
	t.h.Reset()
	t.h.Write(salt[:])
	t.h.Write(l.block[:])
	l.used = 0
	l.blocks++
	return t.h.Sum(nil)
}

// root returns the root hash. At least one leaf must have been added.
func (t *tree) root() []byte {
	for i := 0; ; i++ {
		l := t.levels[i]
		if l.used > 0 {
			t.push(i+1, t.flush(l))
		}
		if l.blocks == 1 {
			return bytes.Clone(t.levels[i+1].block[:sumSize])
		}
	}
}
