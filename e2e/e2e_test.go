//go:build e2e

// Package e2e drives the real tools (Helm 3 and 4, kustomize, kpt, crane)
// with the cocofy binary on the bundled examples. Run with `make e2e`, which
// builds bin/cocofy and the tools first.
package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

var root, _ = filepath.Abs("..")

func cocofy(t *testing.T) string { return bin(t, "COCOFY_BIN", filepath.Join(root, "bin", "cocofy")) }

func tool(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("COCOFY_TOOLS")
	if dir == "" {
		dir = filepath.Join(root, "bin", "tools")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s not found in %s or on PATH: run `make tools` (kpt comes from apt: google-cloud-cli-kpt)", name, dir)
	return ""
}

func bin(t *testing.T, env, def string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		p = def
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: %v (run `make build`)", p, err)
	}
	return p
}

type result struct {
	stdout, stderr string
	err            error
}

// run runs a command in dir with extra environment and returns its output.
func run(t *testing.T, dir string, env []string, stdin string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "COCOFY_CACHE_DIR="+t.TempDir(), "DOCKER_CONFIG="+t.TempDir()), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return result{out.String(), errOut.String(), err}
}

func mustRun(t *testing.T, dir string, env []string, stdin string, name string, args ...string) string {
	t.Helper()
	r := run(t, dir, env, stdin, name, args...)
	assert.NilError(t, r.err, "%s %v\nstderr:\n%s", name, args, r.stderr)
	return r.stdout
}

// objects parses a stream into canonical, comment-free YAML per object,
// sorted, so outputs of tools that order fields differently compare.
func objects(t *testing.T, stream string) []string {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: strings.NewReader(stream), OmitReaderAnnotations: true}).Read()
	assert.NilError(t, err)
	var out []string
	for _, n := range nodes {
		_ = n.PipeE(yaml.ClearAnnotation("postrenderer.helm.sh/postrender-filename"))
		m, err := n.Map()
		assert.NilError(t, err)
		b, err := yaml.Marshal(m)
		assert.NilError(t, err)
		out = append(out, string(b))
	}
	return sortStrings(out)
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func helmArgs(extra ...string) []string {
	return append([]string{"template", "shop", "examples/chart/shop", "--post-renderer", "bin/cocofy",
		"--post-renderer-args", "--config", "--post-renderer-args", "examples/cocofy.yaml"}, extra...)
}

// Helm 3 as a post-renderer: the output is the golden file, and equals the
// plain pipe `helm template | cocofy`.
func TestHelm3PostRenderer(t *testing.T) {
	helm := tool(t, "helm")
	out := mustRun(t, root, nil, "", helm, helmArgs()...)
	golden.Assert(t, out, "helm3-template.yaml")

	plain := mustRun(t, root, nil, "", helm, "template", "shop", "examples/chart/shop")
	piped := mustRun(t, root, nil, plain, cocofy(t), "--config", "examples/cocofy.yaml")
	assert.Equal(t, piped, out)

	again := mustRun(t, root, nil, out, cocofy(t), "--config", "examples/cocofy.yaml")
	assert.Equal(t, again, out, "idempotent")
}

// Helm 3 onto virtual nodes: every pod gets its CCE policy from the locked
// image facts, offline; the output is stable and `cocofy policy` reads it.
func TestHelm3VirtualNode(t *testing.T) {
	helm := tool(t, "helm")
	args := []string{"template", "shop", "examples/chart/shop", "--post-renderer", "bin/cocofy",
		"--post-renderer-args", "--config", "--post-renderer-args", "examples/virtual-node.yaml"}
	out := mustRun(t, root, nil, "", helm, args...)
	golden.Assert(t, out, "helm3-virtual-node.yaml")
	assert.Equal(t, strings.Count(out, "microsoft.containerinstance.virtualnode.ccepolicy:"), 3, "one policy per workload")

	again := mustRun(t, root, nil, out, cocofy(t), "--config", "examples/virtual-node.yaml")
	assert.Equal(t, again, out, "idempotent")

	policies := mustRun(t, root, nil, out, cocofy(t), "policy")
	assert.Assert(t, strings.Contains(policies, `api_version := "0.11.0"`), policies)
}

