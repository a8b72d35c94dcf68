package layerhash

import (
	"archive/tar"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/Microsoft/hcsshim/ext4/dmverity"
	"github.com/Microsoft/hcsshim/ext4/tar2ext4"

	"cocofy.dev/cocofy/image"
)

// RootHash returns the dm-verity root hash (lowercase hex, no prefix) of the
// ext4 image made from the uncompressed layer tar read from r, as
// tar2ext4.ConvertAndComputeRootDigest computes it. Memory use is bounded
// whatever the layer size: the leaf hashes go to a temporary file in
// os.TempDir(), 1/128 of the image size.
//
// Like ConvertAndComputeRootDigest, RootHash takes an empty stream for an
// empty archive, and ignores what follows the end of the archive. r is read
// in a separate goroutine, up to a few MB ahead of the conversion; RootHash
// waits for a Read in progress to return, and does not read r after it
// returns.
func RootHash(r io.Reader) (string, error) {
	root, _, err := hashTar(r, "", 0, false)
	return root, err
}

// hashTar returns the root hash of the tar stream read from src, reading it
// in a goroutine, and what the layer does to /etc/group (nil if that could
// not be told), read from the same bytes in another goroutine. If
// maxFiles is positive, it fails (ErrLimit) when the sizes of the layer's
// files add up to more (a sparse file counts at its full size: a few
// hundred bytes of tar can hold 30 GiB of zeros, all of which would be
// hashed) or the ext4 image would be larger than twice as much.
// With drain, it reads src to the end even after the end of the tar
// archive, so that src can check what follows; else it stops early.
// Errors from src take precedence over conversion errors, which may just be
// their echo.
func hashTar(src io.Reader, tempDir string, maxFiles int64, drain bool) (string, *image.EtcGroup, error) {
	dev, err := newDevice(tempDir)
	if err != nil {
		return "", nil, err
	}
	defer dev.Close()
	if maxFiles > 0 && maxFiles < 1<<61 {
		dev.max = 2 * maxFiles
	}

	p, t := newTappedPipe(src)
	group := make(chan *image.EtcGroup, 1)
	go func() { group <- scanEtcGroup(t, maxFiles, func() { dev.filesTooBig.Store(true) }) }()
	cerr := convert(p, dev)
	var perr error
	switch {
	case cerr == nil && drain:
		_, perr = io.Copy(io.Discard, p)
	case cerr == nil:
		// What src does past the end of the archive does not matter, as
		// ConvertAndComputeRootDigest does not read it.
		_ = p.stop()
	default:
		perr = p.stop()
	}
	// The pipe is done: the tap has seen every chunk and ends.
	g := <-group
	switch {
	case perr != nil:
		return "", nil, perr
	case dev.filesTooBig.Load():
		return "", nil, fmt.Errorf("%w: the layer's files, sparse ones at their full size, add up to more than %s (Limits.MaxUncompressed)", ErrLimit, bytesString(maxFiles))
	case errors.Is(cerr, ErrLimit):
		return "", nil, cerr
	case errors.Is(cerr, tar.ErrHeader):
		return "", nil, fmt.Errorf("%w: %w", ErrNotTar, cerr)
	case cerr != nil:
		return "", nil, fmt.Errorf("converting tar to ext4: %w", cerr)
	}
	root, err := dev.RootHash()
	if err != nil {
		return "", nil, fmt.Errorf("computing hash tree: %w", err)
	}
	return hex.EncodeToString(root), g, nil
}

// convert runs hcsshim's conversion with the options
// ConvertAndComputeRootDigest passes. A panic in it, on some odd layer,
// fails that layer rather than the program.
func convert(r io.Reader, dev *device) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("tar2ext4 panicked: %v", v)
		}
	}()
	return tar2ext4.ConvertTarToExt4(r, dev, tar2ext4.ConvertWhiteout, tar2ext4.MaximumDiskSize(dmverity.RecommendedVHDSizeGB))
}

const (
	chunkSize = 256 << 10
	chunks    = 8
)

// pipe hands what a goroutine reads from src to its reader, in chunks, so
// that reading src (decompressing, verifying) runs alongside the ext4
// conversion. A tapped pipe (newTappedPipe) also hands every chunk to a
// second reader, without copying it: a chunk is reused once both readers
// are done with it.
type pipe struct {
	full    chan *chunk
	tap     chan *chunk // the same chunks, for the tap; nil if untapped
	free    chan *chunk
	quit    chan struct{}
	err     error // src's error (nil at EOF); set before full is closed
	cur     []byte
	held    *chunk // the chunk cur is in, to release
	stopped bool
}

