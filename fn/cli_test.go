package fn_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/internal/verify"
)

// readResults reads a --results file.
func readResults(t *testing.T, path string) fn.ResultList {
	t.Helper()
	var list fn.ResultList
	assert.NilError(t, yaml.Unmarshal([]byte(read(t, path)), &list))
	assert.Equal(t, list.APIVersion, "kpt.dev/v1")
	assert.Equal(t, list.Kind, "FunctionResultList")
	assert.Equal(t, len(list.Items), 1)
	assert.Equal(t, list.Items[0].ExitCode, list.ExitCode)
	return list
}

// lines formats results as stderr does.
func lines(rs framework.Results) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(string(r.Severity) + ": ")
		if ref := r.ResourceRef; ref != nil {
			b.WriteString(ref.Kind + " ")
			if ref.Namespace != "" {
				b.WriteString(ref.Namespace + "/")
			}
			b.WriteString(ref.Name + ": ")
		}
		if r.Field != nil {
			b.WriteString(r.Field.Path + ": ")
		}
		b.WriteString(r.Message + "\n")
	}
	return b.String()
}

// --results writes every result of the run as a kpt FunctionResultList,
// through both doors and also when the run fails, and $COCOFY_RESULTS
// does the same for callers that cannot pass flags.
func TestResultsFile(t *testing.T) {
	useSandboxConfig(t)
	in := read(t, "testdata/pod-sandbox/input.yaml")
	want := withoutSummary(read(t, "testdata/pod-sandbox/results.golden"))
	dir := t.TempDir()

	path := filepath.Join(dir, "stream.yaml")
	out, stderr, err := run(t, in, "--results", path)
	assert.NilError(t, err, stderr)
	assert.Equal(t, out, read(t, "testdata/pod-sandbox/expected.yaml"))
	list := readResults(t, path)
	assert.Equal(t, list.ExitCode, 0)
	assert.Equal(t, list.Items[0].Exec, "cocofy")
	assert.Equal(t, lines(list.Items[0].Results), want, "every result, info included")

	path = filepath.Join(dir, "rl.yaml")
	_, stderr, err = run(t, wrap(t, in, ""), "--results", path)
	assert.NilError(t, err, stderr)
	assert.Equal(t, lines(readResults(t, path).Items[0].Results), want)

	// From the environment, for a Helm 4 plugin or kustomize; the file is
	// replaced, not appended to.
	t.Setenv(fn.EnvResults, path)
	_, _, err = run(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: []\n")
	assert.Assert(t, err != nil)
	list = readResults(t, path)
	assert.Equal(t, list.ExitCode, 1)
	assert.Assert(t, strings.HasPrefix(lines(list.Items[0].Results), "error: Pod p: spec.containers: "), lines(list.Items[0].Results))

	// A run that fails before the pipeline (here a bad config) says why.
	cfg := filepath.Join(dir, "typo.yaml")
	assert.NilError(t, os.WriteFile(cfg, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec: {tagret: contrast}\n"), 0o644))
	_, _, err = run(t, in, "--config", cfg)
	assert.ErrorContains(t, err, "spec.tagret: unknown field; did you mean target?")
	list = readResults(t, path)
	assert.Equal(t, list.ExitCode, 1)
	assert.Equal(t, lines(list.Items[0].Results), "error: "+err.Error()+"\n")

	// verify names itself.
	_, _, _ = run(t, in, "verify")
	assert.Equal(t, readResults(t, path).Items[0].Exec, "cocofy verify")
}

// --strict and $COCOFY_STRICT=1 fail a run with warnings: exit 1, nothing
// on stdout, the lock file not written, one line saying why; a run
// without warnings passes.
func TestStrict(t *testing.T) {
	useSandboxConfig(t)
	in := read(t, "testdata/pod-sandbox/input.yaml")
	committed := 0
	deps := func(ctx context.Context, c *fn.Config, progress, stderr io.Writer) (fn.Deps, error) {
		d, err := testDeps(ctx, c, progress, stderr)
		d.Commit = func() error { committed++; return nil }
		return d, err
	}
	results := filepath.Join(t.TempDir(), "results.yaml")
	out, stderr, err := runWith(t, deps, in, "--strict", "--results", results)
	assert.Error(t, err, "--strict: 1 warning reported; no output was written")
	assert.Equal(t, out, "")
	assert.Equal(t, committed, 0, "no lock file update on a strict failure")
	assert.Equal(t, stderr, "warning: Deployment shop/web: spec.template.spec.initContainers[name=migrate].resources.limits.cpu: no cpu limit or request: the VM gets the runtime's default size\n",
		"only warnings and errors, as after any failure")
	list := readResults(t, results)
	assert.Equal(t, list.ExitCode, 1)
	rs := list.Items[0].Results
	assert.Equal(t, rs[len(rs)-1].Message, err.Error())

	for name, in := range map[string]string{"stream": in, "ResourceList": wrap(t, in, "")} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(fn.EnvStrict, "1")
			out, _, err := runWith(t, deps, in)
			assert.Error(t, err, "$COCOFY_STRICT=1: 1 warning reported; no output was written")
			assert.Equal(t, out, "")
		})
	}

	// No warning: strict passes.
	clean := read(t, "testdata/pod-sandbox/expected.yaml")
	clean = strings.Replace(clean, "          resources:\n            limits:\n              memory: 64Mi\n", "          resources:\n            limits:\n              cpu: 100m\n              memory: 64Mi\n", 1)
	assert.Assert(t, strings.Contains(clean, "cpu: 100m\n              memory: 64Mi"))
	out, stderr, err = runWith(t, deps, clean, "--strict")
	assert.NilError(t, err, stderr)
	assert.Assert(t, out != "")
	assert.Equal(t, committed, 1)

	t.Setenv(fn.EnvStrict, "yes please")
	_, _, err = run(t, clean)
	assert.Error(t, err, `$COCOFY_STRICT: must be 1, true or yes (on), or 0, false or no (off), got "yes please"`)
	for _, v := range []string{"true", "YES", "yes"} {
		t.Setenv(fn.EnvStrict, v)
		_, _, err = run(t, in)
		assert.Error(t, err, "$COCOFY_STRICT="+v+": 1 warning reported; no output was written")
	}
	for _, v := range []string{"0", "false", "No"} {
		t.Setenv(fn.EnvStrict, v)
		_, _, err = run(t, in)
		assert.NilError(t, err, v)
	}
}