// A production-shaped chart (drop: [ALL], runAsUser and runAsGroup (no
// fsGroup or supplementalGroups: the demo images have no /etc/group, see
// docs/policy.md), envFrom, workingDir, $(VAR) args, resourceFieldRef, probes, a hook Job, a
// ReadOnlyMany claim) onto virtual nodes through Helm 3 and Helm 4: cocofy
// corrects confcom's policy where the guest would refuse it, says so per
// field, and cocofy verify accepts the output.
func TestHardenedChartVirtualNode(t *testing.T) {
	args := []string{"template", "hd", "examples/chart/hardened", "--post-renderer", "bin/cocofy",
		"--post-renderer-args", "--config", "--post-renderer-args", "examples/hardened.yaml"}
	out := mustRun(t, root, nil, "", tool(t, "helm"), args...)
	golden.Assert(t, out, "helm3-hardened.yaml")
	// Helm 3 does not post-render the pre-install hook.
	assert.Equal(t, strings.Count(out, "microsoft.containerinstance.virtualnode.ccepolicy:"), 2, out)

	// ... and cocofy verify says so: the hook would run unprotected.
	r := run(t, root, nil, out, cocofy(t), "verify", "--config", "examples/hardened.yaml")
	assert.Assert(t, r.err != nil)
	assert.Equal(t, r.stdout, "")
	assert.Assert(t, strings.Contains(r.stderr, "error: Job hd-migrate: spec.template.metadata.annotations.microsoft.containerinstance.virtualnode.ccepolicy: no CCE policy, though the config (target virtual-node) attaches one to every selected pod: render the stream with cocofy before verifying it (a Helm hook: Helm 3 does not post-render hooks; use Helm 4, or helm template | cocofy)"), r.stderr)
	// The hook is neither placed, pinned nor given a policy; nothing else
	// is refused.
	assert.Equal(t, strings.Count(r.stderr, "error: "), 4, r.stderr)
	assert.Equal(t, strings.Count(r.stderr, "error: Job hd-migrate: "), 4, "only the hook is refused:\n%s", r.stderr)

	// The corrections, as a plain pipe shows them with -v.
	plain := mustRun(t, root, nil, "", tool(t, "helm"), "template", "hd", "examples/chart/hardened")
	r = run(t, root, nil, plain, cocofy(t), "--config", "examples/hardened.yaml", "-v")
	assert.NilError(t, r.err, r.stderr)
	for _, want := range []string{
		`spec.template.spec.containers[name=api].workingDir: container "api": confcom would write working_dir "/"; the guest would deny the container (invalid working directory); cocofy writes "/srv"`,
		`spec.template.spec.containers[name=api].securityContext.capabilities: container "api": confcom would write capabilities`,
		`spec.template.spec.containers[name=api].envFrom: container "api": confcom would write env_rules no rule for LOG_LEVEL; the guest would drop LOG_LEVEL`,
		`spec.template.spec.containers[name=api].args: container "api": confcom would write command ["/srv/api","--namespace=$(POD_NAMESPACE)","--port=$(LISTEN_PORT)"]`,
		`"--namespace=shop","--port=8080"]`,
		`StatefulSet hd-db: spec.template.spec.containers[name=db].volumeMounts[name=seed]: container "db": confcom would write mounts`,
	} {
		assert.Assert(t, strings.Contains(r.stderr, want), "missing %q in\n%s", want, r.stderr)
	}

	// Helm 4 post-renders the hook too: three policies, all accepted.
	plugins := t.TempDir()
	dir := filepath.Join(plugins, "cocofy")
	assert.NilError(t, os.MkdirAll(dir, 0o755))
	manifest, err := os.ReadFile(filepath.Join(root, "postrender", "cocofy", "plugin.yaml"))
	assert.NilError(t, err)
	manifest = bytes.Replace(manifest, []byte("- command: cocofy"), []byte("- command: "+cocofy(t)), 1)
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "plugin.yaml"), manifest, 0o644))
	env := []string{"HELM_PLUGINS=" + plugins, "COCOFY_CONFIG=" + filepath.Join(root, "examples", "hardened.yaml"),
		"XDG_STATE_HOME=" + t.TempDir()} // Helm 4 runs leave their results there
	out4 := mustRun(t, root, env, "", tool(t, "helm4"), "template", "hd", "examples/chart/hardened", "--post-renderer", "cocofy")
	assert.Equal(t, strings.Count(out4, "microsoft.containerinstance.virtualnode.ccepolicy:"), 3, out4)
	r = run(t, root, nil, out4, cocofy(t), "verify", "--config", "examples/hardened.yaml", "-v")
	assert.NilError(t, r.err, r.stderr)
	assert.Equal(t, strings.Count(r.stderr, "verified: the enforcer allows every container"), 3, r.stderr)
}

