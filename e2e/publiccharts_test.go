//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// A public chart, as its publisher's repository holds it: a folder of a
// module of chartModules.
type publicChart struct {
	name, module, dir string
	namespace         string
	// deps: dependencies the chart's default values leave off; helm
	// template still wants their folders, so an empty chart stands in.
	deps []string
}

// chartModules are the publishers' repositories, by module path. The Go
// module proxy serves any public GitHub repository as a module zip,
// checked against the Go checksum database, so e2e reads the charts from
// there: nothing of them is in this repository, and a CI machine that
// reaches only the module proxy fetches them. sum is the module's h1:
// hash, which `go mod download` reports and which must match.
var chartModules = map[string]struct{ version, sum string }{
	"github.com/argoproj/argo-helm":               {"v0.0.0-20260904222229-3bbb4305eea9", "h1:WwVk8y5P+B0c9yiH8dF0VZtBHpsIWE9dq9osMjul8UM="},
	"github.com/hashicorp/vault-helm":             {"v0.34.1", "h1:2uoVkbS+64x13G/92mbAPDPSvH6APcV7+jrQbhH+NqU="},
	"github.com/prometheus-community/helm-charts": {"v0.0.0-20260828105119-ed5d7d9b5933", "h1:5+f9HcKpurn9DWdl0b8PsT7TkEzfCDwcx2KbWYnrnPU="},
	"github.com/grafana-community/helm-charts":    {"v0.0.0-20260829030558-dbf9f4fb5fa1", "h1:vku2Qg2LpOqB0wMkzPLMfWL1f1LBTzBH4fVgSJ8+Zak="},
	"github.com/bitnami-labs/sealed-secrets":      {"v0.40.0", "h1:rvCP35JL8ZV5LNA2SrwNR6iLyoM3ulrSFWN0lBtYEYI="},
	"github.com/stakater/Reloader":                {"v1.4.22", "h1:G5bghhnESM8kHbjp9OOkcOjkfNUpKfSyTVNybBF9KhA="},
	"github.com/kubernetes-sigs/metrics-server":   {"v0.7.2-0.20240405191304-ff2febb81ca8", "h1:a4Ss+3IKUpR6eI2qwphCXJjkk0zhEe/nYJ446nep8+0="},
}

var publicCharts = []publicChart{
	{name: "argocd", module: "github.com/argoproj/argo-helm", dir: "charts/argo-cd", namespace: "argocd", deps: []string{"redis-ha"}},
	{name: "vault", module: "github.com/hashicorp/vault-helm", dir: ".", namespace: "vault"},
	{name: "node-exporter", module: "github.com/prometheus-community/helm-charts", dir: "charts/prometheus-node-exporter", namespace: "monitoring"},
	{name: "ksm", module: "github.com/prometheus-community/helm-charts", dir: "charts/kube-state-metrics", namespace: "monitoring"},
	{name: "grafana", module: "github.com/grafana-community/helm-charts", dir: "charts/grafana", namespace: "monitoring"},
	{name: "sealed-secrets", module: "github.com/bitnami-labs/sealed-secrets", dir: "helm/sealed-secrets", namespace: "kube-system"},
	{name: "reloader", module: "github.com/stakater/Reloader", dir: "deployments/kubernetes/chart/reloader", namespace: "reloader"},
	{name: "metrics-server", module: "github.com/kubernetes-sigs/metrics-server", dir: "charts/metrics-server", namespace: "kube-system"},
}

var (
	moduleDirsOnce sync.Once
	moduleDirs     map[string]string
	moduleErr      error
)

// chartSources downloads every module of chartModules once per test
// binary (one `go mod download` for all), checks each hash, and returns
// each module's folder by module path.
func chartSources(t *testing.T) map[string]string {
	t.Helper()
	moduleDirsOnce.Do(func() { moduleDirs, moduleErr = downloadModules(t.TempDir()) })
	assert.NilError(t, moduleErr)
	return moduleDirs
}

