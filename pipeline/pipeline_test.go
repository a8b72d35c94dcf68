package pipeline_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/pipeline"
)

// runPipeline runs opts over a plain stream and returns the stream and the
// result lines.
func runPipeline(t *testing.T, opts pipeline.Options, in string) (string, []string, error) {
	t.Helper()
	nodes, err := kio.FromBytes([]byte(in))
	assert.NilError(t, err)
	p, err := pipeline.New(opts, pipeline.Deps{Resolver: fixed.Resolver{}, Inspector: fixed.Inspector{}})
	assert.NilError(t, err)
	rep, runErr := p.Run(context.Background(), nodes)
	var lines []string
	for _, r := range rep.Results {
		lines = append(lines, pipeline.Line(r))
	}
	out, err := kio.StringAll(nodes)
	assert.NilError(t, err)
	return out, lines, runErr
}

func boolPtr(b bool) *bool { return &b }

func TestEqualizeResources(t *testing.T) {
	tests := map[string]struct {
		resources string
		want      string
	}{
		"request raised to limit": {
			resources: "{limits: {cpu: '2', memory: 1Gi}, requests: {cpu: 100m, memory: 1Gi}}",
			want:      `{limits: {cpu: '2', memory: 1Gi}, requests: {cpu: "2", memory: 1Gi}}`,
		},
		"limit from request": {
			resources: "{requests: {cpu: 250m}}",
			want:      "{requests: {cpu: 250m}, limits: {cpu: 250m}}",
		},
		"request from limit": {
			resources: "{limits: {memory: 64Mi}}",
			want:      "{limits: {memory: 64Mi}, requests: {memory: 64Mi}}",
		},
		"null limits": {
			resources: "{limits: ~, requests: {cpu: 250m}}",
			want:      "{limits: {cpu: 250m}, requests: {cpu: 250m}}",
		},
		"null requests and a null quantity": {
			resources: "{limits: {memory: 64Mi, cpu: null}, requests: null}",
			want:      "{limits: {memory: 64Mi, cpu: null}, requests: {memory: 64Mi}}",
		},
		"other resources untouched": {
			resources: "{limits: {nvidia.com/gpu: 1}, requests: {ephemeral-storage: 1Gi}}",
			want:      "{limits: {nvidia.com/gpu: 1}, requests: {ephemeral-storage: 1Gi}}",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: c:1\n    resources: " + tc.resources + "\n"
			out, _, _ := runPipeline(t, pipeline.Options{Target: pipeline.TargetContrast, Images: pipeline.ImageOptions{Pin: boolPtr(false)}}, in)
			n := yaml.MustParse(out)
			got, err := n.Pipe(yaml.Lookup("spec", "containers", "[name=c]", "resources"))
			assert.NilError(t, err)
			want := yaml.MustParse(tc.want)
			assert.Equal(t, mustString(t, got), mustString(t, want))
		})
	}
}

func mustString(t *testing.T, n *yaml.RNode) string {
	t.Helper()
	s, err := n.String()
	assert.NilError(t, err)
	return s
}

func TestEqualizeOffForVirtualNodeByDefault(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: c:1\n    resources: {limits: {cpu: '2'}, requests: {cpu: 100m}}\n"
	opts := pipeline.Options{Target: pipeline.TargetVirtualNode, Images: pipeline.ImageOptions{Pin: boolPtr(false)}}
	out, _, err := runPipeline(t, opts, in)
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(out, "requests: {cpu: 100m}"), out)
	opts.Resources.Equalize = boolPtr(true)
	out, _, err = runPipeline(t, opts, in)
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(out, `requests: {cpu: "2"}`), out)
}

func TestVMSize(t *testing.T) {
	pod := func(limits ...string) string {
		var b strings.Builder
		b.WriteString("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n")
		for i, l := range limits {
			fmt.Fprintf(&b, "  - name: c%d\n    image: c:1\n    resources: {limits: %s}\n", i, l)
		}
		return b.String()
	}
	tests := []struct {
		name   string
		opts   pipeline.Options
		limits []string
		want   string
	}{
		{"contrast docs example", pipeline.Options{Target: pipeline.TargetContrast, Resources: pipeline.ResourceOptions{PodOverheadMemory: "256Mi"}},
			[]string{"{memory: 128Mi}", "{memory: 64Mi, cpu: '1.25'}"}, "Contrast VM: 448Mi memory (192Mi container limits + 256Mi RuntimeClass overhead), 3 vCPUs"},
		{"contrast cpu 0", pipeline.Options{Target: pipeline.TargetContrast},
			[]string{"{memory: 1Gi}"}, "Contrast VM: 1706Mi memory (1024Mi container limits + 682Mi RuntimeClass overhead), 1 vCPUs"},
		{"sandbox rounds cpu up", pipeline.Options{Target: pipeline.TargetPodSandbox},
			[]string{"{memory: 1Gi, cpu: 1500m}", "{memory: 1Gi, cpu: 1}"}, "Pod Sandboxing VM: 2048Mi memory (pod memory limit; 512Mi when unset), 3 vCPUs"},
		{"sandbox preview", pipeline.Options{Target: pipeline.TargetPodSandbox, RuntimeClassName: pipeline.RuntimeClassPodSandboxPreview},
			[]string{"{memory: 1Gi, cpu: 500m}"}, "Pod Sandboxing (preview) VM: 3072Mi memory (2Gi + limits), 2 vCPUs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Images.Pin = boolPtr(false)
			_, lines, err := runPipeline(t, tc.opts, pod(tc.limits...))
			assert.NilError(t, err)
			found := false
			for _, l := range lines {
				found = found || strings.Contains(l, tc.want)
			}
			assert.Assert(t, found, "want a result containing %q, got:\n%s", tc.want, strings.Join(lines, "\n"))
		})
	}
}