// Six pods shaped like popular public charts (a PostgreSQL StatefulSet, an
// ingress controller, Redis with a config file, a cert-manager-style
// controller, a hook Job, a web server with an init container and a log
// agent): $(VAR) references are expanded as the kubelet does, the policies
// are accepted by cocofy verify; with compat confcom the text stays as
// written.
func TestPopularChartShapes(t *testing.T) {
	plain := mustRun(t, root, nil, "", tool(t, "helm"), "template", "pop", "e2e/testdata/charts/popular")
	r := run(t, root, nil, plain, cocofy(t), "--config", "examples/hardened.yaml", "-v")
	assert.NilError(t, r.err, r.stderr)
	out := r.stdout
	assert.Equal(t, strings.Count(out, "microsoft.containerinstance.virtualnode.ccepolicy:"), 6, out)
	for _, want := range []string{
		`the kubelet expands $(POD_NAMESPACE)`,
		`"--cluster-resource-namespace=shop"`,
		`"--publish-service=shop/pop-ingress"`,
		`the kubelet expands $(REDIS_PORT)`,
		`the kubelet expands $(TARGET_VERSION)`,
		`"-c","exec postgres -c listen_addresses=*"`,
	} {
		assert.Assert(t, strings.Contains(r.stderr, want), "missing %q in\n%s", want, r.stderr)
	}
	v := run(t, root, nil, out, cocofy(t), "verify", "--config", "examples/hardened.yaml", "-v")
	assert.NilError(t, v.err, v.stderr)
	assert.Equal(t, strings.Count(v.stderr, "verified: the enforcer allows every container"), 6, v.stderr)

	// bitnami's fsGroup, equal to runAsGroup, on an image without
	// /etc/group: the guest would refuse the container, so render fails.
	bitnami := strings.Replace(plain, "securityContext: {runAsUser: 1001,", "securityContext: {fsGroup: 1001, runAsUser: 1001,", 1)
	assert.Assert(t, bitnami != plain)
	r = run(t, root, nil, bitnami, cocofy(t), "--config", "examples/hardened.yaml")
	assert.Assert(t, r.err != nil, "fsGroup 1001 rendered:\n%s", r.stderr)
	assert.Assert(t, strings.Contains(r.stderr, `spec.template.spec.securityContext.fsGroup: container "postgresql": GID 1001 is not in /etc/group of image `), r.stderr)

	// compat confcom: confcom's text, refused by the guest, with a warning
	// per refused container under check: warn.
	cfg := filepath.Join(t.TempDir(), "confcom.yaml")
	assert.NilError(t, os.WriteFile(cfg, []byte(`apiVersion: cocofy.dev/v1alpha1
kind: Cocofy
spec:
  target: virtual-node
  namespace: shop
  policy: {compat: confcom, check: warn}
  images: {lockFile: `+filepath.Join(root, "examples", "images.lock.yaml")+`, lockMode: use}
`), 0o644))
	r = run(t, root, nil, plain, cocofy(t), "--config", cfg)
	assert.NilError(t, r.err, r.stderr)
	assert.Assert(t, strings.Count(r.stderr, "warning: ") >= 6, r.stderr)
	assert.Assert(t, strings.Contains(r.stderr, "this is confcom's policy"), r.stderr)
	policies := mustRun(t, root, nil, r.stdout, cocofy(t), "policy")
	assert.Assert(t, strings.Contains(policies, `--cluster-resource-namespace=$(POD_NAMESPACE)`), policies)
}

