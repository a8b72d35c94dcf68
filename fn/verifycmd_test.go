//go:build linux && rego

package fn_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"
)

// cocofy verify through both doors: the input comes back unchanged with
// results; a tampered pod fails with no stdout.
func TestVerifyCommand(t *testing.T) {
	const cfg = "testdata/virtual-node/config.yaml"
	good := read(t, "testdata/virtual-node/expected.yaml")
	out, stderr, err := run(t, good, "verify", "-v", "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Equal(t, out, good)
	assert.Equal(t, strings.Count(stderr, "verified: the enforcer allows every container"), 2, stderr)

	rl, stderr, err := run(t, wrap(t, good, cfg), "verify")
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(rl, "kind: ResourceList"))
	assert.Assert(t, strings.Contains(rl, "verified: the enforcer allows every container"), rl)

	bad := strings.Replace(good, "args: ['--listen=:8080']", "args: ['--listen=:8080', --debug]", 1)
	assert.Assert(t, bad != good)
	for name, in := range map[string]string{"stream": bad, "ResourceList": wrap(t, bad, cfg)} {
		out, stderr, err = run(t, in, "verify", "-v", "--config", cfg)
		assert.Assert(t, err != nil, name)
		assert.Equal(t, out, "", name)
		assert.Assert(t, strings.Contains(stderr, `error: Deployment shop/web: spec.template.spec.containers[name=web]: the enforcer denies container "web" at create_container: invalid command`), stderr)
		assert.Assert(t, strings.Contains(stderr, "drift: the attached policy does not match the pod spec: containers[name=web].command differ"), stderr)
	}
}

// Through the command: an empty policy annotation, a policy that computes
// (refused before evaluation, quickly) and an unrendered stream all fail
// with nothing on stdout.
func TestVerifyCommandRefuses(t *testing.T) {
	const cfg = "testdata/virtual-node/config.yaml"
	good := read(t, "testdata/virtual-node/expected.yaml")
	const ann = "microsoft.containerinstance.virtualnode.ccepolicy: "
	i := strings.Index(good, ann)
	assert.Assert(t, i > 0)
	end := i + strings.Index(good[i:], "\n")
	withPolicy := func(v string) string { return good[:i] + ann + v + good[end:] }

	hostile := base64.StdEncoding.EncodeToString([]byte("package policy\n\nimport future.keywords.in\n\ncontainers := [x | some x in numbers.range(1, 100000000000)]\n"))
	for name, tc := range map[string]struct{ in, want string }{
		"empty annotation": {withPolicy("''"), "the CCE policy annotation is empty"},
		"computing policy": {withPolicy(hostile), "policy is not plain data; cocofy does not evaluate it: rule containers (line 5)"},
		"unrendered":       {read(t, "testdata/virtual-node/input.yaml"), "no CCE policy, though the config (target virtual-node) attaches one"},
	} {
		start := time.Now()
		out, stderr, err := run(t, tc.in, "verify", "--config", cfg)
		assert.Assert(t, err != nil, name)
		assert.Equal(t, out, "", name)
		assert.Assert(t, strings.Contains(stderr, tc.want), "%s: %s", name, stderr)
		assert.Assert(t, time.Since(start) < 20*time.Second, "%s took %s", name, time.Since(start))
	}
}

// verifyCase is a stream that cocofy verify refuses under a config; its
// message is kept in testdata/verify/errors/<name>.golden (and so in
// docs/errors.md).
type verifyCase struct {
	name, desc, in, cfg, want string
}