func downloadModules(dir string) (map[string]string, error) {
	args := []string{"mod", "download", "-json"}
	for _, path := range sortedKeys(chartModules) {
		args = append(args, path+"@"+chartModules[path].version)
	}
	cmd := exec.Command("go", args...)
	// Outside any module: the download is checked against the checksum
	// database (GONOSUMDB and GOFLAGS from the caller do not apply).
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on", "GONOSUMDB=", "GOPRIVATE=", "GOINSECURE=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	dirs := map[string]string{}
	var problems []string
	for dec := json.NewDecoder(&stdout); ; {
		var m struct{ Path, Version, Dir, Sum, Error string }
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		switch want := chartModules[m.Path]; {
		case m.Error != "":
			problems = append(problems, m.Error)
		case m.Version != want.version || m.Sum != want.sum:
			problems = append(problems, fmt.Sprintf("%s@%s: hash %s, want %s@%s %s", m.Path, m.Version, m.Sum, m.Path, want.version, want.sum))
		default:
			dirs[m.Path] = m.Dir
		}
	}
	for path := range chartModules {
		if _, ok := dirs[path]; !ok && len(problems) == 0 {
			problems = append(problems, path+": not downloaded")
		}
	}
	if len(problems) > 0 || runErr != nil {
		return nil, fmt.Errorf("go mod download of the public charts: %s (%v) %s", strings.Join(problems, "; "), runErr, stderr.String())
	}
	return dirs, nil
}

// chartDir copies the chart into a temporary folder (the module cache is
// read-only) with empty stand-ins for the dependencies that are off.
func chartDir(t *testing.T, c publicChart) string {
	t.Helper()
	src := filepath.Join(chartSources(t)[c.module], c.dir)
	dst := filepath.Join(t.TempDir(), filepath.Base(filepath.Clean(src)))
	if c.dir == "." {
		dst = filepath.Join(filepath.Dir(dst), c.name)
	}
	argoCopyTree(t, src, dst)
	for _, d := range c.deps {
		argoWriteFile(t, filepath.Join(dst, "charts", d, "Chart.yaml"), "apiVersion: v2\nname: "+d+"\nversion: 0.0.0\n")
	}
	return dst
}

func renderChart(t *testing.T, c publicChart, args ...string) string {
	t.Helper()
	dir := chartDir(t, c)
	a := append([]string{"template", c.name, dir, "--kube-version", "1.33.0", "--namespace", c.namespace}, args...)
	return mustRun(t, root, nil, "", tool(t, "helm"), a...)
}

// standIn is what a stand-in image keeps of the real one: its user, groups,
// environment, entrypoint and command, as the image's build sets them.
type standIn struct {
	User       string            `yaml:"user"`
	WorkingDir string            `yaml:"workingDir"`
	Entrypoint []string          `yaml:"entrypoint"`
	Cmd        []string          `yaml:"cmd"`
	Env        []string          `yaml:"env"`
	Groups     map[string]int    `yaml:"groups"`
	Users      map[string]string `yaml:"users"` // name: "uid:gid"
}

func loadStandIns(t *testing.T) map[string]standIn {
	t.Helper()
	var m map[string]standIn
	dec := yaml.NewDecoder(strings.NewReader(readFile(t, "e2e/testdata/public-charts/images.yaml")))
	dec.KnownFields(true)
	assert.NilError(t, dec.Decode(&m))
	return m
}

// standInImage builds the stand-in of one image: one layer with
// /etc/passwd, /etc/group and the entrypoint's file.
func standInImage(t *testing.T, ref string, s standIn) v1.Image {
	t.Helper()
	var passwd, group strings.Builder
	for _, name := range sortedKeys(s.Users) {
		uid, gid, _ := strings.Cut(s.Users[name], ":")
		fmt.Fprintf(&passwd, "%s:x:%s:%s::/:/sbin/nologin\n", name, uid, gid)
	}
	for _, name := range sortedKeys(s.Groups) {
		fmt.Fprintf(&group, "%s:x:%d:\n", name, s.Groups[name])
	}
	files := []registrytest.File{{Name: "etc/", Typeflag: tar.TypeDir},
		{Name: "etc/passwd", Body: passwd.String()}, {Name: "etc/group", Body: group.String()}}
	if exe := append(s.Entrypoint, s.Cmd...); len(exe) > 0 && strings.HasPrefix(exe[0], "/") {
		name := strings.TrimPrefix(exe[0], "/")
		var dirs []registrytest.File // parents first
		for d := filepath.Dir(name); d != "."; d = filepath.Dir(d) {
			dirs = append([]registrytest.File{{Name: d + "/", Typeflag: tar.TypeDir}}, dirs...)
		}
		files = append(append(files, dirs...), registrytest.File{Name: name, Body: "#!/bin/sh\n# stand-in\n", Mode: 0o755})
	}
	return registrytest.Image(t, ref, "linux/amd64", v1.Config{
		User: s.User, WorkingDir: s.WorkingDir, Entrypoint: s.Entrypoint, Cmd: s.Cmd,
		Env: append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, s.Env...),
	}, registrytest.Layer(t, files...))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var imageField = regexp.MustCompile(`(?m)^\s*(?:- )?image:\s*["']?([^"'\s]+)["']?\s*$`)