func TestHelm3InstallDryRun(t *testing.T) {
	api := startFakeAPI(t)
	out := mustRun(t, root, []string{"KUBECONFIG=" + api.kubeconfig, "HELM_CACHE_HOME=" + t.TempDir(), "HELM_CONFIG_HOME=" + t.TempDir()}, "",
		tool(t, "helm"), "install", "shop", "examples/chart/shop", "--dry-run=client", "--disable-openapi-validation",
		"--post-renderer", "bin/cocofy", "--post-renderer-args", "--config", "--post-renderer-args", "examples/cocofy.yaml")
	assert.Assert(t, strings.Contains(out, "STATUS: pending-install"), out)
	assert.Assert(t, strings.Contains(out, "image: localhost:5001/cocofy-demo/web:1.4@sha256:"), out)
	assert.Assert(t, strings.Contains(out, "runtimeClassName: kata-vm-isolation"), out)

	// Onto virtual nodes: helm install itself attaches the policies.
	out = mustRun(t, root, []string{"KUBECONFIG=" + api.kubeconfig, "HELM_CACHE_HOME=" + t.TempDir(), "HELM_CONFIG_HOME=" + t.TempDir()}, "",
		tool(t, "helm"), "install", "shop", "examples/chart/shop", "--dry-run=client", "--disable-openapi-validation",
		"--post-renderer", "bin/cocofy", "--post-renderer-args", "--config", "--post-renderer-args", "examples/virtual-node.yaml")
	assert.Assert(t, strings.Contains(out, "STATUS: pending-install"), out)
	assert.Equal(t, strings.Count(out, "microsoft.containerinstance.virtualnode.ccepolicy: "), 3, out)
	assert.Assert(t, strings.Contains(out, "cocofy.dev/ccepolicy-sha256: '6e66051067d562d51956a8176b654e0b2fbb3d5a8eda82af1e92d1370910eac7'"), out)
}

// A failing post-renderer fails the Helm command, with cocofy's message and
// no manifests.
func TestHelm3Failure(t *testing.T) {
	r := run(t, root, nil, "", tool(t, "helm"), helmArgs("--set", "web.tag=9.9")...)
	assert.Assert(t, r.err != nil, "helm must fail")
	assert.Equal(t, r.stdout, "")
	assert.Assert(t, strings.Contains(r.stderr, "error: Deployment shop-web: spec.template.spec.containers[name=web].image: localhost:5001/cocofy-demo/web:9.9 is not in the lock file"), r.stderr)
}

