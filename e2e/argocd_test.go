//go:build e2e

// GitOps: the Argo CD config management plugin (examples/argocd/plugin.yaml)
// run the way Argo CD's argocd-cmp-server runs it, the repo-server patches
// built with kustomize, Argo CD's built-in kustomize with the argocd-cm build
// options, and the Flux CI render (examples/flux).

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// cmpCommand is Argo CD's plugin Command (cmpserver/plugin/config.go): the
// CMP server execs Command[0] with Command[1:] followed by Args.
type cmpCommand struct {
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
}

// cmpPlugin is the ConfigManagementPlugin file, with every field Argo CD's
// PluginConfig knows; loadPlugin refuses any other.
type cmpPlugin struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Version  string     `yaml:"version"`
		Init     cmpCommand `yaml:"init"`
		Generate cmpCommand `yaml:"generate"`
		Discover struct {
			FileName string `yaml:"fileName"`
			Find     struct {
				cmpCommand `yaml:",inline"`
				Glob       string `yaml:"glob"`
			} `yaml:"find"`
		} `yaml:"discover"`
		Parameters       map[string]any `yaml:"parameters"`
		PreserveFileMode bool           `yaml:"preserveFileMode"`
		ProvideGitCreds  bool           `yaml:"provideGitCreds"`
	} `yaml:"spec"`
}

func loadPlugin(t *testing.T) cmpPlugin {
	t.Helper()
	var p cmpPlugin
	dec := yaml.NewDecoder(strings.NewReader(readFile(t, "examples/argocd/plugin.yaml")))
	dec.KnownFields(true)
	assert.NilError(t, dec.Decode(&p))
	// What Argo CD's ValidatePluginConfig requires.
	assert.Equal(t, p.APIVersion, "argoproj.io/v1alpha1")
	assert.Equal(t, p.Kind, "ConfigManagementPlugin")
	assert.Assert(t, p.Metadata.Name != "")
	assert.Assert(t, len(p.Spec.Generate.Command) > 0)
	return p
}

// name is what an Application's spec.source.plugin.name must say.
func (p cmpPlugin) name() string {
	if p.Spec.Version != "" {
		return p.Metadata.Name + "-" + p.Spec.Version
	}
	return p.Metadata.Name
}

type argoApp struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Project string `yaml:"project"`
		Source  struct {
			RepoURL        string `yaml:"repoURL"`
			TargetRevision string `yaml:"targetRevision"`
			Path           string `yaml:"path"`
			Plugin         *struct {
				Name string `yaml:"name"`
				Env  []struct {
					Name  string `yaml:"name"`
					Value string `yaml:"value"`
				} `yaml:"env"`
			} `yaml:"plugin"`
		} `yaml:"source"`
		Destination struct {
			Namespace string `yaml:"namespace"`
		} `yaml:"destination"`
	} `yaml:"spec"`
}

func loadApp(t *testing.T, path string) argoApp {
	t.Helper()
	var a argoApp
	assert.NilError(t, yaml.Unmarshal([]byte(readFile(t, path)), &a))
	return a
}

// pluginEnv returns the Application's plugin env (ARGOCD_ENV_ stripped).
func (a argoApp) pluginEnv() map[string]string {
	m := map[string]string{}
	if a.Spec.Source.Plugin != nil {
		for _, e := range a.Spec.Source.Plugin.Env {
			m[e.Name] = e.Value
		}
	}
	return m
}

// argoToolPath is the PATH of the plugin sidecar or repo-server: helm,
// kustomize and cocofy, then the system's sh and coreutils.
func argoToolPath(t *testing.T) string {
	t.Helper()
	return "PATH=" + strings.Join([]string{filepath.Dir(tool(t, "helm")), filepath.Dir(cocofy(t)), "/usr/local/bin", "/usr/bin", "/bin"}, string(os.PathListSeparator))
}

// argoEnv is the environment Argo CD gives a plugin command: the sidecar's
// own (PATH, HOME, helm's folders), the build environment of the
// Application, and each plugin env entry as ARGOCD_ENV_<NAME>. Like Argo
// CD, it leaves out empty values.
func argoEnv(t *testing.T, a argoApp, pluginEnv map[string]string) []string {
	t.Helper()
	const rev = "f913b6cbf58aa5ae5ca1f8a2b149477aebcbd9d8"
	// The sidecar's own environment (repo-server-patch.yaml): helm's
	// folders in a place of its own.
	home := t.TempDir()
	env := []string{argoToolPath(t), "HOME=" + home, "HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"), "HELM_DATA_HOME=" + filepath.Join(home, "data")}
	for k, v := range map[string]string{
		"ARGOCD_APP_NAME":                   a.Metadata.Name,
		"ARGOCD_APP_NAMESPACE":              a.Spec.Destination.Namespace,
		"ARGOCD_APP_PROJECT_NAME":           a.Spec.Project,
		"ARGOCD_APP_REVISION":               rev,
		"ARGOCD_APP_REVISION_SHORT":         rev[:7],
		"ARGOCD_APP_REVISION_SHORT_8":       rev[:8],
		"ARGOCD_APP_SOURCE_PATH":            a.Spec.Source.Path,
		"ARGOCD_APP_SOURCE_REPO_URL":        a.Spec.Source.RepoURL,
		"ARGOCD_APP_SOURCE_TARGET_REVISION": a.Spec.Source.TargetRevision,
		"KUBE_VERSION":                      "1.31.0",
		"KUBE_API_VERSIONS":                 "v1,apps/v1,batch/v1",
	} {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range pluginEnv {
		if v != "" {
			env = append(env, "ARGOCD_ENV_"+k+"="+v)
		}
	}
	return env
}

