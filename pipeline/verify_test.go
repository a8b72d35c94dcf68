//go:build linux && rego

package pipeline_test

import (
	"context"
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/kio"

	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/pipeline"
)

// generated is vnDeployment with its policy, as the transform writes it.
func generated(t *testing.T) string {
	t.Helper()
	out, lines, err := runPipeline(t, vnOptions(), vnDeployment)
	assert.NilError(t, err, strings.Join(lines, "\n"))
	return out
}

func TestVerifyAllowsTheGeneratedPolicy(t *testing.T) {
	lines, err := verifyStream(t, generated(t))
	assert.NilError(t, err, strings.Join(lines, "\n"))
	assert.Assert(t, contains(lines, "info: Deployment shop/web: spec.template.metadata.annotations."+pipeline.AnnotationCCEPolicy+": verified: the enforcer allows every container and the policy matches the spec"), strings.Join(lines, "\n"))
}

func TestVerifyIgnoresUnrelatedEdits(t *testing.T) {
	out := generated(t)
	out = strings.Replace(out, "spec:\n  template:", "spec:\n  replicas: 5\n  template:", 1)
	out = strings.Replace(out, "labels: {app: web}", "labels: {app: web, tier: front}", 1)
	out = strings.Replace(out, "command: [/bin/web, --port=8080]", "command: [/bin/web, --port=8080]\n        resources: {limits: {cpu: '2', memory: 1Gi}}", 1)
	lines, err := verifyStream(t, out)
	assert.NilError(t, err, strings.Join(lines, "\n"))
}

func TestVerifyCatchesChanges(t *testing.T) {
	pinned := "registry.example/web:1.4@" + fixed.Digest("registry.example/web:1.4")
	cases := []struct {
		name        string
		old, new    string
		deny, drift string
	}{
		{"image", "image: " + pinned, "image: registry.example/other:1.4@" + fixed.Digest("registry.example/other:1.4"),
			`the enforcer denies container "app" at mount_device`, "containers[name=app].id, containers[name=app].layers"},
		{"env added", "        env:\n", "        env:\n        - {name: EXTRA, value: 'on'}\n",
			`the enforcer would start container "app" without its environment variables EXTRA`, "containers[name=app].env_rules"},
		{"command", "--port=8080", "--port=9090",
			`the enforcer denies container "app" at create_container: invalid command`, "containers[name=app].command"},
		{"mount", "        env:\n", "        volumeMounts: [{name: scratch, mountPath: /scratch}]\n        env:\n",
			`the enforcer denies container "app" at create_container: invalid mount list`, "containers[name=app].mounts"},
		{"privileged", "        env:\n", "        securityContext: {privileged: true}\n        env:\n",
			`the enforcer denies container "app" at create_container: invalid mount list: /sys/fs/cgroup,/sys; privileged escalation not allowed`, "containers[name=app].allow_elevated, containers[name=app].capabilities, containers[name=app].mounts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := generated(t)
			assert.Assert(t, strings.Contains(out, tc.old), out)
			out = strings.Replace(out, tc.old, tc.new, 1)
			if tc.name == "mount" {
				out = strings.Replace(out, "      containers:", "      volumes: [{name: scratch, emptyDir: {}}]\n      containers:", 1)
			}
			lines, err := verifyStream(t, out)
			assert.ErrorIs(t, err, pipeline.ErrFailed)
			all := strings.Join(lines, "\n")
			assert.Assert(t, contains(lines, "error: Deployment shop/web: spec.template.spec.containers[name=app]: "+tc.deny), all)
			assert.Assert(t, contains(lines, "error: Deployment shop/web: spec.template.metadata.annotations."+pipeline.AnnotationCCEPolicy+": drift: the attached policy does not match the pod spec: "+tc.drift+" differ"), all)
		})
	}
}