// stderr shows warnings, errors and a one-line summary, on a terminal and
// elsewhere (a pipe, a CI log); -v every result; -q warnings and errors
// only.
func TestTerminalOutput(t *testing.T) {
	useSandboxConfig(t)
	in := read(t, "testdata/pod-sandbox/input.yaml")
	all := withoutSummary(read(t, "testdata/pod-sandbox/results.golden"))
	const warning = "warning: Deployment shop/web: spec.template.spec.initContainers[name=migrate].resources.limits.cpu: no cpu limit or request: the VM gets the runtime's default size\n"

	_, stderr, err := run(t, in)
	assert.NilError(t, err)
	assert.Equal(t, stderr, warning+"cocofy: 1 workload: 1 pinned, 1 warning (see --results or -v)\n", "not a terminal: the warnings and the summary")

	defer fn.SetTerminal(true)()
	out, stderr, err := run(t, in)
	assert.NilError(t, err)
	assert.Equal(t, out, read(t, "testdata/pod-sandbox/expected.yaml"))
	assert.Equal(t, stderr, warning+"cocofy: 1 workload: 1 pinned, 1 warning (see --results or -v)\n")

	_, stderr, err = run(t, in, "-v")
	assert.NilError(t, err)
	assert.Equal(t, stderr, all+"cocofy: 1 workload: 1 pinned, 1 warning\n")

	_, stderr, err = run(t, in, "-q")
	assert.NilError(t, err)
	assert.Equal(t, stderr, warning)

	_, _, err = run(t, in, "-q", "-v")
	assert.ErrorContains(t, err, "none of the others can be")

	// Policies attached, and verified.
	vn := read(t, "testdata/virtual-node/input.yaml")
	warnings := "1 warning" // a Secret value in the policy
	if !verify.Enabled() {
		warnings = "2 warnings" // and no enforcer to check the policies
	}
	out, stderr, err = run(t, vn, "--config", "testdata/virtual-node/config.yaml")
	assert.NilError(t, err, stderr)
	lastLine := func(s string) string {
		ls := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		return ls[len(ls)-1]
	}
	assert.Equal(t, lastLine(stderr), "cocofy: 2 workloads: 2 pinned, 2 policies attached, "+warnings+" (see --results or -v)")
	assert.Assert(t, !strings.Contains(stderr, "info: "), stderr)
	if verify.Enabled() {
		_, stderr, err = run(t, out, "verify", "--config", "testdata/virtual-node/config.yaml")
		assert.NilError(t, err, stderr)
		assert.Equal(t, stderr, "cocofy verify: 2 workloads: 2 policies verified\n")
	}
}