// runCMP runs one plugin command as argocd-cmp-server does: exec (no shell
// of its own), in the application's source path, with env.
func runCMP(t *testing.T, dir string, env []string, c cmpCommand) result {
	t.Helper()
	assert.Assert(t, len(c.Command) > 0)
	args := append(append([]string{}, c.Command[1:]...), c.Args...)
	return run(t, dir, env, "", c.Command[0], args...)
}

// argoGenerate runs init, then generate, like argocd-cmp-server's
// generateManifest: a failing init fails the generation.
func argoGenerate(t *testing.T, p cmpPlugin, dir string, env []string) result {
	t.Helper()
	if len(p.Spec.Init.Command) > 0 {
		if r := runCMP(t, dir, env, p.Spec.Init); r.err != nil {
			return r
		}
	}
	return runCMP(t, dir, env, p.Spec.Generate)
}

// argoCopyTree copies a folder of regular files.
func argoCopyTree(t *testing.T, src, dst string) {
	t.Helper()
	assert.NilError(t, filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	}))
}

func argoWriteFile(t *testing.T, path, content string) {
	t.Helper()
	assert.NilError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	assert.NilError(t, os.WriteFile(path, []byte(content), 0o644))
}

// argoRepo lays out a repository checkout as the CMP server receives it:
// the chart at the Application's source path, with the cocofy config (named
// as COCOFY_CONFIG says) and the lock file it names next to it. It returns
// the source path's folder.
func argoRepo(t *testing.T, a argoApp, chart, config string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), filepath.FromSlash(a.Spec.Source.Path))
	argoCopyTree(t, filepath.Join(root, chart), dir)
	name := a.pluginEnv()["COCOFY_CONFIG"]
	if name == "" {
		name = "cocofy.yaml"
	}
	cfg := readFile(t, config)
	assert.Assert(t, strings.Contains(cfg, "lockFile: images.lock.yaml"), config)
	argoWriteFile(t, filepath.Join(dir, name), cfg)
	argoWriteFile(t, filepath.Join(dir, "images.lock.yaml"), readFile(t, "examples/images.lock.yaml"))
	return dir
}

func argoParse(t *testing.T, out string) []*yaml.RNode {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: strings.NewReader(out), OmitReaderAnnotations: true}).Read()
	assert.NilError(t, err, out)
	return nodes
}

// argoAssertPinned checks that every image in a stream carries a digest.
func argoAssertPinned(t *testing.T, out string) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if s := strings.TrimSpace(line); strings.HasPrefix(s, "image:") || strings.HasPrefix(s, "- image:") {
			assert.Assert(t, strings.Contains(s, "@sha256:"), "unpinned: %s", s)
			n++
		}
	}
	assert.Assert(t, n > 0, "no images in\n%s", out)
}

// The plugin on the example Application (examples/argocd/application.yaml)
// and the shop chart: discovery matches, init and generate run as Argo CD
// runs them, and the manifests are what the Helm door of cocofy gives for
// the same release, namespace, cluster version and values: every image
// pinned, the runtime class set, HELM_ARGS applied.
func TestArgoCMPPlugin(t *testing.T) {
	p := loadPlugin(t)
	app := loadApp(t, "examples/argocd/application.yaml")
	assert.Assert(t, app.Spec.Source.Plugin != nil)
	assert.Equal(t, app.Spec.Source.Plugin.Name, p.name())
	assert.Equal(t, app.pluginEnv()["HELM_ARGS"], "--values values-prod.yaml --set web.replicas=3")

	dir := argoRepo(t, app, "examples/chart/shop", "examples/cocofy.yaml")
	argoWriteFile(t, filepath.Join(dir, "values-prod.yaml"), "web:\n  tag: \"1.5\"\n")
	env := argoEnv(t, app, app.pluginEnv())

	d := runCMP(t, dir, env, p.Spec.Discover.Find.cmpCommand)
	assert.NilError(t, d.err, d.stderr)
	assert.Assert(t, strings.TrimSpace(d.stdout) != "", "discovery must match the application folder")

	r := argoGenerate(t, p, dir, env)
	assert.NilError(t, r.err, r.stderr)
	assert.Equal(t, len(argoParse(t, r.stdout)), 4, r.stdout)
	argoAssertPinned(t, r.stdout)
	assert.Assert(t, strings.Contains(r.stdout, "image: localhost:5001/cocofy-demo/web:1.5@sha256:"), r.stdout)
	assert.Assert(t, strings.Contains(r.stdout, "replicas: 3"), r.stdout)
	assert.Equal(t, strings.Count(r.stdout, "runtimeClassName: kata-vm-isolation"), 3, r.stdout)
	assert.Assert(t, strings.Contains(r.stdout, "name: shop-web"), r.stdout)

	// The same as helm with cocofy as its post-renderer (the chart has no
	// hooks, where the two differ).
	want := mustRun(t, dir, nil, "", tool(t, "helm"), "template", "shop", ".", "--namespace=shop",
		"--kube-version=1.31.0", "--api-versions=v1,apps/v1,batch/v1", "--values=values-prod.yaml", "--set=web.replicas=3",
		"--post-renderer", cocofy(t), "--post-renderer-args", "--config=cocofy.yaml")
	assert.Equal(t, r.stdout, want)

	v := run(t, dir, nil, r.stdout, cocofy(t), "verify", "--config", "cocofy.yaml")
	assert.NilError(t, v.err, v.stderr)
}