// chunk is one buffer of a pipe.
type chunk struct {
	buf  []byte // chunkSize bytes
	data []byte // what was read into buf
	refs atomic.Int32
}

var errStopped = errors.New("stopped")

func newPipe(src io.Reader) *pipe {
	p := makePipe(false)
	go p.fill(src)
	return p
}

// newTappedPipe returns a pipe and a second reader of the same bytes. The
// tap must be read to its end (or drained): the pipe's reader waits for
// chunks the tap holds.
func newTappedPipe(src io.Reader) (*pipe, *tap) {
	p := makePipe(true)
	go p.fill(src)
	return p, &tap{p: p}
}

func makePipe(tapped bool) *pipe {
	p := &pipe{
		full: make(chan *chunk, chunks),
		free: make(chan *chunk, chunks),
		quit: make(chan struct{}),
	}
	if tapped {
		p.tap = make(chan *chunk, chunks)
	}
	for range chunks {
		p.free <- &chunk{buf: make([]byte, chunkSize)}
	}
	return p
}

// release gives c back to the free list once every reader is done with it.
func (p *pipe) release(c *chunk) {
	if c.refs.Add(-1) == 0 {
		p.free <- c // never blocks: there is room for every chunk
	}
}

func (p *pipe) fill(src io.Reader) {
	defer func() {
		if p.tap != nil {
			close(p.tap)
		}
		close(p.full)
	}()
	for {
		var c *chunk
		select {
		case <-p.quit:
			p.err = errStopped
			return
		default:
		}
		select {
		case c = <-p.free:
		case <-p.quit:
			p.err = errStopped
			return
		}
		n, err := readFull(src, c.buf)
		if n > 0 {
			c.data = c.buf[:n]
			// Neither send blocks: there are only as many chunks as room.
			if p.tap != nil {
				c.refs.Store(2)
				p.tap <- c
			} else {
				c.refs.Store(1)
			}
			p.full <- c
		}
		if err != nil {
			if err != io.EOF {
				p.err = err
			}
			return
		}
	}
}

// readFull is io.ReadFull, but returns src's error as is: io.EOF after a
// short chunk too, and io.ErrUnexpectedEOF only if src said so.
func readFull(src io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := src.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Read implements io.Reader.
func (p *pipe) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.held != nil {
			p.release(p.held)
			p.held = nil
		}
		c, ok := <-p.full
		if !ok {
			if p.err != nil {
				return 0, p.err
			}
			return 0, io.EOF
		}
		p.cur, p.held = c.data, c
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// stop makes the goroutine stop reading and waits for it. It returns src's
// error, if src failed before being stopped.
func (p *pipe) stop() error {
	if !p.stopped {
		p.stopped = true
		close(p.quit)
	}
	for c := range p.full {
		p.release(c)
	}
	if p.held != nil {
		p.release(p.held)
		p.held = nil
	}
	p.cur = nil
	if errors.Is(p.err, errStopped) {
		return nil
	}
	return p.err
}

// tap reads the chunks of a tapped pipe. It can skip ahead (Seek from the
// current position) without copying, so that a tar reader over it reads
// the headers and skips the files' data.
type tap struct {
	p    *pipe
	cur  []byte
	held *chunk
	pos  int64 // bytes read or skipped
	skip int64 // bytes still to skip
}

// Read implements io.Reader. It returns io.EOF when the pipe's source
// ends, fails or is stopped.
func (t *tap) Read(b []byte) (int, error) {
	for t.skip > 0 || len(t.cur) == 0 {
		if n := min(t.skip, int64(len(t.cur))); n > 0 {
			t.cur = t.cur[n:]
			t.skip -= n
			continue
		}
		if !t.next() {
			return 0, io.EOF
		}
	}
	n := copy(b, t.cur)
	t.cur = t.cur[n:]
	t.pos += int64(n)
	return n, nil
}

// Seek implements io.Seeker for offsets from the current position only,
// which is how archive/tar skips what it does not read.
func (t *tap) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || offset < 0 {
		return t.pos, errors.New("tap: can only skip ahead")
	}
	t.skip += offset
	t.pos += offset
	return t.pos, nil
}

// next releases the current chunk and takes the next one.
func (t *tap) next() bool {
	if t.held != nil {
		t.p.release(t.held)
		t.held = nil
	}
	c, ok := <-t.p.tap
	if !ok {
		return false
	}
	t.cur, t.held = c.data, c
	return true
}

// drain releases every chunk up to the end of the pipe.
func (t *tap) drain() {
	for t.next() {
	}
	t.cur = nil
}
