package sdktest

import (
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/pipeline"
	"cocofy.dev/cocofy/postrender"
)

var examples = filepath.Join("..", "..", "examples")

// renderer builds a Renderer the way docs/doors.md's "Embedding in Go" does: the
// config file, its lock file (lockMode use: no network), the pipeline.
func renderer(t *testing.T, log io.Writer) *postrender.Renderer {
	t.Helper()
	ctx := context.Background()
	cfg, err := fn.LoadConfigFile(filepath.Join(examples, "cocofy.yaml"))
	assert.NilError(t, err)
	deps, err := fn.RegistryDeps(ctx, cfg, io.Discard, io.Discard)
	assert.NilError(t, err)
	p, err := pipeline.New(cfg.Spec, deps.Deps)
	assert.NilError(t, err)
	return &postrender.Renderer{Pipeline: p, Context: ctx, Log: log}
}

// install runs a client-only dry-run `helm install` through the SDK, with an
// in-memory release store and a fake cluster, as Helm's own action tests do.
func install(t *testing.T, chart string, vals map[string]any, r *postrender.Renderer) (*release.Release, error) {
	t.Helper()
	ch, err := loader.Load(filepath.Join(examples, "chart", chart))
	assert.NilError(t, err)
	cfg := &action.Configuration{
		Releases:     storage.Init(driver.NewMemory()),
		KubeClient:   &kubefake.PrintingKubeClient{Out: io.Discard},
		Capabilities: chartutil.DefaultCapabilities,
		Log:          t.Logf,
	}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace = chart, "shop"
	in.ClientOnly, in.DryRun = true, true
	in.PostRenderer = r
	return in.Run(ch, vals)
}

func TestInstallThroughHelmSDK(t *testing.T) {
	rel, err := install(t, "shop", nil, renderer(t, nil))
	assert.NilError(t, err)
	m := rel.Manifest
	for _, want := range []string{
		"image: localhost:5001/cocofy-demo/web:1.4@sha256:ebcc131e638dd0326a645bee9a4d81f2f76288aed090f8e25d6c1ac45c195cea",
		"image: localhost:5001/cocofy-demo/api:2.0@sha256:baba5dd68507cea759c19f10f62b285d6266ebf733dcd7ff8d5f018d450387af",
		"image: localhost:5001/cocofy-demo/tools:1.0@sha256:50bc3354a8b6b36c3ae3bb4be81df87ada32b931f27bef7c138045ca79c3da5f",
		"# Source: shop/templates/web.yaml\n",
	} {
		assert.Assert(t, strings.Contains(m, want), "missing %q in the release manifest:\n%s", want, m)
	}
	// Every workload (Deployment web and api, CronJob report) runs sandboxed
	// and every image is pinned.
	assert.Equal(t, strings.Count(m, "runtimeClassName: kata-vm-isolation"), 3, m)
	images := regexp.MustCompile(`(?m)^ *image: (.*)$`).FindAllStringSubmatch(m, -1)
	assert.Equal(t, len(images), 4, m)
	for _, image := range images {
		assert.Assert(t, strings.Contains(image[1], "@sha256:"), "not pinned: %s", image[1])
	}
}

// Helm 3's SDK, like its CLI, post-renders the manifest but not the hooks:
// an embedding program that needs its hooks sandboxed too runs them through
// Renderer itself (or uses Helm 4).
func TestHelmSDKDoesNotPostRenderHooks(t *testing.T) {
	rel, err := install(t, "hardened", nil, renderer(t, nil))
	assert.NilError(t, err)
	assert.Equal(t, strings.Count(rel.Manifest, "runtimeClassName: kata-vm-isolation"), 2, rel.Manifest)
	assert.Equal(t, len(rel.Hooks), 1)
	hook := rel.Hooks[0].Manifest
	assert.Assert(t, strings.Contains(hook, "image: localhost:5001/cocofy-demo/tools:1.0\n"), hook)
	assert.Assert(t, !strings.Contains(hook, "runtimeClassName"), hook)
}

// A failing Renderer fails the install, with cocofy's message on Log: the
// release Helm returns for debugging is marked failed.
func TestHelmSDKFailure(t *testing.T) {
	var log strings.Builder
	rel, err := install(t, "shop", map[string]any{"web": map[string]any{"tag": "9.9"}}, renderer(t, &log))
	assert.ErrorContains(t, err, "error while running post render on files")
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Equal(t, rel.Info.Status, release.StatusFailed)
	assert.Assert(t, strings.Contains(log.String(), "error: Deployment shop-web: spec.template.spec.containers[name=web].image: localhost:5001/cocofy-demo/web:9.9 is not in the lock file"), log.String())
}
