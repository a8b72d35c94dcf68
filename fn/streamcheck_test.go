package fn_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/internal/image"
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
	return func(context.Context, *fn.Config, io.Writer) (fn.Deps, error) {
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