func TestInvalidQuantityIsAnError(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: c:1\n    resources: {limits: {memory: lots}}\n"
	_, lines, err := runPipeline(t, pipeline.Options{Target: pipeline.TargetContrast, Images: pipeline.ImageOptions{Pin: boolPtr(false)}}, in)
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, strings.Contains(strings.Join(lines, "\n"),
		`error: Pod p: spec.containers[name=c].resources.limits.memory: invalid quantity "lots"`), strings.Join(lines, "\n"))
}

func TestVirtualNodePlacement(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  template:
    metadata:
      annotations:
        microsoft.containerinstance.virtualnode.zones: "2"
    spec:
      tolerations:
      - key: virtual-kubelet.io/provider
        operator: Equal
        value: azure
      containers:
      - name: app
        image: app:1
        env:
        - name: THIM
          value: ===VIRTUALNODE2.CC.THIM.ENDPOINT===
`
	opts := pipeline.Options{
		Target: pipeline.TargetVirtualNode,
		Images: pipeline.ImageOptions{Pin: boolPtr(false)},
		VirtualNode: pipeline.VirtualNodeOptions{
			InjectDNS: boolPtr(false), Zone: "1",
			Identity: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi",
		},
	}
	out, lines, err := runPipeline(t, opts, in)
	assert.NilError(t, err)
	n := yaml.MustParse(out)
	get := func(path ...string) string {
		v, err := n.Pipe(yaml.Lookup(path...))
		assert.NilError(t, err)
		if v == nil {
			return ""
		}
		return v.YNode().Value
	}
	assert.Equal(t, get("spec", "template", "spec", "nodeSelector", "virtualization"), "virtualnode2")
	assert.Equal(t, get("spec", "template", "metadata", "annotations", pipeline.AnnotationInjectDNS), "false")
	assert.Equal(t, get("spec", "template", "metadata", "annotations", pipeline.AnnotationIdentity), opts.VirtualNode.Identity)
	// An existing zone is kept (with a warning) unless overwrite is set.
	assert.Equal(t, get("spec", "template", "metadata", "annotations", pipeline.AnnotationZones), "2")
	assert.Assert(t, strings.Contains(strings.Join(lines, "\n"), `kept existing value "2" instead of "1"`))
	// The existing toleration for the provider key is enough; THIM values stay verbatim.
	tols, _ := n.Pipe(yaml.Lookup("spec", "template", "spec", "tolerations"))
	assert.Equal(t, len(tols.Content()), 1)
	assert.Equal(t, get("spec", "template", "spec", "containers", "[name=app]", "env", "[name=THIM]", "value"), "===VIRTUALNODE2.CC.THIM.ENDPOINT===")
	assert.Equal(t, get("spec", "template", "spec", "runtimeClassName"), "")
}

func TestVirtualNodeZonesOnPodMustBeOne(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    microsoft.containerinstance.virtualnode.zones: 1;2\nspec:\n  containers:\n  - name: c\n    image: c:1\n"
	_, lines, err := runPipeline(t, pipeline.Options{Target: pipeline.TargetVirtualNode, Images: pipeline.ImageOptions{Pin: boolPtr(false)}}, in)
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, strings.Contains(strings.Join(lines, "\n"), `ACI accepts exactly one zone, got "1;2"`))
}

func TestPinDedupesAndKeepsTag(t *testing.T) {
	counting := &countingResolver{}
	in := `apiVersion: v1
kind: Pod
metadata: {name: a}
spec:
  containers:
  - {name: one, image: "nginx:1.27"}
  - {name: two, image: "nginx:1.27"}
  initContainers:
  - {name: three, image: "nginx:1.26"}
`
	nodes, err := kio.FromBytes([]byte(in))
	assert.NilError(t, err)
	p, err := pipeline.New(pipeline.Options{Target: pipeline.TargetContrast}, pipeline.Deps{Resolver: counting})
	assert.NilError(t, err)
	_, err = p.Run(context.Background(), nodes)
	assert.NilError(t, err)
	assert.Equal(t, counting.calls["nginx:1.27"], 1)
	assert.Equal(t, counting.calls["nginx:1.26"], 1)
	img, _ := nodes[0].Pipe(yaml.Lookup("spec", "containers", "[name=two]", "image"))
	assert.Equal(t, img.YNode().Value, "nginx:1.27@"+fixed.Digest("nginx:1.27"))
}

// An image without a tag is pinned as latest, with a warning; the output
// pins the same again without one.
func TestPinUntaggedAsLatest(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: nginx, resources: {limits: {cpu: '1', memory: 1Gi}}}\n"
	out, lines, err := runPipeline(t, pipeline.Options{Target: pipeline.TargetContrast}, in)
	assert.NilError(t, err)
	want := "nginx:latest@" + fixed.Digest("nginx")
	assert.Assert(t, strings.Contains(out, "image: '"+want+"'"), out)
	assert.Assert(t, slices.Contains(lines, "warning: Pod p: spec.containers[name=c].image: nginx has no tag: pinned latest, whatever it was at this render; name a tag"), "%q", lines)

	_, lines, err = runPipeline(t, pipeline.Options{Target: pipeline.TargetContrast}, out)
	assert.NilError(t, err)
	assert.Assert(t, !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "warning:") }), "%q", lines)
}

type countingResolver struct {
	fixed.Resolver
	calls map[string]int
}

func (c *countingResolver) Resolve(ctx context.Context, ref string) (pin imagePin, err error) {
	countMu.Lock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[ref]++
	countMu.Unlock()
	return c.Resolver.Resolve(ctx, ref)
}

// verifyStream runs a Verifier over a stream and returns the result lines.
func verifyStream(t *testing.T, in string) ([]string, error) {
	t.Helper()
	return verifyStreamWith(t, vnOptions(), in)
}

func verifyStreamWith(t *testing.T, opts pipeline.Options, in string) ([]string, error) {
	t.Helper()
	nodes, err := kio.FromBytes([]byte(in))
	assert.NilError(t, err)
	p, err := pipeline.New(opts, pipeline.Deps{Resolver: fixed.Resolver{}, Inspector: fixed.Inspector{}})
	assert.NilError(t, err)
	rep, runErr := p.Verifier().Run(context.Background(), nodes)
	var lines []string
	for _, r := range rep.Results {
		lines = append(lines, pipeline.Line(r))
	}
	out, err := kio.StringAll(nodes)
	assert.NilError(t, err)
	assert.Equal(t, out, mustStringAll(t, in), "verify changes nothing")
	return lines, runErr
}

func mustStringAll(t *testing.T, in string) string {
	nodes, err := kio.FromBytes([]byte(in))
	assert.NilError(t, err)
	s, err := kio.StringAll(nodes)
	assert.NilError(t, err)
	return s
}

// New applies the defaults and validates, as the CLI does: an embedder
// (the Helm SDK door) gets the same errors, every one at once.
func TestNewValidates(t *testing.T) {
	_, err := pipeline.New(pipeline.Options{Target: "sandbox", Policy: pipeline.PolicyOptions{Format: "3.x"}, Images: pipeline.ImageOptions{LockMode: "use"}}, pipeline.Deps{Resolver: fixed.Resolver{}})
	assert.ErrorContains(t, err, `spec.target: must be one of virtual-node, pod-sandbox, contrast, custom; got "sandbox"`)
	assert.ErrorContains(t, err, `spec.policy.format: must be 2.x, 1.2 or 1.x, got "3.x"`)
	assert.ErrorContains(t, err, `spec.images.lockMode: use needs spec.images.lockFile`)
	_, err = pipeline.New(pipeline.Options{}, pipeline.Deps{Resolver: fixed.Resolver{}})
	assert.NilError(t, err, "the defaults are valid")
	_, err = pipeline.New(pipeline.Options{Target: pipeline.TargetVirtualNode, Policy: pipeline.PolicyOptions{ImageFragments: []pipeline.ImageFragment{
		{Issuer: "Contoso", MinimumSVN: "1"}, {Issuer: "did:x509:0:sha256:x::subject:CN:C", MinimumSVN: "one"},
	}}}, pipeline.Deps{Resolver: fixed.Resolver{}})
	assert.ErrorContains(t, err, `spec.policy.imageFragments[0].issuer: must be a did:x509 issuer (what cocofy fragment import prints), got "Contoso"`)
	assert.ErrorContains(t, err, `spec.policy.imageFragments[1].minimumSVN: must be a number, got "one"`)
}