// chartImages lists the images a rendered stream names.
func chartImages(stream string) []string {
	seen := map[string]bool{}
	for _, m := range imageField.FindAllStringSubmatch(stream, -1) {
		seen[m[1]] = true
	}
	return sortedKeys(seen)
}

// standInLock pushes a stand-in of each image to a loopback registry, has
// cocofy write a lock file for them there (lockMode update: digests, layer
// root hashes, /etc/group), and names each entry by the real reference, as
// a lock file written where the real registries are reachable would. It
// returns the lock file's path.
func standInLock(t *testing.T, images []string) string {
	t.Helper()
	facts := loadStandIns(t)
	reg := registrytest.Start(t)
	var missing []string
	var pods strings.Builder
	for i, ref := range images {
		s, ok := facts[ref]
		if !ok {
			missing = append(missing, ref)
			continue
		}
		reg.Push(t, ref, standInImage(t, ref, s))
		fmt.Fprintf(&pods, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%d}\nspec:\n  containers:\n  - {name: c, image: %q}\n", i, reg.Ref(ref))
	}
	assert.Assert(t, len(missing) == 0, "no stand-in in e2e/testdata/public-charts/images.yaml for %q", missing)
	dir := t.TempDir()
	lock := filepath.Join(dir, "images.lock.yaml")
	cfg := filepath.Join(dir, "lock.yaml")
	argoWriteFile(t, cfg, "apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: virtual-node\n  images: {lockFile: images.lock.yaml, lockMode: update}\n")
	r := run(t, dir, nil, pods.String(), cocofy(t), "--config", cfg)
	assert.NilError(t, r.err, r.stderr)
	argoWriteFile(t, lock, strings.ReplaceAll(readFile(t, lock), reg.Host+"/", ""))
	return lock
}

// The argo-cd chart reads the Secret argocd-redis, which its install-time
// hook Job makes: a stream that supplies it, as a user would.
const argoRedisSecret = `---
apiVersion: v1
kind: Secret
metadata:
  name: argocd-redis
  namespace: argocd
type: Opaque
stringData:
  auth: e2e-stand-in-password
`

// Real public charts (publicCharts) with default values, their images
// replaced by stand-ins that keep what the policy depends on, through
// cocofy and cocofy verify for virtual nodes and Pod Sandboxing: every
// output verifies, and every document cocofy did not change comes out byte
// for byte as helm wrote it. argo-cd's chart fails on virtual nodes on its
// install-time Secret alone, and renders once the stream supplies it.
func TestPublicCharts(t *testing.T) {
	rendered := map[string]string{}
	var all strings.Builder
	for _, c := range publicCharts {
		rendered[c.name] = renderChart(t, c)
		all.WriteString(rendered[c.name])
	}
	lock := standInLock(t, chartImages(all.String()))
	for _, c := range publicCharts {
		for _, target := range []string{"virtual-node", "pod-sandbox"} {
			t.Run(c.name+"/"+target, func(t *testing.T) {
				cfg := targetConfig(t, target, lock)
				in := rendered[c.name]
				if c.name == "argocd" && target == "virtual-node" {
					assertOnlyInstallTimeSecret(t, cfg, in)
					in += argoRedisSecret
				}
				r := run(t, root, nil, in, cocofy(t), "--config", cfg, "-v")
				assert.NilError(t, r.err, r.stderr)
				assertUntouchedAsTheyCame(t, in, r.stdout)
				v := run(t, root, nil, r.stdout, cocofy(t), "verify", "--config", cfg, "-v")
				assert.NilError(t, v.err, v.stderr)
				checkChart(t, c.name, target, r, v)
				if c.name == "argocd" && target == "virtual-node" {
					// argo-cd's optional references to keys its ConfigMaps
					// do not hold: left out, as the kubelet does.
					n := strings.Count(r.stderr, "is not in the stream: the kubelet leaves")
					assert.Assert(t, n >= 100, "%d optional references left out:\n%s", n, r.stderr)
				}
			})
		}
	}
}

