package fn_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/internal/testing/registrytest"
	"cocofy.dev/cocofy/pipeline"
	"cocofy.dev/cocofy/postrender"
)

// BenchmarkPin renders 100 Deployments that use 40 unique images (10
// repositories, 4 tags each) against a loopback registry, with 0 and 20 ms
// added to every request. x-ideal is the time per render divided by the
// ideal: one round trip per unique image divided by the concurrency
// (16), i.e. 50 ms at 20 ms.
func BenchmarkPin(b *testing.B) {
	b.Setenv("COCOFY_CACHE_DIR", "off")
	b.Setenv("DOCKER_CONFIG", b.TempDir())
	reg := registrytest.Start(b)
	var refs []string
	for r := range 10 {
		for tag := range 4 {
			ref := fmt.Sprintf("team%d/app:%d", r, tag)
			reg.Push(b, ref, registrytest.Image(b, ref, "linux/amd64", v1.Config{}))
			refs = append(refs, reg.Ref(ref))
		}
	}
	var in strings.Builder
	for i := range 100 {
		fmt.Fprintf(&in, "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app%d}\nspec:\n  template:\n    spec:\n      containers:\n", i)
		for j, ref := range []string{refs[i%40], refs[(i*7+3)%40]} {
			fmt.Fprintf(&in, "      - name: c%d\n        image: %s\n        resources: {limits: {cpu: 100m, memory: 128Mi}}\n", j, ref)
		}
	}
	cfg := fn.DefaultConfig()
	for _, rtt := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("rtt=%s", rtt), func(b *testing.B) {
			reg.SetLatency(rtt)
			defer reg.SetLatency(0)
			ctx := context.Background()
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
			if rtt > 0 {
				ideal := time.Duration(math.Ceil(40.0 / 16.0 * float64(rtt)))
				per := b.Elapsed() / time.Duration(b.N)
				b.ReportMetric(float64(per)/float64(ideal), "x-ideal")
			}
		})
	}
}