// A chart with a pre-install hook onto virtual nodes: Argo CD runs
// helm.sh/hook resources as PreSync hooks, so the plugin gives the hook Job
// its pinned images and CCE policy too (Helm 3's --post-renderer would
// skip it), and cocofy verify accepts all three policies.
func TestArgoCMPPluginHookVirtualNode(t *testing.T) {
	p := loadPlugin(t)
	app := loadApp(t, "examples/argocd/application.yaml")
	app.Metadata.Name = "hd"
	dir := argoRepo(t, app, "examples/chart/hardened", "examples/hardened.yaml")
	r := argoGenerate(t, p, dir, argoEnv(t, app, map[string]string{"COCOFY_CONFIG": "cocofy.yaml"}))
	assert.NilError(t, r.err, r.stderr)
	argoAssertPinned(t, r.stdout)
	assert.Equal(t, strings.Count(r.stdout, "microsoft.containerinstance.virtualnode.ccepolicy:"), 3, r.stdout)
	var hook *yaml.RNode
	for _, n := range argoParse(t, r.stdout) {
		if n.GetAnnotations()["helm.sh/hook"] != "" {
			hook = n
		}
	}
	assert.Assert(t, hook != nil, r.stdout)
	policy, err := hook.Pipe(yaml.Lookup("spec", "template", "metadata", "annotations", "microsoft.containerinstance.virtualnode.ccepolicy"))
	assert.NilError(t, err)
	assert.Assert(t, policy != nil, "the hook Job has no CCE policy:\n%s", hook.MustString())

	v := run(t, dir, nil, r.stdout, cocofy(t), "verify", "--config", "cocofy.yaml", "-v")
	assert.NilError(t, v.err, v.stderr)
	assert.Equal(t, strings.Count(v.stderr, "verified: the enforcer allows every container"), 3, v.stderr)
}

