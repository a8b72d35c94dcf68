package fn_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/pipeline"
)

// streamCalls records every reference the pipeline resolves or inspects,
// in place of the registry.
type streamCalls struct {
	mu   sync.Mutex
	refs []string
}

func (c *streamCalls) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refs = append(c.refs, s)
}

func (c *streamCalls) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string{}, c.refs...)
}

type streamResolver struct{ calls *streamCalls }

func (r streamResolver) Resolve(ctx context.Context, ref string) (image.Pin, error) {
	r.calls.add("resolve " + ref)
	return fixed.Resolver{}.Resolve(ctx, ref)
}

type streamInspector struct{ calls *streamCalls }

func (i streamInspector) Inspect(ctx context.Context, ref, platform string) (image.Facts, error) {
	i.calls.add("inspect " + ref)
	return fixed.Inspector{}.Inspect(ctx, ref, platform)
}

// streamDeps gives the command services that record what they are asked.
func streamDeps(calls *streamCalls) fn.DepsFunc {
	return func(context.Context, *fn.Config, io.Writer, io.Writer) (fn.Deps, error) {
		return fn.Deps{Deps: pipeline.Deps{Resolver: streamResolver{calls}, Inspector: streamInspector{calls}}}, nil
	}
}

// streamVirtualNode writes a config for target virtual-node.
func streamVirtualNode(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "cocofy.yaml")
	assert.NilError(t, os.WriteFile(cfg, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec: {target: virtual-node}\n"), 0o644))
	return cfg
}

// An image that is not a string is reported, and never resolved or
// inspected: `image: 12345` must not become docker.io/library/12345 on
// Docker Hub, `image: null` not docker.io/library/null.
func TestStreamNonStringImageIsNeverResolved(t *testing.T) {
	useSandboxConfig(t)
	const in = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
      - name: ok
        image: nginx:1.27
      - name: null-image
        image: null
      - name: tilde
        image: ~
      - name: number
        image: 12345
      - name: bool
        image: true
      - name: float
        image: 1.5
`
	for cfgName, args := range map[string][]string{"default": nil, "virtual-node": {"--config", streamVirtualNode(t)}} {
		cfg := ""
		if len(args) > 0 {
			cfg = args[1]
		}
		for door, input := range map[string]string{"stream": in, "ResourceList": wrap(t, in, cfg)} {
			t.Run(cfgName+"/"+door, func(t *testing.T) {
				calls := &streamCalls{}
				a := args
				if door == "ResourceList" {
					a = nil // the config is the functionConfig
				}
				out, stderr, err := runWith(t, streamDeps(calls), input, a...)
				assert.Assert(t, err != nil)
				assert.Equal(t, out, "")
				for _, want := range []string{
					"error: Deployment shop/web: spec.template.spec.containers[name=null-image].image: image must be a string",
					"error: Deployment shop/web: spec.template.spec.containers[name=tilde].image: image must be a string",
					"error: Deployment shop/web: spec.template.spec.containers[name=number].image: image must be a string",
					"error: Deployment shop/web: spec.template.spec.containers[name=bool].image: image must be a string",
					"error: Deployment shop/web: spec.template.spec.containers[name=float].image: image must be a string",
				} {
					assert.Assert(t, strings.Contains(stderr, want), "want %q in:\n%s", want, stderr)
				}
				// Only the valid image reaches the registry (pinning goes on
				// after errors, so that every problem is reported at once).
				assert.DeepEqual(t, calls.all(), []string{"resolve nginx:1.27"})
			})
		}
	}
}

// streamPod is a Pod whose args alias a string of size bytes n times,
// anchored on an annotation.
func streamPod(size, n int) string {
	aliases := strings.TrimSuffix(strings.Repeat("*big, ", n), ", ")
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: shop
  annotations:
    note: &big %s
spec:
  containers:
  - name: app
    image: nginx:1.27
    args: [%s]
    resources:
      limits: {cpu: 1, memory: 1Gi}
`, strings.Repeat("x", size), aliases)
}

// streamLaughs is a billion-laughs ConfigMap: levels lists of ten aliases
// of the list before, 10^levels strings once expanded.
func streamLaughs(levels int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  l0: &l0 \"lol\"\n")
	for i := 1; i <= levels; i++ {
		prev := fmt.Sprintf("*l%d", i-1)
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(prev+", ", 10), ", "))
	}
	return b.String()
}

