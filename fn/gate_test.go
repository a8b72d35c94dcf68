package fn_test

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// rendered renders pod with the default config (pod-sandbox) and returns
// the output, which verify passes.
func rendered(t *testing.T, pod string) string {
	t.Helper()
	out, stderr, err := run(t, pod)
	assert.NilError(t, err, stderr)
	_, stderr, err = run(t, out, "verify")
	assert.NilError(t, err, stderr)
	return out
}

const gatePod = `apiVersion: v1
kind: Pod
metadata:
  name: good
spec:
  containers:
  - name: app
    image: nginx:1.27
    resources:
      limits: {cpu: 1, memory: 128Mi}
`

const rawPodJSON = `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hidden"}, "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]}}`

// Issue #21: what kubectl and Helm would apply is read whole, or refused.
// Each input hides an unrendered Pod behind a rendered one; render and
// verify both fail with no output.
func TestGateReadsWhatKubectlApplies(t *testing.T) {
	useSandboxConfig(t)
	good := rendered(t, gatePod)
	var goodJSON strings.Builder
	goodJSON.WriteString(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "good"}, "spec": {"runtimeClassName": "kata-vm-isolation", "containers": [{"name": "app", "image": "`)
	i := strings.Index(good, "image: ")
	goodJSON.WriteString(good[i+len("image: ") : i+strings.Index(good[i:], "\n")])
	goodJSON.WriteString(`", "resources": {"limits": {"cpu": 1, "memory": "128Mi"}, "requests": {"cpu": 1, "memory": "128Mi"}}}]}}`)
	_, stderr, err := run(t, goodJSON.String(), "verify")
	assert.NilError(t, err, stderr)

	const several = "more than one object with no --- between them"
	const hidden = `error: Pod hidden: spec.containers[name=app].image: "busybox:1.36" is not pinned by digest`
	for name, tc := range map[string]struct {
		in, want string
		// rendered is set when render reads the hidden Pod and renders it.
		rendered bool
	}{
		"JSON objects on one line":  {in: goodJSON.String() + rawPodJSON, want: several},
		"JSON objects on two lines": {in: goodJSON.String() + "\n" + rawPodJSON + "\n", want: several},
		"ResourceList then JSON": {in: `{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": []}` + rawPodJSON,
			want: several},
		"items of a ConfigMap": {in: good + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nitems:\n- " + rawPodJSON + "\n",
			want: hidden, rendered: true},
		"items of a Pod": {in: good + "---\n" + strings.TrimSuffix(good, "\n") + "\nitems:\n- " + rawPodJSON + "\n",
			want: hidden, rendered: true},
	} {
		t.Run(name, func(t *testing.T) { checkGate(t, tc.in, tc.want, tc.rendered) })
	}
}

// checkGate runs verify, then render, on in: verify fails with want in
// its message; render fails too, or renders the hidden Pod when rendered.
func checkGate(t *testing.T, in, want string, rendered bool) {
	t.Helper()
	out, stderr, err := run(t, in, "verify")
	assert.Assert(t, err != nil, "verify wants an error, got:\n%s", out)
	assert.Equal(t, out, "")
	assert.Assert(t, strings.Contains(stderr+err.Error(), want), "%s%v", stderr, err)

	out, stderr, err = run(t, in, "-v")
	if !rendered {
		assert.Assert(t, err != nil, "render wants an error, got:\n%s", out)
		assert.Assert(t, strings.Contains(stderr+err.Error(), want), "%s%v", stderr, err)
		return
	}
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(stderr, "info: Pod hidden: spec.containers[name=app].image: pinned busybox:1.36 to sha256:"), stderr)
	_, stderr, err = run(t, out, "verify")
	assert.NilError(t, err, stderr)
}

// Issue #21: config.kubernetes.io/local-config: "true" keeps an object out
// of kpt's and kustomize's output only. In a plain stream (Helm, a pipe to
// kubectl) the object is applied: render renders it and verify checks it.
func TestGateLocalConfigOnlyInResourceList(t *testing.T) {
	useSandboxConfig(t)
	const local = `apiVersion: v1
kind: Pod
metadata:
  name: local
  annotations:
    config.kubernetes.io/local-config: "true"
spec:
  containers:
  - name: app
    image: busybox:1.36
    resources:
      limits: {cpu: 1, memory: 128Mi}
`
	good := rendered(t, gatePod)
	out, stderr, err := run(t, good+"---\n"+local, "verify")
	assert.Assert(t, err != nil, "verify wants an error, got:\n%s", out)
	assert.Assert(t, strings.Contains(stderr, `error: Pod local: spec.containers[name=app].image: "busybox:1.36" is not pinned by digest`), stderr)

	out, stderr, err = run(t, local)
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(out, "image: busybox:1.36@sha256:"), out)
	assert.Assert(t, strings.Contains(out, "runtimeClassName: kata-vm-isolation"), out)

	// In a ResourceList, kpt and kustomize drop it: it is left alone.
	rl := wrap(t, good+"---\n"+local, "")
	out, stderr, err = run(t, rl)
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(out, "image: busybox:1.36\n"), out)
	_, stderr, err = run(t, rl, "verify")
	assert.NilError(t, err, stderr)
}
