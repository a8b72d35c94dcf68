package layerhash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"sync"
	"testing"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

var benchData = sync.OnceValues(func() (tarball, gz []byte) {
	tb := &testing.B{} // only for the helpers' t.Fatal, which cannot happen here
	tarball = mixedLayer(tb, 1, 80<<20)
	return tarball, gzipBytes(tb, tarball)
})

// BenchmarkRootHash hashes a generated layer of about 80 MB (gzip to about
// a third), and measures the floor: reading the blob as any verified
// download must, with SHA-256, and gunzipping it. MB/s are of the
// uncompressed tar. The x-floor metric of "layerhash" is its time over the
// floor's, when both run.
func BenchmarkRootHash(b *testing.B) {
	tarball, gz := benchData()
	b.Logf("layer: %.1f MB tar, %.1f MB gzip", float64(len(tarball))/1e6, float64(len(gz))/1e6)
	var floor float64

	b.Run("floor", func(b *testing.B) {
		b.SetBytes(int64(len(tarball)))
		for b.Loop() {
			h := sha256.New()
			z, err := gzip.NewReader(io.TeeReader(bytes.NewReader(gz), h))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, z); err != nil {
				b.Fatal(err)
			}
			h.Sum(nil)
		}
		floor = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})

	b.Run("layerhash", func(b *testing.B) {
		b.SetBytes(int64(len(tarball)))
		l := static.NewLayer(gz, types.DockerLayer)
		for b.Loop() {
			var h Hasher
			if _, err := h.RootHash(context.Background(), l); err != nil {
				b.Fatal(err)
			}
		}
		if floor > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/floor, "x-floor")
		}
	})

	// For reference: what hcsshim's own function costs after gunzip.
	b.Run("hcsshim", func(b *testing.B) {
		b.SetBytes(int64(len(tarball)))
		for b.Loop() {
			z, err := gzip.NewReader(bytes.NewReader(gz))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tar2ext4.ConvertAndComputeRootDigest(z); err != nil {
				b.Fatal(err)
			}
		}
	})

	// The conversion and hashing alone, from the tar in memory: hcsshim's
	// and ours.
	b.Run("hcsshim-tar", func(b *testing.B) {
		b.SetBytes(int64(len(tarball)))
		for b.Loop() {
			if _, err := tar2ext4.ConvertAndComputeRootDigest(bytes.NewReader(tarball)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RootHash-tar", func(b *testing.B) {
		b.SetBytes(int64(len(tarball)))
		for b.Loop() {
			if _, err := RootHash(bytes.NewReader(tarball)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
