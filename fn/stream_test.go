package fn_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"
)

// TestPlainStream: a plain stream, run one document at a time, gives the
// golden output; one that fails gives no output.
func TestPlainStream(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/input.yaml")
	assert.NilError(t, err)
	ok := 0
	for _, in := range dirs {
		dir := filepath.Dir(in)
		var args []string
		if cfg := filepath.Join(dir, "config.yaml"); exists(cfg) {
			args = []string{"--config", cfg}
		}
		stdout, _, err := run(t, read(t, in), args...)
		if exists(filepath.Join(dir, "error.golden")) {
			assert.Assert(t, err != nil, dir)
			assert.Equal(t, stdout, "", dir)
			continue
		}
		assert.NilError(t, err, dir)
		golden.Assert(t, stdout, filepath.Join(filepath.Base(dir), "expected.yaml"))
		ok++
	}
	assert.Assert(t, ok > 5)
	useSandboxConfig(t)

	// Many documents, and ones that must wait for the stream's ConfigMaps.
	doc := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p%d # a comment\nspec:\n  containers:\n    - name: c\n      image: nginx:1.25\n"
	var b strings.Builder
	for i := range 600 {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.WriteString(strings.ReplaceAll(doc, "%d", strings.Repeat("x", i%7)+string(rune('a'+i%26))))
	}
	stdout, stderr, err := run(t, b.String())
	assert.NilError(t, err, stderr)
	assert.Equal(t, strings.Count(stdout, "runtimeClassName: kata-vm-isolation"), 600)
	assert.Equal(t, strings.Count(stdout, "# a comment"), 600)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Documents cocofy does not change are written as they came, byte for
// byte (a GitOps diff shows only what cocofy did); a second run changes
// nothing; verify writes its input back as it came.
func TestUntouchedDocumentsAsTheyCame(t *testing.T) {
	const crd = `# Source: crd.yaml
apiVersion:   apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.example.com}
spec:
  description: A very long description that goes on and on well past eighty characters so that an encoder may fold it
  list:
  - a
  -   b
`
	const pod = `# Source: web.yaml
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - {name: app, image: nginx:1.27, resources: {limits: {cpu: 100m, memory: 128Mi}}}
`
	cfg := filepath.Join(t.TempDir(), "cocofy.yaml")
	assert.NilError(t, os.WriteFile(cfg, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec: {target: pod-sandbox}\n"), 0o644))
	in := "---\n" + crd + "---\n" + pod
	out, stderr, err := run(t, in, "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.HasPrefix(out, crd+"---\n"), out)
	assert.Assert(t, strings.Contains(out, "runtimeClassName: kata-vm-isolation"), out)
	// An empty document before an unchanged one leaves no empty document.
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
	withEmpty, stderr, err := run(t, in+"---\n---\n"+cm, "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Equal(t, withEmpty, out+"---\n"+cm)
	again, stderr, err := run(t, out, "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Equal(t, again, out)
	verified, stderr, err := run(t, out, "verify", "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Equal(t, verified, out)
}
