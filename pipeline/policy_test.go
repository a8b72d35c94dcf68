package pipeline_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/pipeline"

	"context"
)

const vnDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: registry.example/web:1.4
        command: [/bin/web, --port=8080]
        env:
        - name: MODE
          valueFrom:
            configMapKeyRef: {name: web-config, key: mode}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: shop}
data: {mode: fast}
`

func vnOptions() pipeline.Options {
	return pipeline.Options{Target: pipeline.TargetVirtualNode}
}

func policyOf(t *testing.T, out string) (rego, sum string) {
	t.Helper()
	nodes, err := kio.FromBytes([]byte(out))
	assert.NilError(t, err)
	ann := func(key string) string {
		v, err := nodes[0].Pipe(yaml.Lookup("spec", "template", "metadata", "annotations", key))
		assert.NilError(t, err)
		assert.Assert(t, v != nil, "no annotation %s in\n%s", key, out)
		return v.YNode().Value
	}
	rego, err = ccpolicy.Decode(ann(pipeline.AnnotationCCEPolicy))
	assert.NilError(t, err)
	return rego, ann(pipeline.AnnotationCCEPolicySHA256)
}

func TestPolicyIsAttachedAfterPinning(t *testing.T) {
	out, lines, err := runPipeline(t, vnOptions(), vnDeployment)
	assert.NilError(t, err, strings.Join(lines, "\n"))
	rego, sum := policyOf(t, out)
	want := sha256.Sum256([]byte(rego))
	assert.Equal(t, sum, hex.EncodeToString(want[:]))

	cs, err := ccpolicy.Containers(rego)
	assert.NilError(t, err)
	assert.Equal(t, len(cs), 2, "app and pause")
	pinned := "registry.example/web:1.4@" + fixed.Digest("registry.example/web:1.4")
	assert.Equal(t, cs[0]["id"], pinned, "the policy names the pinned image")
	assert.Assert(t, strings.Contains(rego, `MODE=fast`), "the ConfigMap value is in the policy")
	assert.Assert(t, contains(lines, "info: Deployment shop/web: spec.template.metadata.annotations."+pipeline.AnnotationCCEPolicy+": attached a CCE policy with sha256 "+sum))
}

func TestPolicyIsIdempotent(t *testing.T) {
	once, _, err := runPipeline(t, vnOptions(), vnDeployment)
	assert.NilError(t, err)
	twice, lines, err := runPipeline(t, vnOptions(), once)
	assert.NilError(t, err)
	assert.Equal(t, twice, once)
	assert.Assert(t, contains(lines, "CCE policy is up to date"), strings.Join(lines, "\n"))
}

func TestPolicyIsReplacedWithTheChangedFields(t *testing.T) {
	once, _, err := runPipeline(t, vnOptions(), vnDeployment)
	assert.NilError(t, err)
	_, oldSum := policyOf(t, once)
	changed := strings.Replace(once, "--port=8080", "--port=9090", 1)
	changed = strings.Replace(changed, "mode: fast", "mode: slow", 1)
	out, lines, err := runPipeline(t, vnOptions(), changed)
	assert.NilError(t, err)
	_, newSum := policyOf(t, out)
	assert.Assert(t, newSum != oldSum)
	assert.Assert(t, contains(lines, "replaced the CCE policy: containers[name=app].command, containers[name=app].env_rules changed; new sha256 "+newSum), strings.Join(lines, "\n"))
}

func TestPolicyMissingConfigMapIsAnError(t *testing.T) {
	in := strings.SplitN(vnDeployment, "---", 2)[0]
	out, lines, err := runPipeline(t, vnOptions(), in)
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, contains(lines, `error: Deployment shop/web: spec.template.spec.containers[name=app].env[name=MODE].valueFrom.configMapKeyRef: CCE policy: ConfigMap "web-config" not found in the input`), strings.Join(lines, "\n"))
	assert.Assert(t, !strings.Contains(out, pipeline.AnnotationCCEPolicy), "no policy on error")

	opts := vnOptions()
	opts.Policy.WildcardMissingRefs = true
	out, _, err = runPipeline(t, opts, in)
	assert.NilError(t, err)
	rego, _ := policyOf(t, out)
	assert.Assert(t, strings.Contains(rego, `MODE=.*`), "wildcard only when asked for")
}

func TestPolicyImageFactsFailureNamesTheContainer(t *testing.T) {
	nodes, err := kio.FromBytes([]byte(vnDeployment))
	assert.NilError(t, err)
	pinned := "registry.example/web:1.4@" + fixed.Digest("registry.example/web:1.4")
	p, err := pipeline.New(vnOptions(), pipeline.Deps{
		Resolver:  fixed.Resolver{},
		Inspector: fixed.Inspector{Fail: map[string]error{pinned: errors.New("connection refused")}},
	})
	assert.NilError(t, err)
	rep, err := p.Run(context.Background(), nodes)
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Equal(t, pipeline.Line(rep.Results[len(rep.Results)-1]),
		`error: Deployment shop/web: spec.template.spec.containers[name=app].image: image facts for the CCE policy: inspecting "`+pinned+`": connection refused`)
}

func TestPolicyOptions(t *testing.T) {
	opts := vnOptions()
	opts.Policy.Attach = boolPtr(false)
	out, _, err := runPipeline(t, opts, vnDeployment)
	assert.NilError(t, err)
	assert.Assert(t, !strings.Contains(out, pipeline.AnnotationCCEPolicy), "attach: false")

	opts = vnOptions()
	opts.Policy.Debug = true
	out, lines, err := runPipeline(t, opts, vnDeployment)
	assert.NilError(t, err)
	rego, _ := policyOf(t, out)
	assert.Assert(t, strings.Contains(rego, "allow_runtime_logging := true"), rego)
	assert.Assert(t, contains(lines, "warning: Deployment shop/web: spec.template.metadata.annotations."+pipeline.AnnotationCCEPolicy+": this is a debug policy"), strings.Join(lines, "\n"))

	opts = vnOptions()
	opts.Policy.Format = "1.x"
	out, _, err = runPipeline(t, opts, vnDeployment)
	assert.NilError(t, err)
	rego, _ = policyOf(t, out)
	assert.Assert(t, strings.Contains(rego, `api_version := "0.10.0"`), rego)

	// Stdio is off by default and on only when asked for.
	out, _, err = runPipeline(t, vnOptions(), vnDeployment)
	assert.NilError(t, err)
	rego, _ = policyOf(t, out)
	assert.Assert(t, strings.Contains(rego, `"allow_stdio_access":false`), rego)
	opts = vnOptions()
	opts.Policy.AllowStdio = true
	out, _, err = runPipeline(t, opts, vnDeployment)
	assert.NilError(t, err)
	rego, _ = policyOf(t, out)
	assert.Assert(t, !strings.Contains(rego, `"allow_stdio_access":false`), rego)
}

func contains(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func TestPolicyRefusesEphemeralContainers(t *testing.T) {
	in := strings.Replace(vnDeployment, "      containers:\n", "      ephemeralContainers:\n      - {name: debug, image: registry.example/web:1.4}\n      containers:\n", 1)
	const msg = "Deployment shop/web: spec.template.spec.ephemeralContainers: ephemeral containers are not in the CCE policy (confcom leaves them out): the guest refuses to start them; remove them from the manifest"
	_, lines, err := runPipeline(t, vnOptions(), in)
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, contains(lines, "error: "+msg+" (policy.check: warn writes the policy anyway)"), strings.Join(lines, "\n"))

	opts := vnOptions()
	opts.Policy.Check = pipeline.CheckWarn
	_, lines, err = runPipeline(t, opts, in)
	assert.NilError(t, err, strings.Join(lines, "\n"))
	assert.Assert(t, contains(lines, "warning: "+msg+" (the policy was written anyway: policy.check is warn)"), strings.Join(lines, "\n"))
}

// A pod with ACI's managed identity gets an info result on what becomes of
// the variables ACI adds for it; none without the identity.
func TestPlatformEnvOfManagedIdentity(t *testing.T) {
	opts := vnOptions()
	opts.VirtualNode.Identity = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
	_, lines, err := runPipeline(t, opts, vnDeployment)
	assert.NilError(t, err, strings.Join(lines, "\n"))
	assert.Assert(t, contains(lines, "info: Deployment shop/web: spec.template.metadata.annotations.microsoft.containerinstance.virtualnode.identity: ACI is reported to add IDENTITY_ENDPOINT"), strings.Join(lines, "\n"))
	_, lines, err = runPipeline(t, vnOptions(), vnDeployment)
	assert.NilError(t, err)
	assert.Assert(t, !contains(lines, "IDENTITY_ENDPOINT"), strings.Join(lines, "\n"))
}