// withPolicy is the generated stream with its policy annotation replaced.
func withPolicy(t *testing.T, value string) string {
	t.Helper()
	out := generated(t)
	rego, _ := policyOf(t, out)
	attached := base64.StdEncoding.EncodeToString([]byte(rego))
	assert.Assert(t, strings.Contains(out, attached))
	return strings.Replace(out, attached, value, 1)
}

// An allow-all or debug policy fails the gate unless the config asks for a
// debug policy; then it is a warning.
func TestVerifyFlagsAllowAllDebugAndUnreadablePolicies(t *testing.T) {
	allowAll, err := os.ReadFile("../internal/verify/testdata/allow_all.rego")
	assert.NilError(t, err)
	lines, err := verifyStream(t, withPolicy(t, base64.StdEncoding.EncodeToString(allowAll)))
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, contains(lines, "error: Deployment shop/web: spec.template.metadata.annotations."+pipeline.AnnotationCCEPolicy+": an allow-all policy"), strings.Join(lines, "\n"))
	debugOpts := vnOptions()
	debugOpts.Policy.Debug = true
	lines, err = verifyStreamWith(t, debugOpts, withPolicy(t, base64.StdEncoding.EncodeToString(allowAll)))
	assert.NilError(t, err, strings.Join(lines, "\n"))
	assert.Assert(t, contains(lines, "warning: Deployment shop/web: spec.template.metadata.annotations."+pipeline.AnnotationCCEPolicy+": an allow-all policy"), strings.Join(lines, "\n"))

	lines, err = verifyStream(t, withPolicy(t, "bm90IHJlZ28="))
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, contains(lines, "error: Deployment shop/web: spec.template.metadata.annotations."+pipeline.AnnotationCCEPolicy+": "), strings.Join(lines, "\n"))

	lines, err = verifyStream(t, withPolicy(t, "%%%"))
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, contains(lines, "decoding the policy annotation"), strings.Join(lines, "\n"))

	debug, _, err := runPipeline(t, debugOpts, vnDeployment)
	assert.NilError(t, err)
	lines, err = verifyStream(t, debug)
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, contains(lines, "error: Deployment shop/web: spec.template.metadata.annotations."+pipeline.AnnotationCCEPolicy+": a debug policy: "), strings.Join(lines, "\n"))
	lines, err = verifyStreamWith(t, debugOpts, debug)
	assert.NilError(t, err, strings.Join(lines, "\n"))
	assert.Assert(t, contains(lines, "warning: Deployment shop/web: spec.template.metadata.annotations."+pipeline.AnnotationCCEPolicy+": a debug policy: "), strings.Join(lines, "\n"))
	assert.Assert(t, contains(lines, "verified: "), strings.Join(lines, "\n"))
}

// confcom writes NET_ADMIN where the CRI asks for CAP_NET_ADMIN. By
// default (compat guest) cocofy writes what the guest asks, with an info
// result, and the replay accepts it.
func TestGuestCompatCorrectsCapabilities(t *testing.T) {
	in := strings.Replace(vnDeployment, "        env:\n", "        securityContext: {capabilities: {add: [NET_ADMIN]}}\n        env:\n", 1)
	out, lines, err := runPipeline(t, vnOptions(), in)
	assert.NilError(t, err, strings.Join(lines, "\n"))
	assert.Assert(t, strings.Contains(out, pipeline.AnnotationCCEPolicy))
	// The capability sets are too long for one line: -v (a result's detail)
	// shows them.
	assert.Assert(t, contains(lines, `info: Deployment shop/web: spec.template.spec.containers[name=app].securityContext.capabilities: container "app": confcom would write capabilities (726 bytes of JSON)`), strings.Join(lines, "\n"))
	nodes, err := kio.FromBytes([]byte(in))
	assert.NilError(t, err)
	p, err := pipeline.New(vnOptions(), pipeline.Deps{Resolver: fixed.Resolver{}, Inspector: fixed.Inspector{}})
	assert.NilError(t, err)
	rep, err := p.Run(context.Background(), nodes)
	assert.NilError(t, err)
	var detail string
	for _, r := range rep.Results {
		if r.Field != nil && strings.HasSuffix(r.Field.Path, "securityContext.capabilities") {
			detail = r.Tags["detail"]
		}
	}
	assert.Assert(t, strings.HasPrefix(detail, `confcom: {"ambient":[],"bounding":["CAP_AUDIT_WRITE"`), detail)
	assert.Assert(t, contains(lines, `the guest would deny the container (capabilities don't match)`), strings.Join(lines, "\n"))
	verified, err := verifyStream(t, out)
	assert.NilError(t, err, strings.Join(verified, "\n"))
}