// Helm 4 through the postrenderer/v1 plugin in postrender/cocofy, configured
// by $COCOFY_CONFIG, installed as docs/doors.md says: from the folder or from the
// `make dist` archive, into a Helm 4 data folder of its own, it installs as
// plugin folder "cocofy", gives the same objects as Helm 3, and post-renders
// the pre-install hook that Helm 3 leaves alone. Helm 3 keeps working beside
// it; with the plugin in Helm 3's own plugin folder, it would not.
func TestHelm4Plugin(t *testing.T) {
	helm3, helm4 := tool(t, "helm"), tool(t, "helm4")
	// Helm's folders all under the test's own, and cocofy on PATH, where the
	// plugin's command finds it.
	data, path := t.TempDir(), t.TempDir()
	assert.NilError(t, os.Symlink(cocofy(t), filepath.Join(path, "cocofy")))
	helmRun := func(t *testing.T, env []string, name string, args ...string) result {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = root
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "HELM_") && !strings.HasPrefix(k, "XDG_") && k != "PATH" {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "XDG_DATA_HOME="+data, "XDG_CONFIG_HOME="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir(),
			"PATH="+path+string(os.PathListSeparator)+os.Getenv("PATH"),
			"COCOFY_CACHE_DIR="+t.TempDir(), "DOCKER_CONFIG="+t.TempDir())
		cmd.Env = append(cmd.Env, env...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		// A session of its own: no controlling terminal, as in CI, so
		// that cocofy under Helm 4 does not write to the tester's.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		err := cmd.Run()
		return result{out.String(), errOut.String(), err}
	}
	mustHelm := func(t *testing.T, env []string, name string, args ...string) result {
		t.Helper()
		r := helmRun(t, env, name, args...)
		assert.NilError(t, r.err, "%s %v\nstderr:\n%s", name, args, r.stderr)
		return r
	}
	job := func(t *testing.T, stream, name string) string {
		t.Helper()
		for _, o := range objects(t, stream) {
			if strings.HasPrefix(o, "apiVersion: batch/v1\nkind: Job\nmetadata:\n  annotations:\n    helm.sh/hook: pre-install\n  name: "+name+"\n") {
				return o
			}
		}
		t.Fatalf("no pre-install Job %s in\n%s", name, stream)
		return ""
	}
	archiveDir := t.TempDir()
	archive := strings.TrimSpace(mustRun(t, root, []string{"DIST=" + archiveDir}, "", "bash", "hack/dist.sh", "plugin"))

	for _, tc := range []struct{ name, source string }{
		{"folder", "postrender/cocofy"},
		{"archive", archive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h4data := filepath.Join(t.TempDir(), "helm4")
			state := t.TempDir()
			h4 := []string{"HELM_DATA_HOME=" + h4data, "COCOFY_CONFIG=" + filepath.Join(root, "examples", "cocofy.yaml"), "XDG_STATE_HOME=" + state}
			mustHelm(t, h4, helm4, "plugin", "install", "--verify=false", tc.source)
			_, err := os.Stat(filepath.Join(h4data, "plugins", "cocofy", "plugin.yaml"))
			assert.NilError(t, err, "installed as plugin folder cocofy")
			list := mustHelm(t, h4, helm4, "plugin", "list").stdout
			assert.Assert(t, strings.Contains(list, "\ncocofy\t") && strings.Contains(list, "\tpostrenderer/v1"), list)

			// Helm 3, with its default plugin folder, does not see it.
			r := mustHelm(t, nil, helm3, "plugin", "list")
			assert.Equal(t, r.stderr, "")
			h3 := mustHelm(t, nil, helm3, helmArgs()...)
			assert.Assert(t, !strings.Contains(h3.stderr, "failed to load plugins"), h3.stderr)

			out := mustHelm(t, h4, helm4, "template", "shop", "examples/chart/shop", "--post-renderer", "cocofy").stdout
			assert.DeepEqual(t, objects(t, out), objects(t, h3.stdout))

			// Helm 4 post-renders the pre-install hook; Helm 3 does not.
			hd := mustHelm(t, h4, helm4, "template", "hd", "examples/chart/hardened", "--post-renderer", "cocofy").stdout
			hook := job(t, hd, "hd-migrate")
			assert.Assert(t, strings.Contains(hook, "image: localhost:5001/cocofy-demo/tools:1.0@sha256:50bc3354a8b6b36c3ae3bb4be81df87ada32b931f27bef7c138045ca79c3da5f\n"), hook)
			assert.Assert(t, strings.Contains(hook, "runtimeClassName: kata-vm-isolation\n"), hook)
			hd3 := mustHelm(t, nil, helm3, "template", "hd", "examples/chart/hardened", "--post-renderer", "bin/cocofy",
				"--post-renderer-args", "--config", "--post-renderer-args", "examples/cocofy.yaml").stdout
			assert.Assert(t, strings.Contains(hd3, "image: localhost:5001/cocofy-demo/api:2.0@sha256:"), "Helm 3 ran cocofy:\n%s", hd3)
			hook3 := job(t, hd3, "hd-migrate")
			assert.Assert(t, strings.Contains(hook3, "image: localhost:5001/cocofy-demo/tools:1.0\n"), hook3)
			assert.Assert(t, !strings.Contains(hook3, "runtimeClassName"), hook3)

			// Every run leaves its results in $XDG_STATE_HOME/cocofy.
			last := filepath.Join(state, "cocofy", "last-results.yaml")
			assert.Assert(t, strings.Contains(readFile(t, last), "exitCode: 0\n"), readFile(t, last))

			// Helm 4 hides the plugin's stderr (also with --debug: stderr=""),
			// but the command still fails, and the results say why.
			r = helmRun(t, h4, helm4, "template", "shop", "examples/chart/shop", "--post-renderer", "cocofy", "--set", "web.tag=9.9", "--debug")
			assert.Assert(t, r.err != nil)
			assert.Equal(t, strings.TrimSpace(r.stdout), "")
			assert.Assert(t, strings.Contains(r.stderr, `plugin \"cocofy\" exited with error`) || strings.Contains(r.stderr, `plugin "cocofy" exited with error`), r.stderr)
			assert.Assert(t, !strings.Contains(r.stderr, "not in the lock file"), "Helm 4 learnt to show stderr: update the README\n%s", r.stderr)
			results := readFile(t, last)
			assert.Assert(t, strings.Contains(results, "exitCode: 1\n"), results)
			assert.Assert(t, strings.Contains(results, "localhost:5001/cocofy-demo/web:9.9 is not in the lock file"), results)

			mustHelm(t, h4, helm4, "plugin", "uninstall", "cocofy")
			_, err = os.Lstat(filepath.Join(h4data, "plugins", "cocofy"))
			assert.Assert(t, os.IsNotExist(err), "uninstalled: %v", err)
		})
	}

	// Why Helm 4 gets a data folder of its own: Helm 4 installs into
	// $HELM_DATA_HOME/plugins whatever HELM_PLUGINS says, and there Helm 3
	// cannot read the plugin, warns on every command and loads no plugin.
	mustHelm(t, []string{"HELM_PLUGINS=" + t.TempDir()}, helm4, "plugin", "install", "postrender/cocofy")
	_, err := os.Stat(filepath.Join(data, "helm", "plugins", "cocofy", "plugin.yaml"))
	assert.NilError(t, err, "Helm 4 ignored HELM_PLUGINS")
	r := mustHelm(t, nil, helm3, "version")
	assert.Assert(t, strings.Contains(r.stderr, `failed to load plugins`) && strings.Contains(r.stderr, `unknown field "apiVersion"`), r.stderr)
	r = helmRun(t, nil, helm3, "plugin", "list")
	assert.Assert(t, r.err != nil, "helm 3 plugin list fails")
}

