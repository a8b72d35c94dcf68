package layerhash

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"gotest.tools/v3/assert"
)

// One budget for all callers: images inspected in parallel never stream
// more than Jobs layers at once, and a layer they share is hashed once.
func TestHasherSharedBudget(t *testing.T) {
	var active, peak atomic.Int32
	layer := func(seed uint64) *testLayer {
		gz := gzipBytes(t, mixedLayer(t, seed, 64<<10))
		l := newLayer(gz, types.DockerLayer)
		l.blob = func() (io.ReadCloser, error) {
			n := active.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
			return releaseOnClose{io.NopCloser(bytes.NewReader(gz)), &active}, nil
		}
		return l
	}
	shared := layer(100)
	h := &Hasher{Jobs: 2}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ls := []*testLayer{shared, layer(uint64(i)), layer(uint64(10 + i))}
			_, err := h.RootHashes(context.Background(), []v1.Layer{ls[0], ls[1], ls[2]})
			assert.Check(t, err)
		}()
	}
	wg.Wait()
	assert.Assert(t, peak.Load() <= 2, "%d layers streamed at once, budget 2", peak.Load())
	assert.Assert(t, shared.opens.Load() < 6, "the shared layer was opened %d times by 6 images", shared.opens.Load())
}

type releaseOnClose struct {
	io.ReadCloser
	active *atomic.Int32
}

func (r releaseOnClose) Close() error {
	r.active.Add(-1)
	return r.ReadCloser.Close()
}
