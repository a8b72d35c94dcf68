package fn_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/postrender"
)

// testDeps pins with fixed digests; references on the host fail.invalid
// fail like an unreachable registry.
func testDeps(_ context.Context, _ *fn.Config, _, _ io.Writer) (fn.Deps, error) {
	return fn.Deps{Deps: pipelineDeps()}, nil
}

// run executes the root command like the binary does.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runWith(t, testDeps, stdin, args...)
}

// runWith executes the root command with the given services.
func runWith(t *testing.T, deps fn.DepsFunc, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := fn.NewCommand(deps)
	var out, errOut bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{}, args...)) // never os.Args
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// useSandboxConfig gives the test's runs the smallest pod-sandbox config
// through $COCOFY_CONFIG (cocofy has no default config), for tests whose
// point is not the config: the ResourceList door without functionConfig
// takes it too.
func useSandboxConfig(t *testing.T) {
	t.Helper()
	path, err := filepath.Abs("testdata/pod-sandbox/config.yaml")
	assert.NilError(t, err)
	t.Setenv(fn.EnvConfig, path)
}

// TestGolden runs every testdata/<case> through both doors: the plain
// stream (Helm) with --config, and a ResourceList (kpt, kustomize) with the
// config as functionConfig. Both must give the bytes in expected.yaml, or
// fail with the message in error.golden and no stdout.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/input.yaml")
	assert.NilError(t, err)
	assert.Assert(t, len(dirs) > 0)
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			input := read(t, in)
			cfgPath := filepath.Join(dir, "config.yaml")
			var args []string
			if _, err := os.Stat(cfgPath); err == nil {
				args = []string{"--config", cfgPath}
			}
			rel := func(name string) string { return filepath.Join(filepath.Base(dir), name) }
			if _, statErr := os.Stat(filepath.Join(dir, "error.golden")); statErr != nil {
				args = append(args, "-v") // every result, for results.golden
			}
			stdout, stderr, err := run(t, input, args...)

			if _, statErr := os.Stat(filepath.Join(dir, "error.golden")); statErr == nil {
				assert.Assert(t, err != nil, "want an error, got output:\n%s", stdout)
				assert.Equal(t, stdout, "", "no output on error")
				golden.Assert(t, stderr+"cocofy: "+err.Error()+"\n", rel("error.golden"))
				if _, err := postrender.Read(strings.NewReader(input)); err != nil {
					return // cannot be wrapped in a ResourceList either
				}
				rlOut, _, rlErr := run(t, wrap(t, input, cfgPath))
				assert.Assert(t, rlErr != nil, "ResourceList door: want an error")
				assert.Equal(t, rlOut, "", "ResourceList door: no output on error")
				return
			}
			assert.NilError(t, err, stderr)
			golden.Assert(t, stdout, rel("expected.yaml"))
			golden.Assert(t, stderr, rel("results.golden"))

			// Parity: the ResourceList door gives the same objects, byte for byte.
			rlOut, rlErr, err := run(t, wrap(t, input, cfgPath))
			assert.NilError(t, err, rlErr)
			assert.Equal(t, unwrap(t, rlOut), stdout)

			// Idempotency: our own output comes back unchanged.
			again, _, err := run(t, stdout, args...)
			assert.NilError(t, err)
			assert.Equal(t, again, stdout)
		})
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	assert.NilError(t, err)
	return string(b)
}

// wrap makes a ResourceList of a plain stream, with the config file (if
// any) as functionConfig, the way kpt and kustomize hand it to a function.
func wrap(t *testing.T, stream, cfgPath string) string {
	t.Helper()
	nodes, err := postrender.Read(strings.NewReader(stream))
	assert.NilError(t, err)
	var buf bytes.Buffer
	w := kio.ByteWriter{Writer: &buf, KeepReaderAnnotations: true, WrappingKind: kio.ResourceListKind, WrappingAPIVersion: kio.ResourceListAPIVersion}
	if b, err := os.ReadFile(cfgPath); err == nil {
		w.FunctionConfig = yaml.MustParse(string(b))
	}
	assert.NilError(t, w.Write(nodes))
	return buf.String()
}

// unwrap returns a ResourceList's items as a plain stream.
func unwrap(t *testing.T, rl string) string {
	t.Helper()
	rw := &kio.ByteReadWriter{Reader: strings.NewReader(rl)}
	items, err := rw.Read()
	assert.NilError(t, err)
	assert.Equal(t, rw.WrappingKind, kio.ResourceListKind)
	var buf bytes.Buffer
	assert.NilError(t, postrender.Write(&buf, items))
	return buf.String()
}

var errUnreachable = errors.New("dial tcp: lookup fail.invalid: no such host")