// Hostile aliases fail at once, through both doors, with memory bounded by
// the input's size and nothing expanded: the 1 MB input aliasing a
// large string thousands of times reached 12 GB; 20 aliases wrote a 29 MB
// policy annotation.
func TestStreamHostileAliasesFailFast(t *testing.T) {
	cfg := streamVirtualNode(t)
	for _, c := range []struct {
		name string
		in   string
	}{
		{"billion-laughs", streamLaughs(12)},
		{"1MiB-string-20-aliases", streamPod(1<<20, 20)},
		{"1MiB-string-5000-aliases", streamPod(1<<20, 5000)},
		{"1KiB-string-200000-aliases", streamPod(1<<10, 200_000)},
	} {
		for door, in := range map[string]string{"stream": c.in, "ResourceList": wrap(t, c.in, cfg)} {
			t.Run(c.name+"/"+door, func(t *testing.T) {
				calls := &streamCalls{}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				start := time.Now()
				out, stderr, err := runWith(t, streamDeps(calls), in, "--config", cfg)
				elapsed := time.Since(start)
				runtime.ReadMemStats(&after)

				assert.Assert(t, err != nil, "want an error")
				assert.Equal(t, out, "")
				assert.Assert(t, strings.Contains(stderr, "YAML aliases (counted up to this *"), stderr)
				assert.Assert(t, strings.Contains(stderr, "nothing was expanded"), stderr)
				assert.Equal(t, len(calls.all()), 0, "nothing reaches the registry")
				assert.Assert(t, elapsed < 10*time.Second, "took %s", elapsed)
				// Everything allocated during the run, freed or not, is a
				// bounded multiple of the input: what parsing it takes
				// (a parsed node is some 150 bytes; an alias is 6 bytes of
				// input), never what its aliases would expand to.
				alloc := after.TotalAlloc - before.TotalAlloc
				limit := uint64(64*len(in) + 64<<20)
				t.Logf("%d KiB of input: %s, %d MiB allocated", len(in)>>10, elapsed, alloc>>20)
				assert.Assert(t, alloc < limit, "allocated %d MiB for %d KiB of input", alloc>>20, len(in)>>10)
			})
		}
	}
}

// Aliases that stay within the limit are expanded like Kubernetes does, and
// the run succeeds: a 90 KiB string aliased ten times adds 900 KiB, under
// the 1 MiB that is always allowed.
func TestStreamAliasesWithinTheLimit(t *testing.T) {
	useSandboxConfig(t)
	in := streamPod(90<<10, 10)
	out, stderr, err := run(t, in)
	assert.NilError(t, err, stderr)
	assert.Assert(t, !strings.Contains(out, "*big"), "aliases are expanded in the output")
	assert.Equal(t, strings.Count(out, strings.Repeat("x", 90<<10)), 11)

	// The twelfth alias crosses it.
	_, stderr, err = run(t, streamPod(90<<10, 13))
	assert.Assert(t, err != nil)
	assert.Assert(t, strings.Contains(stderr, "error: Pod shop/p: spec.containers[name=app].args[11]: document 1: YAML aliases (counted up to this *big) would expand the input by more than 1 MiB"), stderr)
}

// A ResourceList is one when it is the only document, empty ones aside: a
// --- after it (as a hand-made pipe may add) does not turn it into a
// stream in which its items would pass untouched. Its functionConfig is
// checked like the items before it is read.
func TestStreamResourceListAlone(t *testing.T) {
	useSandboxConfig(t)
	const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: app, image: nginx:1.27, resources: {limits: {cpu: 1, memory: 1Gi}}}\n"
	rl := wrap(t, pod, "")
	want, stderr, err := run(t, rl)
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(want, "kind: ResourceList"), want)
	assert.Assert(t, strings.Contains(want, "nginx:1.27@sha256:"), want)
	for _, in := range []string{rl + "---\n", "---\n" + rl + "---\n---\n"} {
		out, stderr, err := run(t, in)
		assert.NilError(t, err, stderr)
		assert.Equal(t, out, want)
	}

	dup := rl + "functionConfig:\n  apiVersion: cocofy.dev/v1alpha1\n  kind: Cocofy\n  spec: {target: contrast, target: pod-sandbox}\n"
	out, stderr, err := run(t, dup)
	assert.Assert(t, err != nil)
	assert.Equal(t, out, "")
	assert.Equal(t, stderr, `error: functionConfig.spec.target: document 1 (ResourceList): duplicate key "target": cocofy reads the first value, other YAML readers may read the last; remove one`+"\n")
}