// compat confcom keeps confcom's bytes: the check refuses them (error), or
// warns and writes them (check warn), or does not run and says so (off).
func TestConfcomCompatAndCheckModes(t *testing.T) {
	in := strings.Replace(vnDeployment, "        env:\n", "        securityContext: {capabilities: {add: [NET_ADMIN]}}\n        env:\n", 1)
	opts := vnOptions()
	opts.Policy.Compat = pipeline.CompatConfcom
	out, lines, err := runPipeline(t, opts, in)
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, !strings.Contains(out, pipeline.AnnotationCCEPolicy))
	assert.Assert(t, contains(lines, `error: Deployment shop/web: spec.template.spec.containers[name=app]: the enforcer denies container "app" at create_container: capabilities don't match (this is confcom's policy`), strings.Join(lines, "\n"))
	assert.Assert(t, !contains(lines, "please report"), strings.Join(lines, "\n"))

	opts.Policy.Check = pipeline.CheckWarn
	out, lines, err = runPipeline(t, opts, in)
	assert.NilError(t, err, strings.Join(lines, "\n"))
	assert.Assert(t, contains(lines, `warning: Deployment shop/web: spec.template.spec.containers[name=app]: the enforcer denies container "app"`), strings.Join(lines, "\n"))
	assert.Assert(t, strings.Contains(out, "NET_ADMIN") || strings.Contains(out, pipeline.AnnotationCCEPolicy))
	confcomOut := out

	opts.Policy.Check = pipeline.CheckOff
	out, lines, err = runPipeline(t, opts, in)
	assert.NilError(t, err, strings.Join(lines, "\n"))
	assert.Equal(t, out, confcomOut)
	assert.Assert(t, contains(lines, "warning: spec.policy.check is off: no CCE policy was checked"), strings.Join(lines, "\n"))
}

// memCache is a pipeline.Cache in memory that counts its use.
type memCache struct {
	m          map[string]bool
	gets, puts int
}

func (c *memCache) Get(kind, key string, v any) bool {
	c.gets++
	ok, found := c.m[kind+" "+key]
	if found {
		*(v.(*bool)) = ok
	}
	return found
}

func (c *memCache) Put(kind, key string, v any) error {
	c.puts++
	c.m[kind+" "+key] = v.(bool)
	return nil
}

// A passed replay is remembered: the second run of the same stream does not
// replay again; a changed pod is replayed.
func TestEnforcerChecksAreCached(t *testing.T) {
	c := &memCache{m: map[string]bool{}}
	run := func(in string) {
		nodes, err := kio.FromBytes([]byte(in))
		assert.NilError(t, err)
		p, err := pipeline.New(vnOptions(), pipeline.Deps{Resolver: fixed.Resolver{}, Inspector: fixed.Inspector{}, Checks: c})
		assert.NilError(t, err)
		_, err = p.Run(context.Background(), nodes)
		assert.NilError(t, err)
	}
	run(vnDeployment)
	assert.Equal(t, c.puts, 1)
	run(vnDeployment)
	assert.Equal(t, c.puts, 1, "the second run hits the cache")
	assert.Equal(t, c.gets, 2)
	run(strings.Replace(vnDeployment, "--port=8080", "--port=9090", 1))
	assert.Equal(t, c.puts, 2, "a changed pod is replayed")
}