// init builds a chart's dependencies from Chart.lock when charts/ is not
// vendored (here a file:// dependency, so offline), before generate.
func TestArgoCMPPluginInitDependencies(t *testing.T) {
	p := loadPlugin(t)
	app := loadApp(t, "examples/argocd/application.yaml")
	dir := argoRepo(t, app, "examples/chart/shop", "examples/cocofy.yaml")
	argoWriteFile(t, filepath.Join(dir, "values-prod.yaml"), "{}\n")
	sub := filepath.Join(filepath.Dir(dir), "extra")
	argoWriteFile(t, filepath.Join(sub, "Chart.yaml"), "apiVersion: v2\nname: extra\nversion: 0.1.0\n")
	argoWriteFile(t, filepath.Join(sub, "templates", "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-extra\n")
	chart := filepath.Join(dir, "Chart.yaml")
	argoWriteFile(t, chart, readFile(t, chart)+"dependencies:\n- name: extra\n  version: 0.1.0\n  repository: file://../extra\n")
	env := argoEnv(t, app, app.pluginEnv())
	mustRun(t, dir, env, "", tool(t, "helm"), "dependency", "update", "--skip-refresh")
	assert.NilError(t, os.RemoveAll(filepath.Join(dir, "charts")))

	r := argoGenerate(t, p, dir, env)
	assert.NilError(t, r.err, r.stderr)
	assert.Assert(t, strings.Contains(r.stdout, "name: shop-extra"), r.stdout)
	argoAssertPinned(t, r.stdout)
}

// Discovery matches a chart with a cocofy config only: not a plain chart,
// not a kustomization with a cocofy transformer (Argo CD would otherwise
// route them to the plugin), and it exits 0 either way.
func TestArgoCMPDiscovery(t *testing.T) {
	p := loadPlugin(t)
	app := loadApp(t, "examples/argocd/application.yaml")
	env := argoEnv(t, app, nil)
	for _, dir := range []string{"examples/chart/shop", "examples/argocd/builtin-kustomize/app", "examples/kustomize"} {
		r := runCMP(t, filepath.Join(root, dir), env, p.Spec.Discover.Find.cmpCommand)
		assert.NilError(t, r.err, "%s: %s", dir, r.stderr)
		assert.Equal(t, r.stdout, "", dir)
	}
	dir := argoRepo(t, app, "examples/chart/shop", "examples/cocofy.yaml")
	r := runCMP(t, dir, env, p.Spec.Discover.Find.cmpCommand)
	assert.NilError(t, r.err, r.stderr)
	assert.Equal(t, strings.TrimSpace(r.stdout), p.Metadata.Name)
}

// Plugin env is data, never code: HELM_ARGS is split on blanks, not
// globbed or evaluated, and the Application's namespace prefix is dropped
// from the release name.
func TestArgoCMPPluginHelmArgsAreNotEvaluated(t *testing.T) {
	p := loadPlugin(t)
	app := loadApp(t, "examples/argocd/application.yaml")
	app.Metadata.Name = "team-a_shop"
	dir := argoRepo(t, app, "examples/chart/shop", "examples/cocofy.yaml")
	args := "--set-string=note=$(touch${IFS}pwned) --set-string=other=`touch${IFS}pwned2` --set web.replicas=1;touch${IFS}pwned3"
	r := argoGenerate(t, p, dir, argoEnv(t, app, map[string]string{"HELM_ARGS": args}))
	for _, f := range []string{"pwned", "pwned2", "pwned3"} {
		_, err := os.Stat(filepath.Join(dir, f))
		assert.Assert(t, os.IsNotExist(err), "%s was created", f)
	}
	// helm gets web.replicas="1;touch${IFS}pwned3" as a string, as written.
	assert.NilError(t, r.err, r.stderr)
	assert.Assert(t, strings.Contains(r.stdout, "replicas: 1;touch${IFS}pwned3"), r.stdout)
	assert.Assert(t, strings.Contains(r.stdout, "name: shop-web"), r.stdout)

	r = argoGenerate(t, p, dir, argoEnv(t, app, map[string]string{"HELM_ARGS": "-f values*.yaml"}))
	assert.Assert(t, r.err != nil)
	assert.Equal(t, r.stdout, "")
	assert.Assert(t, strings.Contains(r.stderr, "values*.yaml"), "not globbed: %s", r.stderr)
}

// Every failure exits non-zero with nothing on stdout (Argo CD would
// otherwise sync, and with prune delete, what the plugin did not print),
// and says why on stderr.
func TestArgoCMPPluginFailures(t *testing.T) {
	p := loadPlugin(t)
	app := loadApp(t, "examples/argocd/application.yaml")
	for _, tc := range []struct {
		name, config, helmArgs, configFile, want string
	}{
		{name: "broken config", configFile: "apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: nowhere\n", want: `spec.target: must be one of`},
		{name: "config that is not YAML", configFile: "spec: [\n", want: "cocofy.yaml"},
		{name: "missing config", config: "prod.yaml", want: "no cocofy config 'prod.yaml'"},
		{name: "config outside the app", config: "../cocofy.yaml", want: "must be a relative path inside the application folder"},
		{name: "absolute config", config: "/etc/passwd", want: "must be a relative path inside the application folder"},
		{name: "image not in the lock file", helmArgs: "--set web.tag=9.9", want: "localhost:5001/cocofy-demo/web:9.9 is not in the lock file"},
		{name: "another post-renderer", helmArgs: "--post-renderer /bin/sh", want: "'--post-renderer' is not allowed"},
		{name: "set-file", helmArgs: "--set-file x=/etc/passwd", want: "'--set-file' is not allowed"},
		{name: "absolute values file", helmArgs: "-f /etc/passwd", want: "values file '/etc/passwd'"},
		{name: "values file outside", helmArgs: "--values=../../values.yaml", want: "values file '../../values.yaml'"},
		{name: "values URL", helmArgs: "-fhttps://example.com/v.yaml", want: "values file 'https://example.com/v.yaml'"},
		{name: "values list", helmArgs: "--values values.yaml,/etc/passwd", want: "values file '/etc/passwd'"},
		{name: "values with -f=", helmArgs: "-f=../values.yaml", want: "values file '../values.yaml'"},
		{name: "flag without value", helmArgs: "--set", want: "--set needs a value"},
		{name: "values from stdin", helmArgs: "-f -", want: "values file '-'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := argoRepo(t, app, "examples/chart/shop", "examples/cocofy.yaml")
			if tc.configFile != "" {
				argoWriteFile(t, filepath.Join(dir, "cocofy.yaml"), tc.configFile)
			}
			env := map[string]string{"COCOFY_CONFIG": tc.config, "HELM_ARGS": tc.helmArgs}
			r := argoGenerate(t, p, dir, argoEnv(t, app, env))
			assert.Assert(t, r.err != nil, "must fail; stdout:\n%s", r.stdout)
			assert.Equal(t, r.stdout, "")
			assert.Assert(t, strings.Contains(r.stderr, tc.want), "missing %q in\n%s", tc.want, r.stderr)
		})
	}
}