// kustomize with cocofy as an exec transformer: golden output, and the same
// objects as piping the untransformed build through cocofy.
func TestKustomizeExecTransformer(t *testing.T) {
	kustomize := tool(t, "kustomize")
	out := mustRun(t, root, nil, "", kustomize, "build", "--enable-alpha-plugins", "--enable-exec", "examples/kustomize")
	golden.Assert(t, out, "kustomize-build.yaml")

	// The same resources without the transformer, through the plain door.
	plainDir := t.TempDir()
	for _, f := range []string{"web.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "kustomize", f))
		assert.NilError(t, err)
		assert.NilError(t, os.WriteFile(filepath.Join(plainDir, f), b, 0o644))
	}
	assert.NilError(t, os.WriteFile(filepath.Join(plainDir, "kustomization.yaml"), []byte("namespace: shop\nresources: [web.yaml]\n"), 0o644))
	plain := mustRun(t, root, nil, "", kustomize, "build", plainDir)
	cfg := strings.ReplaceAll(readFile(t, "examples/kustomize/cocofy.yaml"), "../images.lock.yaml", filepath.Join(root, "examples", "images.lock.yaml"))
	cfgPath := filepath.Join(t.TempDir(), "cocofy.yaml")
	assert.NilError(t, os.WriteFile(cfgPath, []byte(cfg), 0o644))
	piped := mustRun(t, root, nil, plain, cocofy(t), "--config", cfgPath)
	assert.DeepEqual(t, objects(t, out), objects(t, piped))
}

// kpt fn render runs the package pipeline in place; a second render changes
// nothing; kpt fn eval --exec gives the same files.
func TestKpt(t *testing.T) {
	kpt := tool(t, "kpt")
	pkg := copyPackage(t)
	out := run(t, pkg, nil, "", kpt, "fn", "render", "--allow-exec", "--truncate-output=false")
	assert.NilError(t, out.err, out.stderr)
	assert.Assert(t, strings.Contains(out.stderr, "[info] apps/v1/Deployment/shop/api spec.template.spec.runtimeClassName: set to \"kata-vm-isolation\""), out.stderr)
	for _, f := range []string{"api.yaml", "report.yaml"} {
		golden.Assert(t, readFile(t, filepath.Join(pkg, f)), filepath.Join("kpt", f))
	}
	rendered := snapshot(t, pkg)
	assert.NilError(t, run(t, pkg, nil, "", kpt, "fn", "render", "--allow-exec").err)
	assert.DeepEqual(t, snapshot(t, pkg), rendered)

	evalPkg := copyPackage(t)
	r := run(t, evalPkg, nil, "", kpt, "fn", "eval", ".", "--exec", cocofy(t), "--fn-config", "cocofy.yaml")
	assert.NilError(t, r.err, r.stderr)
	assert.DeepEqual(t, snapshot(t, evalPkg), rendered)
}

