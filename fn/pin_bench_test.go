package fn_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/internal/registry"
	"cocofy.dev/cocofy/internal/testing/registrytest"
	"cocofy.dev/cocofy/pipeline"
	"cocofy.dev/cocofy/postrender"
)

// benchRegistry starts a loopback registry with 40 images (10
// repositories, 4 tags each) and counts the probes (GET /v2/) and manifest
// requests it serves.
func benchRegistry(b *testing.B) (reg *registrytest.Registry, refs []string, pings, manifests *atomic.Int64) {
	b.Setenv("COCOFY_CACHE_DIR", "off")
	b.Setenv("DOCKER_CONFIG", b.TempDir())
	reg = registrytest.Start(b)
	for r := range 10 {
		for tag := range 4 {
			ref := fmt.Sprintf("team%d/app:%d", r, tag)
			reg.Push(b, ref, registrytest.Image(b, ref, "linux/amd64", v1.Config{}))
			refs = append(refs, reg.Ref(ref))
		}
	}
	pings, manifests = new(atomic.Int64), new(atomic.Int64)
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.URL.Path == "/v2/":
			pings.Add(1)
		case strings.Contains(r.URL.Path, "/manifests/"):
			manifests.Add(1)
		}
		return false
	})
	return reg, refs, pings, manifests
}

// reportRequests reports the probes and manifest requests per operation
// since the counts were zero, and the time per operation against the ideal
// at rtt: one round trip per unique image divided by the concurrency (16),
// i.e. 50 ms at 20 ms.
func reportRequests(b *testing.B, rtt time.Duration, pings, manifests *atomic.Int64) {
	b.ReportMetric(float64(pings.Load())/float64(b.N), "pings/op")
	b.ReportMetric(float64(manifests.Load())/float64(b.N), "manifest-requests/op")
	if rtt > 0 {
		ideal := time.Duration(math.Ceil(40.0 / 16.0 * float64(rtt)))
		per := b.Elapsed() / time.Duration(b.N)
		b.ReportMetric(float64(per)/float64(ideal), "x-ideal")
	}
}

// BenchmarkPin renders 100 Deployments that use 40 unique images (10
// repositories, 4 tags each) against a loopback registry, with 0 and 20 ms
// added to every request. x-ideal is the time per render divided by the
// ideal: one round trip per unique image divided by the concurrency
// (16), i.e. 50 ms at 20 ms. The render's own work (reading and editing
// the YAML, which BenchmarkPinResolve leaves out) counts too.
func BenchmarkPin(b *testing.B) {
	reg, refs, pings, manifests := benchRegistry(b)
	var in strings.Builder
	for i := range 100 {
		fmt.Fprintf(&in, "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app%d}\nspec:\n  template:\n    spec:\n      containers:\n", i)
		for j, ref := range []string{refs[i%40], refs[(i*7+3)%40]} {
			fmt.Fprintf(&in, "      - name: c%d\n        image: %s\n        resources: {limits: {cpu: 100m, memory: 128Mi}}\n", j, ref)
		}
	}
	cfg, err := fn.ParseConfig([]byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec: {target: pod-sandbox}\n"), "")
	if err != nil {
		b.Fatal(err)
	}
	for _, rtt := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("rtt=%s", rtt), func(b *testing.B) {
			reg.SetLatency(rtt)
			defer reg.SetLatency(0)
			ctx := context.Background()
			pings.Store(0)
			manifests.Store(0)
			b.ResetTimer()
			for range b.N {
				d, err := fn.RegistryDeps(ctx, cfg, io.Discard, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				p, err := pipeline.New(cfg.Spec, d.Deps)
				if err != nil {
					b.Fatal(err)
				}
				nodes, err := postrender.Read(strings.NewReader(in.String()))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Run(ctx, nodes); err != nil {
					b.Fatal(err)
				}
			}
			reportRequests(b, rtt, pings, manifests)
		})
	}
}

// BenchmarkPinResolve resolves the 40 images of BenchmarkPin with a new
// registry client each time, 16 at a time as the pipeline does, and nothing
// else: the registry round trips of pinning without the render's own work.
func BenchmarkPinResolve(b *testing.B) {
	reg, refs, pings, manifests := benchRegistry(b)
	for _, rtt := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("rtt=%s", rtt), func(b *testing.B) {
			reg.SetLatency(rtt)
			defer reg.SetLatency(0)
			ctx := context.Background()
			pings.Store(0)
			manifests.Store(0)
			b.ResetTimer()
			for range b.N {
				c := registry.New(registry.Options{})
				var g errgroup.Group
				g.SetLimit(16)
				for _, ref := range refs {
					g.Go(func() error {
						_, err := c.Resolve(ctx, ref)
						return err
					})
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			reportRequests(b, rtt, pings, manifests)
		})
	}
}
