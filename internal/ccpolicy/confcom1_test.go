package ccpolicy

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/podspec"
)

// TestConfcom1SeedPod regenerates a policy made by confcom 1.x (api 0.10.0,
// with --debug-mode) from the facts the policy itself records, and must get
// the same bytes. testdata/confcom1/seed-pod.yaml is a copy of
// fn/testdata/policycmd/seed-pod.yaml: the "Example Confidential YAML" of the
// virtual node docs (shared/seeds/000_*.txt).
func TestConfcom1SeedPod(t *testing.T) {
	data, err := os.ReadFile("testdata/confcom1/seed-pod.yaml")
	assert.NilError(t, err)
	nodes := readStream(t, data)
	ins := inputs(t, nodes)
	assert.Equal(t, len(ins), 1)
	in := ins[0]

	want, err := Decode(in.Template.GetAnnotations()["microsoft.containerinstance.virtualnode.ccepolicy"])
	assert.NilError(t, err)
	compileRego(t, "seed.rego", want)

	// The image facts, read back from the policy: layers, the image env
	// (the string rules before the injected TERM=xterm), the command (no
	// command or args in the pod, so Entrypoint+Cmd) and the stop signal
	// (1.x writes [stop signal] or []).
	cs, err := Containers(want)
	assert.NilError(t, err)
	c := cs[0]
	ref := c["id"].(string)
	facts := image.Facts{OS: "linux", Architecture: "amd64"}
	for _, l := range c["layers"].([]any) {
		facts.Layers = append(facts.Layers, image.Layer{RootHash: l.(string)})
	}
	for _, r := range c["env_rules"].([]any) {
		p := r.(map[string]any)["pattern"].(string)
		if p == "TERM=xterm" {
			break
		}
		facts.Config.Env = append(facts.Config.Env, p)
	}
	for _, s := range c["command"].([]any) {
		facts.Config.Cmd = append(facts.Config.Cmd, s.(string))
	}
	sigs := c["signals"].([]any)
	assert.Equal(t, len(sigs), 1)
	n, err := sigs[0].(json.Number).Int64()
	assert.NilError(t, err)
	for name, num := range signalNumbers {
		if int64(num) == n && name != "SIGIOT" && name != "SIGUNUSED" {
			facts.Config.StopSignal = name
		}
	}
	assert.Equal(t, facts.Config.StopSignal, "SIGTERM")
	assert.Assert(t, slices.Contains(facts.Config.Env, "NGINX_VERSION=1.17.3"))

	got, err := Generate(in, map[string]image.Facts{ref: facts}, podspec.ObjectsFrom(nodes), Options{Format: Format1, Debug: true})
	assert.NilError(t, err)
	assert.Equal(t, got.Rego, want)
	assert.Equal(t, got.SHA256, "e052e411cbb3d2b0d472cb6dde54c23ecacbc9367ce909cff2b8824169869fed")
	assert.Equal(t, got.Annotation(), in.Template.GetAnnotations()["microsoft.containerinstance.virtualnode.ccepolicy"])
	compileRego(t, "seed-pretty.rego", got.Pretty)
}