// A kpt render that fails leaves the package unchanged.
// cocofy as kpt mutator then validator on the virtual-node package; then,
// on the rendered package with the validator alone (a CI gate), a tampered
// copy fails the pipeline with the enforcer's reason and the drift.
func TestKptValidator(t *testing.T) {
	kpt := tool(t, "kpt")
	pkg := copyPackageNamed(t, "kpt-virtual-node")
	r := run(t, pkg, nil, "", kpt, "fn", "render", "--allow-exec", "--truncate-output=false")
	assert.NilError(t, r.err, r.stderr)
	assert.Assert(t, strings.Contains(r.stderr, "verified: the enforcer allows every container and the policy matches the spec"), r.stderr)
	golden.Assert(t, readFile(t, filepath.Join(pkg, "api.yaml")), "kpt-virtual-node/api.yaml")

	kptfile := filepath.Join(pkg, "Kptfile")
	k := readFile(t, kptfile)
	i, j := strings.Index(k, "  mutators:"), strings.Index(k, "  validators:")
	assert.NilError(t, os.WriteFile(kptfile, []byte(k[:i]+k[j:]), 0o644))
	assert.NilError(t, run(t, pkg, nil, "", kpt, "fn", "render", "--allow-exec").err, "the rendered package verifies")

	api := filepath.Join(pkg, "api.yaml")
	tampered := strings.Replace(readFile(t, api), "          resources:", "          command: [/bin/sh, -c, 'cat /secrets/*']\n          resources:", 1)
	assert.NilError(t, os.WriteFile(api, []byte(tampered), 0o644))
	r = run(t, pkg, nil, "", kpt, "fn", "render", "--allow-exec", "--truncate-output=false")
	assert.Assert(t, r.err != nil, "a tampered package must fail")
	assert.Assert(t, strings.Contains(r.stderr, `the enforcer denies container \"api\" at create_container: invalid command`) ||
		strings.Contains(r.stderr, `the enforcer denies container "api" at create_container: invalid command`), r.stderr)
	assert.Assert(t, strings.Contains(r.stderr, "drift: the attached policy does not match the pod spec: containers[name=api].command differ"), r.stderr)
	assert.Equal(t, readFile(t, api), tampered, "a failed validator changes nothing")
}

func TestKptFailureLeavesPackage(t *testing.T) {
	pkg := copyPackage(t)
	api := filepath.Join(pkg, "api.yaml")
	assert.NilError(t, os.WriteFile(api, []byte(strings.Replace(readFile(t, api), "api:2.0", "api:6.6", 1)), 0o644))
	before := snapshot(t, pkg)
	r := run(t, pkg, nil, "", tool(t, "kpt"), "fn", "render", "--allow-exec", "--truncate-output=false")
	assert.Assert(t, r.err != nil)
	assert.Assert(t, strings.Contains(r.stderr, "localhost:5001/cocofy-demo/api:6.6 is not in the lock file"), r.stderr)
	assert.DeepEqual(t, snapshot(t, pkg), before)
}

// copyPackage copies examples/kpt to a temporary folder, with the exec path
// and the lock file made absolute.
func copyPackage(t *testing.T) string {
	t.Helper()
	return copyPackageNamed(t, "kpt")
}

// copyPackageNamed copies examples/<name> with the paths made absolute.
func copyPackageNamed(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join(root, "examples", name)
	entries, err := os.ReadDir(src)
	assert.NilError(t, err)
	for _, e := range entries {
		b := readFile(t, filepath.Join(src, e.Name()))
		b = strings.ReplaceAll(b, "../../bin/cocofy", cocofy(t))
		b = strings.ReplaceAll(b, "../../examples/images.lock.yaml", filepath.Join(root, "examples", "images.lock.yaml"))
		assert.NilError(t, os.WriteFile(filepath.Join(dst, e.Name()), []byte(b), 0o644))
	}
	return dst
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	entries, err := os.ReadDir(dir)
	assert.NilError(t, err)
	for _, e := range entries {
		m[e.Name()] = readFile(t, filepath.Join(dir, e.Name()))
	}
	return m
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	b, err := os.ReadFile(path)
	assert.NilError(t, err)
	return string(b)
}