// Strict per Application: the plugin env COCOFY_STRICT (ARGOCD_ENV_COCOFY_STRICT)
// turns a render with a warning into a failure, whose stderr Argo CD shows;
// without it the warning passes unseen (Argo CD shows stderr only on
// failure); the Application's value wins over the sidecar's.
func TestArgoCMPPluginStrict(t *testing.T) {
	p := loadPlugin(t)
	app := loadApp(t, "examples/argocd/application.yaml")
	const warning = `warning: spec.select.names[1]: "nothing-by-this-name" matches no workload of the input, so it selects nothing`
	for _, tc := range []struct {
		name, strict, sidecar string
		fails                 bool
	}{
		{name: "off"},
		{name: "on", strict: "true", fails: true},
		{name: "1", strict: "1", fails: true},
		{name: "the sidecar's", sidecar: "yes", fails: true},
		{name: "the Application's over the sidecar's", strict: "no", sidecar: "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := argoRepo(t, app, "examples/chart/shop", "examples/cocofy.yaml")
			cfg := filepath.Join(dir, "cocofy.yaml")
			argoWriteFile(t, cfg, strings.Replace(readFile(t, cfg), "spec:\n", "spec:\n  select: {names: [shop-web, nothing-by-this-name]}\n", 1))
			env := argoEnv(t, app, map[string]string{"COCOFY_CONFIG": "cocofy.yaml", "COCOFY_STRICT": tc.strict})
			if tc.sidecar != "" {
				env = append(env, "COCOFY_STRICT="+tc.sidecar)
			}
			r := argoGenerate(t, p, dir, env)
			assert.Assert(t, strings.Contains(r.stderr, warning), r.stderr)
			if !tc.fails {
				assert.NilError(t, r.err, r.stderr)
				assert.Assert(t, strings.Contains(r.stdout, "image: localhost:5001/cocofy-demo/web:1.4@sha256:"), r.stdout)
				return
			}
			assert.Assert(t, r.err != nil, "must fail; stdout:\n%s", r.stdout)
			assert.Equal(t, r.stdout, "")
			assert.Assert(t, strings.Contains(r.stderr, "1 warning reported; no output was written"), r.stderr)
		})
	}
}

// argocdStub stands for the repo-server Deployment and argocd-cm of Argo
// CD's install.yaml (the parts the patches meet), so the overlays build
// offline.
const argocdStub = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: argocd-repo-server
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: argocd-repo-server
  template:
    metadata:
      labels:
        app.kubernetes.io/name: argocd-repo-server
    spec:
      containers:
      - name: argocd-repo-server
        image: quay.io/argoproj/argocd:latest
        args: [/usr/local/bin/argocd-repo-server]
        volumeMounts:
        - name: tmp
          mountPath: /tmp
        - name: plugins
          mountPath: /home/argocd/cmp-server/plugins
      initContainers:
      - name: copyutil
        image: quay.io/argoproj/argocd:latest
        command: [sh, -c]
        args: ["/bin/cp --update=none /usr/local/bin/argocd /var/run/argocd/argocd && /bin/ln -s /var/run/argocd/argocd /var/run/argocd/argocd-cmp-server"]
        volumeMounts:
        - name: var-files
          mountPath: /var/run/argocd
      volumes:
      - name: tmp
        emptyDir: {}
      - name: var-files
        emptyDir: {}
      - name: plugins
        emptyDir: {}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
`

// buildOverlay builds a component of examples/argocd as its comment says
// to use it: in a kustomization of the user's that installs Argo CD, here
// the stub in place of Argo CD's install.yaml.
func buildOverlay(t *testing.T, component string) map[string]*yaml.RNode {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(root, component)
	assert.Assert(t, strings.Contains(readFile(t, filepath.Join(src, "kustomization.yaml")), "\nkind: Component\n"), component)
	argoCopyTree(t, src, filepath.Join(dir, "cocofy"))
	argoWriteFile(t, filepath.Join(dir, "kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: argocd\n"+
		"resources:\n- argocd-stub.yaml\ncomponents:\n- cocofy\n")
	argoWriteFile(t, filepath.Join(dir, "argocd-stub.yaml"), argocdStub)
	out := mustRun(t, dir, nil, "", tool(t, "kustomize"), "build", ".")
	objs := map[string]*yaml.RNode{}
	for _, n := range argoParse(t, out) {
		assert.Equal(t, n.GetNamespace(), "argocd")
		objs[n.GetKind()+"/"+n.GetName()] = n
	}
	return objs
}

type argoK8sContainer struct {
	Name         string   `yaml:"name"`
	Image        string   `yaml:"image"`
	Command      []string `yaml:"command"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
	SecurityContext struct {
		RunAsUser    *int64 `yaml:"runAsUser"`
		RunAsNonRoot bool   `yaml:"runAsNonRoot"`
	} `yaml:"securityContext"`
}

