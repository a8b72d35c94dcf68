package layerhash

import (
	"archive/tar"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/Microsoft/hcsshim/ext4/dmverity"
	"github.com/Microsoft/hcsshim/ext4/tar2ext4"
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
	return hashTar(r, "", 0, false)
}

// hashTar returns the root hash of the tar stream read from src, reading it
// in a goroutine. If maxImage is positive, it fails (ErrLimit) when the ext4
// image would be larger. With drain, it reads src to the end even after the end of
// the tar archive, so that src can check what follows; else it stops early.
// Errors from src take precedence over conversion errors, which may just be
// their echo.
func hashTar(src io.Reader, tempDir string, maxImage int64, drain bool) (string, error) {
	dev, err := newDevice(tempDir)
	if err != nil {
		return "", err
	}
	defer dev.Close()
	dev.max = maxImage

	p := newPipe(src)
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
	switch {
	case perr != nil:
		return "", perr
	case errors.Is(cerr, ErrLimit):
		return "", cerr
	case errors.Is(cerr, tar.ErrHeader):
		return "", fmt.Errorf("%w: %w", ErrNotTar, cerr)
	case cerr != nil:
		return "", fmt.Errorf("converting tar to ext4: %w", cerr)
	}
	root, err := dev.RootHash()
	if err != nil {
		return "", fmt.Errorf("computing hash tree: %w", err)
	}
	return hex.EncodeToString(root), nil
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
// conversion.
type pipe struct {
	full    chan []byte
	free    chan []byte
	quit    chan struct{}
	err     error // src's error (nil at EOF); set before full is closed
	cur     []byte
	held    []byte // the chunk cur is in, to return to free
	stopped bool
}

var errStopped = errors.New("stopped")

func newPipe(src io.Reader) *pipe {
	p := &pipe{
		full: make(chan []byte, chunks),
		free: make(chan []byte, chunks),
		quit: make(chan struct{}),
	}
	for range chunks {
		p.free <- make([]byte, chunkSize)
	}
	go p.fill(src)
	return p
}

func (p *pipe) fill(src io.Reader) {
	defer close(p.full)
	for {
		var buf []byte
		select {
		case <-p.quit:
			p.err = errStopped
			return
		default:
		}
		select {
		case buf = <-p.free:
		case <-p.quit:
			p.err = errStopped
			return
		}
		n, err := readFull(src, buf)
		if n > 0 {
			p.full <- buf[:n] // never blocks: there are only as many chunks as room
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
			p.free <- p.held[:cap(p.held)]
			p.held = nil
		}
		c, ok := <-p.full
		if !ok {
			if p.err != nil {
				return 0, p.err
			}
			return 0, io.EOF
		}
		p.cur, p.held = c, c
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
		p.free <- c[:cap(c)]
	}
	p.cur = nil
	if errors.Is(p.err, errStopped) {
		return nil
	}
	return p.err
}