// The committed lock file is what the demo images in a real registry give:
// a crane registry of the test's own, on a free loopback port, holds them
// (hack/demoimages pushes them), and hack/lock-examples.sh rewrites the lock
// from scratch asking that registry for the localhost:5001 images the
// examples name. An online render (no lock file) equals the offline one.
func TestLockFileMatchesRegistry(t *testing.T) {
	reg := startRegistry(t)
	// What the examples and the lock file name, as this registry knows it.
	toReg := strings.NewReplacer("localhost:5001/", reg+"/")
	toNamed := strings.NewReplacer(reg+"/", "localhost:5001/")

	mustRun(t, root, nil, "", "go", "run", "./hack/demoimages", "-registry", reg)
	lock := filepath.Join(t.TempDir(), "images.lock.yaml")
	mustRun(t, root, []string{"LOCK=" + lock, "HELM=" + tool(t, "helm"), "REGISTRY=" + reg}, "", "bash", "hack/lock-examples.sh")
	assert.Equal(t, readFile(t, lock), readFile(t, "examples/images.lock.yaml"))

	// The root hashes are what hcsshim's dmverity-vhd computes from the
	// same registry.
	for ref, hashes := range lockedRootHashes(t, lock) {
		out := mustRun(t, root, nil, "", tool(t, "dmverity-vhd"), "roothash", "-i", toReg.Replace(ref))
		var want []string
		for i, h := range hashes {
			want = append(want, fmt.Sprintf("Layer %d root hash: %s", i, h))
		}
		assert.Equal(t, strings.TrimSpace(out), strings.Join(want, "\n"), ref)
	}

	online := strings.Replace(readFile(t, "examples/cocofy.yaml"), "lockMode: use", "lockMode: auto", 1)
	online = strings.Replace(online, "lockFile: images.lock.yaml", "", 1)
	cfg := filepath.Join(t.TempDir(), "online.yaml")
	assert.NilError(t, os.WriteFile(cfg, []byte(online), 0o644))
	plain := mustRun(t, root, nil, "", tool(t, "helm"), "template", "shop", "examples/chart/shop")
	got := mustRun(t, root, nil, toReg.Replace(plain), cocofy(t), "--config", cfg)
	assert.Equal(t, toNamed.Replace(got), readFile(t, "e2e/testdata/helm3-template.yaml"))
}

// startRegistry starts `crane registry serve` on a port the kernel picks and
// returns its address as localhost:PORT. The port is the one crane's own
// listener reports ("serving on port N"), so what answers there is this
// crane, never something else left listening on a fixed port such as 5001.
func startRegistry(t *testing.T) string {
	t.Helper()
	crane := exec.Command(tool(t, "crane"), "registry", "serve", "--address", "127.0.0.1:0")
	stderr, err := crane.StderrPipe()
	assert.NilError(t, err)
	assert.NilError(t, crane.Start())
	t.Cleanup(func() { _ = crane.Process.Kill(); _ = crane.Wait() })
	port := make(chan string, 1)
	var log bytes.Buffer
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := servingOn.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case port <- m[1]:
				default:
				}
			}
		}
		close(port)
	}()
	select {
	case p, ok := <-port:
		if ok {
			return "localhost:" + p
		}
	case <-time.After(10 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	t.Fatalf("crane registry serve did not start: %s", log.String())
	return ""
}

var servingOn = regexp.MustCompile(`serving on port (\d+)`)

// lockedRootHashes returns the layer root hashes of each linux/amd64 entry
// of a lock file.
func lockedRootHashes(t *testing.T, path string) map[string][]string {
	t.Helper()
	var lock struct {
		Images []struct {
			Ref, Platform string
			Layers        []struct {
				RootHash string `yaml:"rootHash"`
			}
		}
	}
	assert.NilError(t, yaml.Unmarshal([]byte(readFile(t, path)), &lock))
	out := map[string][]string{}
	for _, e := range lock.Images {
		if e.Platform != "linux/amd64" {
			continue
		}
		for _, l := range e.Layers {
			assert.Assert(t, l.RootHash != "", "%s: a layer without a root hash", e.Ref)
			out[e.Ref] = append(out[e.Ref], l.RootHash)
		}
	}
	assert.Assert(t, len(out) > 0)
	return out
}