type argoK8sPodSpec struct {
	Containers     []argoK8sContainer `yaml:"containers"`
	InitContainers []argoK8sContainer `yaml:"initContainers"`
	Volumes        []struct {
		Name      string                 `yaml:"name"`
		ConfigMap *struct{ Name string } `yaml:"configMap"`
		EmptyDir  any                    `yaml:"emptyDir"`
	} `yaml:"volumes"`
}

func argoPodSpec(t *testing.T, deploy *yaml.RNode) argoK8sPodSpec {
	t.Helper()
	assert.Assert(t, deploy != nil)
	spec, err := deploy.Pipe(yaml.Lookup("spec", "template", "spec"))
	assert.NilError(t, err)
	var s argoK8sPodSpec
	assert.NilError(t, yaml.Unmarshal([]byte(spec.MustString()), &s))
	return s
}

func argoContainer(t *testing.T, cs []argoK8sContainer, name string) argoK8sContainer {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return argoK8sContainer{}
}

// argoMounts returns mountPath -> volume name (and subPath).
func argoMounts(c argoK8sContainer) map[string]string {
	m := map[string]string{}
	for _, v := range c.VolumeMounts {
		m[v.MountPath] = v.Name + "/" + v.SubPath
	}
	return m
}

// The sidecar component (examples/argocd/kustomization.yaml), in a
// kustomization that installs Argo CD: the plugin container runs
// argocd-cmp-server as user 999 with var-files, plugins, plugin.yaml from
// the generated ConfigMap and a /tmp of its own; the repo-server container
// and copyutil stay as they were; the component brings no Argo CD of its
// own (nothing but the stub's objects and its ConfigMap).
func TestArgoRepoServerPatch(t *testing.T) {
	assert.Assert(t, !strings.Contains(readFile(t, "examples/argocd/kustomization.yaml"), "install.yaml\n"), "the component must not re-apply Argo CD")
	objs := buildOverlay(t, "examples/argocd")
	var kinds []string
	for k := range objs {
		if !strings.HasPrefix(k, "ConfigMap/cocofy-cmp-plugin-") {
			kinds = append(kinds, k)
		}
	}
	assert.DeepEqual(t, sortStrings(kinds), []string{"ConfigMap/argocd-cm", "Deployment/argocd-repo-server"})
	spec := argoPodSpec(t, objs["Deployment/argocd-repo-server"])
	assert.Equal(t, len(spec.Containers), 2)
	repo := argoContainer(t, spec.Containers, "argocd-repo-server")
	assert.Equal(t, argoMounts(repo)["/tmp"], "tmp/")
	argoContainer(t, spec.InitContainers, "copyutil")

	side := argoContainer(t, spec.Containers, loadPlugin(t).Metadata.Name)
	assert.DeepEqual(t, side.Command, []string{"/var/run/argocd/argocd-cmp-server"})
	assert.Assert(t, side.SecurityContext.RunAsUser != nil && *side.SecurityContext.RunAsUser == 999)
	assert.Assert(t, side.SecurityContext.RunAsNonRoot)
	m := argoMounts(side)
	assert.Equal(t, m["/var/run/argocd"], "var-files/")
	assert.Equal(t, m["/home/argocd/cmp-server/plugins"], "plugins/")
	assert.Assert(t, m["/tmp"] != "" && m["/tmp"] != "tmp/", "the sidecar needs a /tmp of its own: %v", m)
	cfg := m["/home/argocd/cmp-server/config/plugin.yaml"]
	assert.Assert(t, strings.HasSuffix(cfg, "/plugin.yaml"), "%v", m)
	volume := strings.TrimSuffix(cfg, "/plugin.yaml")

	var cmName string
	for _, v := range spec.Volumes {
		if v.Name == volume {
			assert.Assert(t, v.ConfigMap != nil, "volume %s is not a ConfigMap", volume)
			cmName = v.ConfigMap.Name
		}
	}
	cm := objs["ConfigMap/"+cmName]
	assert.Assert(t, cm != nil, "no ConfigMap %q in the build", cmName)
	assert.Equal(t, cm.GetDataMap()["plugin.yaml"], readFile(t, "examples/argocd/plugin.yaml"))
}

// The built-in kustomize overlay (examples/argocd/builtin-kustomize): the
// build options in argocd-cm, cocofy copied by an init container onto the
// repo-server's PATH, copyutil kept.
func TestArgoBuiltinKustomizePatch(t *testing.T) {
	objs := buildOverlay(t, "examples/argocd/builtin-kustomize")
	assert.Equal(t, len(objs), 2, "the component brings no Argo CD objects of its own")
	assert.Equal(t, objs["ConfigMap/argocd-cm"].GetDataMap()["kustomize.buildOptions"], "--enable-alpha-plugins --enable-exec")
	spec := argoPodSpec(t, objs["Deployment/argocd-repo-server"])
	argoContainer(t, spec.InitContainers, "copyutil")
	install := argoContainer(t, spec.InitContainers, "cocofy-install")
	repo := argoContainer(t, spec.Containers, "argocd-repo-server")
	bin := argoMounts(repo)["/usr/local/bin/cocofy"]
	assert.Assert(t, strings.HasSuffix(bin, "/cocofy"), "%v", argoMounts(repo))
	vol := strings.TrimSuffix(bin, "/cocofy")
	assert.Equal(t, argoMounts(install)["/custom-tools"], vol+"/")
	assert.DeepEqual(t, install.Command, []string{"cp", "/usr/local/bin/cocofy", "/custom-tools/cocofy"})
}