func targetConfig(t *testing.T, target, lock string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "cocofy.yaml")
	argoWriteFile(t, cfg, "apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: "+target+
		"\n  images: {lockFile: "+lock+", lockMode: use}\n")
	return cfg
}

// assertOnlyInstallTimeSecret: argo-cd's chart on virtual nodes fails, and
// every error is about argocd-redis, with the remedies.
func assertOnlyInstallTimeSecret(t *testing.T, cfg, in string) {
	t.Helper()
	r := run(t, root, nil, in, cocofy(t), "--config", cfg)
	assert.Assert(t, r.err != nil, "argo-cd rendered without its install-time Secret:\n%s", r.stderr)
	assert.Equal(t, r.stdout, "", "no partial output")
	var errs []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "error: ") {
			errs = append(errs, l)
		}
	}
	assert.Assert(t, len(errs) > 0, r.stderr)
	for _, e := range errs {
		assert.Assert(t, strings.Contains(e, `Secret "argocd-redis"`), "an error not about argocd-redis: %s", e)
	}
	for _, want := range []string{
		"this render does not have it (a chart often makes it at install time",
		"set the chart's existing-secret value",
		"policy.wildcardMissingRefs writes REDIS_PASSWORD=.* instead",
		"Deployment argocd/argocd-redis: spec.template.spec.containers[name=redis].env[name=REDIS_PASSWORD]",
		"$(REDIS_PASSWORD) is also in the container's command line",
		`(the Helm hook Job argocd/argocd-redis-secret-init of this stream names it`,
	} {
		assert.Assert(t, strings.Contains(r.stderr, want), "missing %q in\n%s", want, r.stderr)
	}
}

// assertUntouchedAsTheyCame: each output document that is not a workload
// cocofy wrote into appears in the input byte for byte.
func assertUntouchedAsTheyCame(t *testing.T, in, out string) {
	t.Helper()
	inDocs := map[string]bool{}
	for _, d := range splitDocs(in) {
		inDocs[d] = true
	}
	kept := 0
	for _, d := range splitDocs(out) {
		if inDocs[d] {
			kept++
			continue
		}
		assert.Assert(t, workloadKind.MatchString(d), "a document that is no workload changed:\n%s", d)
	}
	assert.Assert(t, kept > 0)
}

var workloadKind = regexp.MustCompile(`(?m)^kind: (Pod|Deployment|StatefulSet|DaemonSet|ReplicaSet|Job|CronJob)\s*$`)

func splitDocs(stream string) []string {
	var docs []string
	for _, d := range regexp.MustCompile(`(?m)^---[^\n]*\n`).Split(stream, -1) {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, d)
		}
	}
	return docs
}

// chartResult is what a chart gives on one target: the CCE policies (or
// runtime classes) written, and warnings that must be among the results.
type chartResult struct {
	placed   int
	warnings []string
}

var chartResults = map[string]chartResult{
	"argocd/virtual-node":         {8, []string{"a Secret's value, written in clear into the CCE policy"}},
	"argocd/pod-sandbox":          {8, []string{"no cpu limit or request"}},
	"vault/virtual-node":          {3, nil},
	"vault/pod-sandbox":           {3, []string{"no cpu limit or request"}},
	"node-exporter/virtual-node":  {0, []string{"virtual nodes run no DaemonSets: it stays on the regular nodes"}},
	"node-exporter/pod-sandbox":   {1, []string{"spec.template.spec.hostNetwork: hostNetwork is not supported in a pod VM", "spec.template.spec.hostPID: hostPID"}},
	"ksm/virtual-node":            {1, nil},
	"ksm/pod-sandbox":             {1, []string{"no cpu limit or request"}},
	"grafana/virtual-node":        {1, []string{"env[name=GF_SECURITY_ADMIN_PASSWORD]: a Secret's value, written in clear into the CCE policy"}},
	"grafana/pod-sandbox":         {1, []string{"no cpu limit or request"}},
	"sealed-secrets/virtual-node": {1, nil},
	"sealed-secrets/pod-sandbox":  {1, []string{"no cpu limit or request"}},
	"reloader/virtual-node":       {1, nil},
	"reloader/pod-sandbox":        {1, []string{"no cpu limit or request"}},
	"metrics-server/virtual-node": {1, nil},
	"metrics-server/pod-sandbox":  {1, nil},
}