// -f (repeatable) and arguments read files, folders of YAML (sorted, not
// recursive unless -R) and - for stdin, in order, as one stream: for the
// transform, verify and policy.
func TestFilenames(t *testing.T) {
	useSandboxConfig(t)
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		assert.NilError(t, os.WriteFile(p, []byte(data), 0o644))
		return p
	}
	pod := func(name string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    resources:\n      limits: {cpu: 100m, memory: 64Mi}\n"
	}
	write("manifests/b.yaml", pod("b"))
	write("manifests/a.yml", pod("a")) // no trailing --- or newline issues
	write("manifests/c.json", `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}`)
	write("manifests/notes.txt", "not YAML")
	write("manifests/sub/d.yaml", pod("d"))
	write("single.yaml", pod("s"))

	cat := func(names ...string) string {
		var parts []string
		for _, n := range names {
			parts = append(parts, strings.TrimSuffix(read(t, filepath.Join(dir, n)), "\n")+"\n")
		}
		return strings.Join(parts, "---\n")
	}
	want, stderr, err := run(t, cat("manifests/a.yml", "manifests/b.yaml", "manifests/c.json"))
	assert.NilError(t, err, stderr)
	wantR, stderr, err := run(t, cat("manifests/a.yml", "manifests/b.yaml", "manifests/c.json", "manifests/sub/d.yaml"))
	assert.NilError(t, err, stderr)
	withStdin, stderr, err := run(t, cat("single.yaml", "manifests/a.yml", "manifests/b.yaml", "manifests/c.json"))
	assert.NilError(t, err, stderr)

	for _, c := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"folder", "", []string{"-f", filepath.Join(dir, "manifests")}, want},
		{"folder as argument", "", []string{filepath.Join(dir, "manifests")}, want},
		{"recursive", "", []string{"-R", "-f", filepath.Join(dir, "manifests")}, wantR},
		{"files in order", "", []string{"-f", filepath.Join(dir, "manifests/a.yml"), filepath.Join(dir, "manifests/b.yaml"), filepath.Join(dir, "manifests/c.json")}, want},
		{"stdin among files", pod("s"), []string{"-f", "-", "-f", filepath.Join(dir, "manifests")}, withStdin},
		{"-f before arguments", pod("s"), []string{filepath.Join(dir, "manifests"), "-f", "-"}, withStdin},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, err := run(t, c.stdin, c.args...)
			assert.NilError(t, err, stderr)
			assert.Equal(t, out, c.want)
		})
	}

	// A file named is read whatever its extension; a ResourceList file
	// stays a ResourceList.
	rl := write("list.txt", wrap(t, pod("r"), ""))
	out, stderr, err := run(t, "", rl)
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(out, "kind: ResourceList"), out)

	// verify and policy read files the same way.
	_, stderr, err = run(t, "", "verify", "-v", "-f", filepath.Join(dir, "manifests/c.json"))
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(stderr, "nothing to verify"), stderr)
	policyOut, _, err := run(t, "", "policy", "testdata/virtual-node/expected.yaml")
	assert.NilError(t, err)
	viaStdin, _, err := run(t, read(t, "testdata/virtual-node/expected.yaml"), "policy")
	assert.NilError(t, err)
	assert.Equal(t, policyOut, viaStdin)

	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{filepath.Join(dir, "missing.yaml")}, "reading " + filepath.Join(dir, "missing.yaml") + ": no such file or directory"},
		{[]string{"verfy"}, "reading verfy: no such file or directory (to run a command: cocofy verify)"},
		{[]string{"-f", filepath.Join(dir, "manifests/sub/..", "sub", "none")}, "no such file or directory"},
		{[]string{"-", "-"}, "stdin (-) can be read only once"},
		{[]string{write("empty/x.txt", "")[:len(dir)] + "/empty"}, "reading " + dir + "/empty: the folder has no .yaml, .yml or .json file (-R reads its subfolders)"},
		{[]string{"verify", "-v", filepath.Join(dir, "missing.yaml")}, "no such file or directory"},
		{[]string{"policy", "-f", filepath.Join(dir, "missing.yaml")}, "no such file or directory"},
	} {
		out, _, err := run(t, pod("x"), c.args...)
		assert.ErrorContains(t, err, c.err, "%v", c.args)
		assert.Equal(t, out, "")
	}
}