// verifyCases are the streams of TestVerifyEveryTarget.
func verifyCases(t *testing.T) []verifyCase {
	dir := t.TempDir()
	config := func(name, spec string) string {
		p := filepath.Join(dir, name+".yaml")
		assert.NilError(t, os.WriteFile(p, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n"+spec), 0o644))
		return p
	}
	sandbox := config("sandbox", "  target: pod-sandbox\n")
	contrast := config("contrast", "  target: contrast\n")
	format1 := config("format1", "  target: virtual-node\n  virtualNode: {injectDNS: false, zone: \"1\"}\n  policy: {format: \"1.x\"}\n")
	const vn = "testdata/virtual-node/config.yaml"

	input := read(t, "testdata/pod-sandbox/input.yaml")
	rendered, stderr, err := run(t, input, "--config", sandbox)
	assert.NilError(t, err, stderr)
	_, stderr, err = run(t, rendered, "verify", "--config", sandbox)
	assert.NilError(t, err, stderr)
	noClass := strings.ReplaceAll(rendered, "      runtimeClassName: kata-vm-isolation\n", "")
	assert.Assert(t, noClass != rendered)

	good := read(t, "testdata/virtual-node/expected.yaml")
	allowAll, err := os.ReadFile("../internal/verify/testdata/allow_all.rego")
	assert.NilError(t, err)
	const ann = "microsoft.containerinstance.virtualnode.ccepolicy: "
	i := strings.Index(good, ann)
	assert.Assert(t, i > 0)
	end := i + strings.Index(good[i:], "\n")
	swapped := good[:i] + ann + base64.StdEncoding.EncodeToString(allowAll) + good[end:]
	old, stderr, err := run(t, read(t, "testdata/virtual-node/input.yaml"), "--config", format1)
	assert.NilError(t, err, stderr)
	unplaced := strings.ReplaceAll(good, "      nodeSelector:\n        virtualization: virtualnode2\n", "")
	assert.Assert(t, unplaced != good)

	return []verifyCase{
		{"never-rendered", "Target pod-sandbox: a stream cocofy never rendered (no runtimeClassName, images by tag).", input, sandbox,
			"spec.template.spec.runtimeClassName: no runtimeClassName: the pod would run outside the sandbox"},
		{"runtimeclass-removed", "Target pod-sandbox: cocofy's output with the runtimeClassName removed.", noClass, sandbox, "no runtimeClassName"},
		{"other-target", "cocofy's pod-sandbox output verified with a contrast config.", rendered, contrast,
			`is "kata-vm-isolation", but target contrast needs "contrast-cc"`},
		{"allow-all", "Target virtual-node: the policy swapped for an allow-all one.", swapped, vn,
			"an allow-all policy: any container may run in this pod and its attestation proves nothing about the code (set policy.debug: true"},
		{"format-1x", "Target virtual-node: a policy rendered with policy.format 1.x, verified with the default (2.x).", old, vn,
			"the policy is in format 1.x, but the config asks for 2.x"},
		{"unplaced", "Target virtual-node: cocofy's output with the nodeSelector removed.", unplaced, vn,
			`spec.template.spec.nodeSelector.virtualization: is not "virtualnode2"`},
	}
}

// cocofy verify checks every target from the config, on any stream:
// placement, pins and requests for the sandbox targets; placement, policy
// format and class for virtual nodes. Each refusal has no stdout, and its
// message is kept as a golden file.
func TestVerifyEveryTarget(t *testing.T) {
	for _, c := range verifyCases(t) {
		out, stderr, err := run(t, c.in, "verify", "--config", c.cfg)
		assert.Assert(t, err != nil, c.name)
		assert.Equal(t, out, "", c.name)
		assert.Assert(t, strings.Contains(stderr, c.want), "%s: %s", c.name, stderr)
		golden.Assert(t, "# "+c.desc+"\n"+stderr, filepath.Join("verify/errors", c.name+".golden"))
	}
}

// Under target virtual-node a DaemonSet stays on the regular nodes: verify
// asks no placement or policy of it (a warning says so), only its pins.
func TestVerifyDaemonSetStaysOnRegularNodes(t *testing.T) {
	const cfg = "testdata/virtual-node-daemonset/config.yaml"
	rendered := read(t, "testdata/virtual-node-daemonset/expected.yaml")
	out, stderr, err := run(t, rendered, "verify", "-v", "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Equal(t, out, rendered)
	assert.Assert(t, strings.Contains(stderr, "warning: DaemonSet monitoring/node-exporter: virtual nodes run no DaemonSets"), stderr)
	assert.Equal(t, strings.Count(stderr, "verified: "), 1, stderr)
}

// Issue #21: a policy whose env rule narrows a run-time value (a pod name,
// a pod IP) inside a longer value verifies: the replay gives the guest a
// value of that form.
func TestVerifyNarrowRuntimePattern(t *testing.T) {
	const cfg = "testdata/virtual-node-runtime-pattern/config.yaml"
	good := read(t, "testdata/virtual-node-runtime-pattern/expected.yaml")
	out, stderr, err := run(t, good, "verify", "-v", "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Equal(t, out, good)
	assert.Assert(t, strings.Contains(stderr, "verified: the enforcer allows every container"), stderr)
}

// Optional references to keys and objects not in the stream: the policy
// leaves the variables out, as the kubelet does, and verifies; under
// compat confcom, where confcom stops, they are errors.
func TestOptionalReferences(t *testing.T) {
	const cfg = "testdata/virtual-node-optional-refs/config.yaml"
	rendered := read(t, "testdata/virtual-node-optional-refs/expected.yaml")
	_, stderr, err := run(t, rendered, "verify", "-v", "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(stderr, "verified: "), stderr)

	confcom := filepath.Join(t.TempDir(), "confcom.yaml")
	assert.NilError(t, os.WriteFile(confcom, []byte(strings.Replace(read(t, cfg), "  target: virtual-node\n", "  target: virtual-node\n  policy: {compat: confcom}\n", 1)), 0o644))
	_, stderr, err = run(t, read(t, "testdata/virtual-node-optional-refs/input.yaml"), "--config", confcom)
	assert.Assert(t, err != nil)
	assert.Assert(t, strings.Contains(stderr, `ConfigMap "params" has no key "server.insecure"`), stderr)
	assert.Assert(t, strings.Contains(stderr, `Secret "argocd-redis" not found in the input`), stderr)
}

// A correction whose values are long (capability sets) is one readable
// line; -v prints the values under it.
func TestLongCorrectionsOneLine(t *testing.T) {
	const cfg = "testdata/virtual-node/config.yaml"
	in := `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec:
  containers:
  - name: app
    image: nginx:1.27
    securityContext: {capabilities: {add: [NET_ADMIN]}}
`
	results := filepath.Join(t.TempDir(), "results.yaml")
	_, stderr, err := run(t, in, "--config", cfg, "--results", results)
	assert.NilError(t, err, stderr)
	text, err := os.ReadFile(results)
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(string(text), `confcom would write capabilities (`), string(text))
	for _, line := range strings.Split(stderr, "\n") {
		assert.Assert(t, len(line) < 500, "a line of %d bytes: %s", len(line), line)
	}
	_, stderr, err = run(t, in, "--config", cfg, "-v")
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(stderr, "\n    confcom: {\"ambient\":[],\"bounding\":["), stderr)
	assert.Assert(t, strings.Contains(stderr, "\n    cocofy:  {"), stderr)
}