// Argo CD's built-in kustomize runs `kustomize build <path>` followed by
// argocd-cm's kustomize.buildOptions: with them, and cocofy on PATH, the
// example application gets its pinned image and CCE policy; without the
// options the build fails or skips the transformer, and without cocofy on
// PATH it fails.
func TestArgoBuiltinKustomize(t *testing.T) {
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	assert.NilError(t, yaml.Unmarshal([]byte(readFile(t, "examples/argocd/builtin-kustomize/argocd-cm.yaml")), &cm))
	opts := strings.Fields(cm.Data["kustomize.buildOptions"])
	app := loadApp(t, "examples/argocd/builtin-kustomize/application.yaml")
	assert.Assert(t, app.Spec.Source.Plugin == nil)
	path := app.Spec.Source.Path
	env := []string{argoToolPath(t), "ARGOCD_APP_NAME=" + app.Metadata.Name, "ARGOCD_APP_NAMESPACE=" + app.Spec.Destination.Namespace}

	out := mustRun(t, root, env, "", tool(t, "kustomize"), append([]string{"build", path}, opts...)...)
	argoAssertPinned(t, out)
	assert.Equal(t, strings.Count(out, "microsoft.containerinstance.virtualnode.ccepolicy:"), 1, out)
	v := run(t, root, nil, out, cocofy(t), "verify", "--config", filepath.Join(path, "cocofy.yaml"), "-v")
	assert.NilError(t, v.err, v.stderr)
	assert.Assert(t, strings.Contains(v.stderr, "verified: the enforcer allows every container"), v.stderr)

	// Argo CD's default (no build options) refuses the transformer; with
	// --enable-alpha-plugins alone kustomize skips it without a word.
	r := run(t, root, env, "", tool(t, "kustomize"), "build", path)
	assert.Assert(t, r.err != nil)
	assert.Equal(t, r.stdout, "")
	assert.Assert(t, strings.Contains(r.stderr, "external plugins disabled"), r.stderr)
	plain := mustRun(t, root, env, "", tool(t, "kustomize"), "build", path, "--enable-alpha-plugins")
	assert.Assert(t, !strings.Contains(plain, "@sha256:"), plain)

	noCocofy := []string{"PATH=/usr/bin:/bin"}
	r = run(t, root, noCocofy, "", tool(t, "kustomize"), append([]string{"build", path}, opts...)...)
	assert.Assert(t, r.err != nil)
	assert.Equal(t, r.stdout, "")
	assert.Assert(t, strings.Contains(r.stderr, `"cocofy": executable file not found in $PATH`), r.stderr)
}