// --version and the version command print the version, the Go version and
// whether the enforcer is built in.
func TestVersion(t *testing.T) {
	enforcer := "enforcer built in"
	if !verify.Enabled() {
		enforcer = "enforcer not built in"
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, _, err := run(t, "", args...)
		assert.NilError(t, err)
		assert.Assert(t, strings.HasPrefix(out, "cocofy "+fn.Version+" ("+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+", "+enforcer), out)
		assert.Assert(t, strings.HasSuffix(out, ")\n") && strings.Count(out, "\n") == 1, out)
	}
}

// Unknown config fields are named by path with the closest known field,
// through every way a config arrives, in document order every time.
func TestUnknownConfigFields(t *testing.T) {
	const cfg = `apiVersion: cocofy.dev/v1alpha1
kind: Cocofy
metdata: {name: x}
spec:
  tagret: contrast
  policy: {comapt: guest, format: 2.x}
  images:
    lockfile: images.lock.yaml
  workloadPaths:
  - {kind: Rollout, tempalte: [spec, template]}
  color: blue
`
	const want = `invalid config:
metdata: unknown field; did you mean metadata?
spec.tagret: unknown field; did you mean target?
spec.policy.comapt: unknown field; did you mean compat?
spec.images.lockfile: unknown field; did you mean lockFile?
spec.workloadPaths[0].tempalte: unknown field; did you mean template?
spec.color: unknown field (known: target, runtimeClassName, overwrite, select, workloadPaths, resources, virtualNode, images, policy, namespace)
spec.workloadPaths[0].template: is required (the field path to the pod template, e.g. [spec, template])`
	path := filepath.Join(t.TempDir(), "cocofy.yaml")
	assert.NilError(t, os.WriteFile(path, []byte(cfg), 0o644))
	in := read(t, "testdata/pod-sandbox/input.yaml")

	for i := 0; i < 5; i++ {
		_, _, err := run(t, in, "--config", path)
		assert.Error(t, err, path+": "+want)
	}
	rl := wrap(t, in, path)
	_, _, err := run(t, rl)
	assert.Error(t, err, "functionConfig: "+want)
	t.Setenv(fn.EnvConfig, path)
	_, _, err = run(t, in)
	assert.Error(t, err, path+": "+want)

	// Values of the wrong type are named by path too, with the others.
	typed := filepath.Join(t.TempDir(), "typed.yaml")
	assert.NilError(t, os.WriteFile(typed, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: {a: 1}\n  overwrite: maybe\n  images: {pin: true, dropTag: 3}\n  select:\n    kinds: [{a: 1}]\n  tagret: kata\n"), 0o644))
	_, _, err = run(t, in, "--config", typed)
	assert.Error(t, err, typed+`: invalid config:
spec.tagret: unknown field; did you mean target?
spec.target: cannot read a map as a string
spec.overwrite: cannot read "maybe" as true or false
spec.images.dropTag: cannot read "3" as true or false
spec.select.kinds[0]: cannot read a map as a string`)

	// A ConfigMap's keys are reported in order too.
	cm := filepath.Join(t.TempDir(), "cm.yaml")
	assert.NilError(t, os.WriteFile(cm, []byte("apiVersion: v1\nkind: ConfigMap\ndata: {tagret: contrast, overwrite: maybe, lockmode: use}\n"), 0o644))
	for i := 0; i < 5; i++ {
		_, _, err = run(t, in, "--config", cm)
		assert.Error(t, err, cm+`: data.lockmode: unknown key; did you mean lockMode? (accepted: target, runtimeClassName, overwrite, pin, lockFile, lockMode, missing)
data.overwrite: must be true or false, got "maybe"
data.tagret: unknown key; did you mean target? (accepted: target, runtimeClassName, overwrite, pin, lockFile, lockMode, missing)`)
	}
}

// A config file gets the stream's YAML checks before it is decoded: a
// string aliased many times is refused, naming the alias.
func TestConfigYAMLChecks(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nmetadata:\n  name: bomb\n  annotations: {big: &big \"" + strings.Repeat("x", 10000) + "\"}\nspec:\n  select:\n    names: [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("*big, ", 300), ", ") + "]\n")
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.yaml")
	assert.NilError(t, os.WriteFile(bomb, []byte(b.String()), 0o644))
	in := read(t, "testdata/pod-sandbox/input.yaml")
	out, _, err := run(t, in, "--config", bomb)
	assert.Equal(t, out, "")
	assert.Error(t, err, bomb+": reading config:\nspec.select.names[104]: YAML aliases (counted up to this *big) would expand the input by more than 1 MiB, its limit: aliases may add 10 times the input's size, at least 1 MiB and at most 64 MiB; nothing was expanded")
	t.Setenv(fn.EnvConfig, bomb)
	_, _, err = run(t, in)
	assert.ErrorContains(t, err, "spec.select.names[104]: YAML aliases")

	dup := filepath.Join(dir, "dup.yaml")
	assert.NilError(t, os.WriteFile(dup, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: contrast\n  target: pod-sandbox\n"), 0o644))
	_, _, err = run(t, in, "--config", dup)
	assert.Error(t, err, dup+`: reading config:
spec.target: duplicate key "target": cocofy reads the first value, other YAML readers may read the last; remove one`)
}

// Cache warnings go to the command's stderr when progress lines are off,
// like every other message of the run (not to the process's stderr).
func TestCacheWarningsGoToCommandStderr(t *testing.T) {
	reg := shopRegistry(t)
	in := registryInput(t, reg)
	blocked := filepath.Join(t.TempDir(), "cache")
	assert.NilError(t, os.WriteFile(blocked, []byte("a file, not a folder\n"), 0o644))
	t.Setenv("COCOFY_CACHE_DIR", blocked)
	out, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", vnConfig(t), "-q")
	assert.NilError(t, err, stderr)
	assert.Assert(t, out != "")
	assert.Equal(t, strings.Count(stderr, "warning: cache: cannot write"), 1, stderr)
}

// verify --help recommends what works: a kpt validator or a pipe, and
// says why not a kustomize validator (kustomize rejects it).
func TestVerifyHelp(t *testing.T) {
	out, _, err := run(t, "", "verify", "--help")
	assert.NilError(t, err)
	assert.Assert(t, !strings.Contains(out, "or a kustomize validator"), out)
	assert.Assert(t, strings.Contains(out, "Not as a kustomize validator"), out)
	assert.Assert(t, strings.Contains(out, "kustomize build --enable-alpha-plugins --enable-exec overlay | cocofy verify"), out)
}

// withoutSummary drops the summary line that ends a successful run's
// stderr (a golden results file holds it).
func withoutSummary(stderr string) string {
	lines := strings.SplitAfter(stderr, "\n")
	if len(lines) >= 2 && strings.HasPrefix(lines[len(lines)-2], "cocofy") {
		return strings.Join(lines[:len(lines)-2], "")
	}
	return stderr
}