// Workloads with the same pod, as a chart's copies of one template, are
// replayed once in a run.
func TestSamePodsReplayedOnce(t *testing.T) {
	c := &memCache{m: map[string]bool{}}
	in := vnDeployment + "---\n" + strings.Replace(vnDeployment, "name: web", "name: web-copy", 1)
	nodes, err := kio.FromBytes([]byte(in))
	assert.NilError(t, err)
	p, err := pipeline.New(vnOptions(), pipeline.Deps{Resolver: fixed.Resolver{}, Inspector: fixed.Inspector{}, Checks: c})
	assert.NilError(t, err)
	_, err = p.Run(context.Background(), nodes)
	assert.NilError(t, err)
	assert.Equal(t, c.gets, 1)
	assert.Equal(t, c.puts, 1)
}

// A confcom 1.x-format policy verifies too, and its drift check recomputes
// in the same format.
func TestVerifyFormat1(t *testing.T) {
	opts := vnOptions()
	opts.Policy.Format = "1.x"
	out, _, err := runPipeline(t, opts, vnDeployment)
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(out, pipeline.AnnotationCCEPolicy))
	lines, err := verifyStreamWith(t, opts, out)
	assert.NilError(t, err, strings.Join(lines, "\n"))
	assert.Assert(t, contains(lines, "verified: "), strings.Join(lines, "\n"))

	lines, err = verifyStreamWith(t, opts, strings.Replace(out, "--port=8080", "--port=9090", 1))
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, contains(lines, "drift: the attached policy does not match the pod spec: containers[name=app].command differ"), strings.Join(lines, "\n"))
}

// A policy that would make the annotations too large for the API server is
// an error naming the workload and the size; nothing is written.
func TestPolicyOverAnnotationLimit(t *testing.T) {
	in := strings.Replace(vnDeployment, "        env:\n", "        env:\n        - {name: BIG, value: \""+strings.Repeat("x", 200<<10)+"\"}\n", 1)
	out, lines, err := runPipeline(t, vnOptions(), in)
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, !strings.Contains(out, pipeline.AnnotationCCEPolicy))
	assert.Assert(t, contains(lines, "error: Deployment shop/web: spec.template.metadata.annotations."+pipeline.AnnotationCCEPolicy+": the CCE policy makes the pod template's annotations"), strings.Join(lines, "\n"))
	assert.Assert(t, contains(lines, "more than the 262144 bytes Kubernetes accepts"), strings.Join(lines, "\n"))
}

// verify: an empty annotation is an error, and a policy that computes is
// refused before evaluation, quickly.
func TestVerifyEmptyAndComputingPolicies(t *testing.T) {
	lines, err := verifyStream(t, withPolicy(t, ""))
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, contains(lines, "the CCE policy annotation is empty"), strings.Join(lines, "\n"))

	hostile := "package policy\n\nimport future.keywords.in\n\ncontainers := [x | some x in numbers.range(1, 100000000000)]\nmount_device := {\"allowed\": true}\n"
	start := time.Now()
	lines, err = verifyStream(t, withPolicy(t, base64.StdEncoding.EncodeToString([]byte(hostile))))
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, time.Since(start) < 10*time.Second, "took %s", time.Since(start))
	assert.Assert(t, contains(lines, "policy is not plain data; cocofy does not evaluate it: rule containers (line 5): [x | some x in numbers.range(1, 100000000000)] is computed, not data"), strings.Join(lines, "\n"))
}

// With target virtual-node, a selected pod without a policy fails the gate:
// a stream that was never rendered by cocofy must not pass.
func TestVerifyUnrenderedStreamFails(t *testing.T) {
	lines, err := verifyStream(t, vnDeployment)
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, contains(lines, "error: Deployment shop/web: spec.template.metadata.annotations."+pipeline.AnnotationCCEPolicy+": no CCE policy, though the config (target virtual-node) attaches one"), strings.Join(lines, "\n"))
}