// checkChart compares a chart's render and verify with chartResults: on
// virtual nodes every policy written is one the enforcer allowed.
func checkChart(t *testing.T, name, target string, r, v result) {
	t.Helper()
	t.Logf("%s on %s: %d warnings", name, target, strings.Count(r.stderr, "warning: "))
	want, ok := chartResults[name+"/"+target]
	assert.Assert(t, ok, "no chartResults entry for %s/%s", name, target)
	if target == "virtual-node" {
		assert.Equal(t, strings.Count(r.stdout, "microsoft.containerinstance.virtualnode.ccepolicy:"), want.placed, "%s", r.stderr)
		assert.Equal(t, strings.Count(v.stderr, "verified: the enforcer allows every container"), want.placed, "%s", v.stderr)
	} else {
		assert.Equal(t, strings.Count(r.stdout, "runtimeClassName: kata-vm-isolation"), want.placed, "%s", r.stderr)
		assert.Equal(t, strings.Count(r.stdout, "ccepolicy"), 0)
	}
	for _, w := range want.warnings {
		assert.Assert(t, strings.Contains(r.stderr, "warning: ") && strings.Contains(r.stderr, w), "missing warning %q in\n%s", w, r.stderr)
	}
}

// The README's Argo CD section for an Argo CD installed with its chart:
// the argo-cd chart rendered with examples/argocd/argo-cd-values.yaml holds
// the plugin in argocd-cmp-cm, the sidecar in the repo-server with that key
// mounted as its plugin.yaml, and the plugin, run as the sidecar runs it
// from the rendered ConfigMap, renders the example Application.
func TestArgoChartWithPluginValues(t *testing.T) {
	var argo publicChart
	for _, c := range publicCharts {
		if c.name == "argocd" {
			argo = c
		}
	}
	out := renderChart(t, argo, "--values", filepath.Join(root, "examples/argocd/argo-cd-values.yaml"))
	nodes := argoParse(t, out)
	var cm, repo *yaml.RNode
	for _, n := range nodes {
		switch {
		case n.GetKind() == "ConfigMap" && n.GetName() == "argocd-cmp-cm":
			cm = n
		case n.GetKind() == "Deployment" && n.GetName() == "argocd-repo-server":
			repo = n
		}
	}
	assert.Assert(t, cm != nil && repo != nil, "no argocd-cmp-cm or argocd-repo-server in the chart's output")

	want := loadPlugin(t)
	var got cmpPlugin
	dec := yaml.NewDecoder(strings.NewReader(cm.GetDataMap()[want.Metadata.Name+".yaml"]))
	dec.KnownFields(true)
	assert.NilError(t, dec.Decode(&got))
	assert.DeepEqual(t, got, want, cmp.AllowUnexported(got.Spec.Discover.Find))

	spec := argoPodSpec(t, repo)
	sidecar := argoContainer(t, spec.Containers, "cocofy-helm")
	mounts := argoMounts(sidecar)
	assert.Equal(t, mounts["/home/argocd/cmp-server/config/plugin.yaml"], "cocofy-cmp-plugin/"+want.Metadata.Name+".yaml")
	found := false
	for _, v := range spec.Volumes {
		if v.Name == "cocofy-cmp-plugin" && v.ConfigMap != nil && v.ConfigMap.Name == "argocd-cmp-cm" {
			found = true
		}
	}
	assert.Assert(t, found, "the sidecar's plugin volume is not argocd-cmp-cm: %+v", spec.Volumes)

	// The plugin as the rendered ConfigMap gives it, on the example
	// Application.
	app := loadApp(t, "examples/argocd/application.yaml")
	dir := argoRepo(t, app, "examples/chart/shop", "examples/cocofy.yaml")
	argoWriteFile(t, filepath.Join(dir, "values-prod.yaml"), "web:\n  tag: \"1.5\"\n")
	r := argoGenerate(t, got, dir, argoEnv(t, app, app.pluginEnv()))
	assert.NilError(t, r.err, r.stderr)
	argoAssertPinned(t, r.stdout)
}