type ghWorkflow struct {
	Env      map[string]string `yaml:"env"`
	Defaults struct {
		Run struct {
			Shell string `yaml:"shell"`
		} `yaml:"run"`
	} `yaml:"defaults"`
	Jobs map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			Env  map[string]string `yaml:"env"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// The Flux CI pattern: the workflow's render step (examples/flux/
// github-actions.yaml, job render, step "Render and verify"), run as GitHub
// Actions runs a bash step, with the workflow's env. It writes the verified
// render (the same bytes as Helm with cocofy as post-renderer), the verify
// gate really runs (a render tampered with after cocofy is refused and not
// written), and a failing render leaves the previous output alone.
func TestFluxRenderAndVerify(t *testing.T) {
	var wf ghWorkflow
	assert.NilError(t, yaml.Unmarshal([]byte(readFile(t, "examples/flux/github-actions.yaml")), &wf))
	assert.Equal(t, wf.Defaults.Run.Shell, "bash")
	job, ok := wf.Jobs["render"]
	assert.Assert(t, ok)
	var step string
	for _, s := range job.Steps {
		if s.Name == "Render and verify" {
			step = s.Run
		}
	}
	assert.Assert(t, strings.Contains(step, "examples/flux/render.sh"), step)

	out := filepath.Join(t.TempDir(), "deploy", "shop", "app.yaml")
	env := []string{argoToolPath(t)}
	for _, m := range []map[string]string{wf.Env, job.Env} {
		for k, v := range m {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, "OUT="+out)
	// GitHub Actions runs a `shell: bash` step as bash --noprofile --norc -eo pipefail {0}.
	bash := func(env []string, script string) result {
		return run(t, root, env, "", "bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
	}

	r := bash(env, step)
	assert.NilError(t, r.err, r.stderr)
	assert.Equal(t, r.stdout, "")
	rendered := readFile(t, out)
	assert.Equal(t, strings.Count(rendered, "microsoft.containerinstance.virtualnode.ccepolicy:"), 3, rendered)
	assert.Assert(t, strings.Contains(r.stderr, "cocofy verify: 3 workloads: 3 policies verified"), r.stderr)
	argoAssertPinned(t, rendered)
	assert.Equal(t, rendered, readFile(t, "e2e/testdata/helm3-virtual-node.yaml"))

	// The gate: a cocofy whose render is tampered with afterwards (a
	// command added to the api container) must not reach OUT.
	wrapper := filepath.Join(t.TempDir(), "cocofy")
	argoWriteFile(t, wrapper, `#!/bin/sh
if [ "$1" = verify ]; then exec "$REAL_COCOFY" "$@"; fi
"$REAL_COCOFY" "$@" | sed 's#^\( *\)image: \(localhost:5001/cocofy-demo/api:2.0@.*\)#\1image: \2\n\1command: [/bin/sh, -c, "cat /secrets/*"]#'
`)
	assert.NilError(t, os.Chmod(wrapper, 0o755))
	r = bash(append(env, "COCOFY="+wrapper, "REAL_COCOFY="+cocofy(t)), step)
	assert.Assert(t, r.err != nil, "a tampered render must fail the gate")
	assert.Equal(t, r.stdout, "")
	assert.Assert(t, strings.Contains(r.stderr, `the enforcer denies container "api" at create_container: invalid command`), r.stderr)
	assert.Assert(t, strings.Contains(r.stderr, "drift"), r.stderr)
	assert.Equal(t, readFile(t, out), rendered, "a refused render must not replace OUT")

	// A render that fails (an image that is not in the lock file): the same
	// script, extra helm flags after the five arguments.
	r = bash(env, step+" --set web.tag=9.9")
	assert.Assert(t, r.err != nil)
	assert.Equal(t, r.stdout, "")
	assert.Assert(t, strings.Contains(r.stderr, "localhost:5001/cocofy-demo/web:9.9 is not in the lock file"), r.stderr)
	assert.Equal(t, readFile(t, out), rendered)

	// OUT verifies on its own, as a later CI run or a reviewer would check it.
	v := run(t, root, nil, rendered, cocofy(t), "verify", "--lock-mode", "use", "--config", wf.Env["CONFIG"])
	assert.NilError(t, v.err, v.stderr)
}

// The argo-cd chart's values (examples/argocd/argo-cd-values.yaml) say what
// plugin.yaml and repo-server-patch.yaml say: the plugin in configs.cmp
// (the chart's argocd-cmp-cm, key cocofy-helm.yaml), the same sidecar in
// repoServer.extraContainers reading that key, and its volumes.
// TestArgoChartWithPluginValues renders them with the chart itself.
func TestArgoHelmChartValues(t *testing.T) {
	var values struct {
		Configs struct {
			CMP struct {
				Create  bool                      `yaml:"create"`
				Plugins map[string]map[string]any `yaml:"plugins"`
			} `yaml:"cmp"`
		} `yaml:"configs"`
		RepoServer struct {
			ExtraContainers []map[string]any `yaml:"extraContainers"`
			Volumes         []map[string]any `yaml:"volumes"`
		} `yaml:"repoServer"`
	}
	dec := yaml.NewDecoder(strings.NewReader(readFile(t, "examples/argocd/argo-cd-values.yaml")))
	dec.KnownFields(true)
	assert.NilError(t, dec.Decode(&values))
	var plugin struct {
		Metadata struct{ Name string }
		Spec     map[string]any
	}
	assert.NilError(t, yaml.Unmarshal([]byte(readFile(t, "examples/argocd/plugin.yaml")), &plugin))
	assert.Assert(t, values.Configs.CMP.Create)
	assert.DeepEqual(t, values.Configs.CMP.Plugins[plugin.Metadata.Name], plugin.Spec)
	assert.Equal(t, len(values.Configs.CMP.Plugins), 1)

	var patch struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []map[string]any `yaml:"containers"`
					Volumes    []map[string]any `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	assert.NilError(t, yaml.Unmarshal([]byte(readFile(t, "examples/argocd/repo-server-patch.yaml")), &patch))
	want := patch.Spec.Template.Spec.Containers
	assert.Equal(t, len(want), 1)
	// The one difference: plugin.yaml is the chart ConfigMap's key.
	for _, m := range want[0]["volumeMounts"].([]any) {
		if mount := m.(map[string]any); mount["subPath"] == "plugin.yaml" {
			mount["subPath"] = plugin.Metadata.Name + ".yaml"
		}
	}
	assert.DeepEqual(t, values.RepoServer.ExtraContainers, want)
	volumes := patch.Spec.Template.Spec.Volumes
	for _, v := range volumes {
		if cm, ok := v["configMap"].(map[string]any); ok && cm["name"] == "cocofy-cmp-plugin" {
			cm["name"] = "argocd-cmp-cm"
		}
	}
	assert.DeepEqual(t, values.RepoServer.Volumes, volumes)
}
