package ccpolicy

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"

	"cocofy.dev/cocofy/internal/podspec"
)

// vn2Cases are confcom's samples/vn2 fixtures (testdata/vn2/README.md says
// where each file comes from).
var vn2Cases = []string{
	"basic_command_args",
	"configmap_secret_env",
	"fieldref_env",
	"init_and_lifecycle",
	"multi_container",
	"privileged_container",
	"read_only_mounts",
	"resourcefieldref_env",
	"seccomp_profile",
	"security_context_merge",
	"signals",
	"special_env_regex",
	"volume_claim_templates",
	"workload_identity",
}

// TestVN2Samples checks each confcom sample with compat confcom: the pretty
// text must equal confcom's --outraw-pretty-print output (policy.rego, which
// ends with the "\n\n\n" confcom prints after a policy), and the annotation
// text must be the same policy with the containers compact. confcom's files
// are external truth: -update never rewrites them.
func TestVN2Samples(t *testing.T) {
	for _, name := range vn2Cases {
		t.Run(name, func(t *testing.T) {
			p := vn2Policy(t, name, CompatConfcom)
			dir := filepath.Join("testdata", "vn2", name)
			assertFile(t, p.Pretty+"\n\n\n", filepath.Join(dir, "policy.rego"))
			assertFile(t, p.SHA256+"\n", filepath.Join(dir, "policy.sha256"))
			assert.Equal(t, len(p.Corrections), 0)

			checkCompact(t, p)
			compileRego(t, name+".rego", p.Rego)
			compileRego(t, name+"-pretty.rego", p.Pretty)
		})
	}
}

// TestVN2SamplesGuest generates each sample with the default compat guest:
// where confcom's policy starts the pod, the bytes are confcom's; the
// corrections elsewhere are listed in testdata/vn2-guest.golden (cocofy's
// own output: -update rewrites it).
func TestVN2SamplesGuest(t *testing.T) {
	var b strings.Builder
	for _, name := range vn2Cases {
		p := vn2Policy(t, name, "")
		fmt.Fprintf(&b, "## %s\n", name)
		if len(p.Corrections) == 0 {
			want, err := os.ReadFile(filepath.Join("testdata", "vn2", name, "policy.sha256"))
			assert.NilError(t, err)
			assert.Equal(t, p.SHA256+"\n", string(want), "%s: no correction, yet not confcom's bytes", name)
			b.WriteString("confcom's policy, byte for byte\n")
		}
		for _, c := range p.Corrections {
			fmt.Fprintf(&b, "%s: %s\n", c.Path, c.Message())
		}
		b.WriteString("\n")
	}
	golden.Assert(t, b.String(), "vn2-guest.golden")
}

// vn2Policy generates the policy of one confcom sample.
func vn2Policy(t *testing.T, name, compat string) Policy {
	t.Helper()
	dir := filepath.Join("testdata", "vn2", name)
	data, err := os.ReadFile(filepath.Join(dir, "virtual_node.yaml"))
	assert.NilError(t, err)
	nodes := readStream(t, data)
	ins := inputs(t, nodes)
	assert.Equal(t, len(ins), 1)
	p, err := Generate(ins[0], readFacts(t, filepath.Join(dir, "images.json")), podspec.ObjectsFrom(nodes), Options{Compat: compat})
	assert.NilError(t, err)
	return p
}

// assertFile compares got with a file that is not ours to rewrite.
func assertFile(t *testing.T, got, path string) {
	t.Helper()
	want, err := os.ReadFile(path)
	assert.NilError(t, err)
	assert.Equal(t, got, string(want), "%s (external truth: fix the code, not the file)", path)
}

// checkCompact checks that Rego is Pretty with the containers written
// compactly, that both hold the same containers, and the hash and annotation.
func checkCompact(t *testing.T, p Policy) {
	t.Helper()
	pretty, err := Containers(p.Pretty)
	assert.NilError(t, err)
	compact, err := Containers(p.Rego)
	assert.NilError(t, err)
	assert.DeepEqual(t, compact, pretty)

	line := func(text string) (string, string, string) {
		before, rest, ok := strings.Cut(text, "\ncontainers := ")
		assert.Assert(t, ok)
		value, after, ok := strings.Cut(rest, "\n\nallow_properties_access")
		assert.Assert(t, ok)
		return before, value, after
	}
	b1, v1, a1 := line(p.Rego)
	b2, v2, a2 := line(p.Pretty)
	assert.Equal(t, b1, b2)
	assert.Equal(t, a1, a2)
	assert.Assert(t, !strings.Contains(v1, "\n"), "compact containers span lines")
	assert.Assert(t, strings.Contains(v2, "\n  {\n    \"allow_elevated\": "))
	for _, r := range p.Rego {
		assert.Assert(t, r < 0x80, "policy text is not ASCII")
	}

	dec, err := Decode(p.Annotation())
	assert.NilError(t, err)
	assert.Equal(t, dec, p.Rego)
	raw, err := base64.StdEncoding.DecodeString(p.Annotation())
	assert.NilError(t, err)
	assert.Equal(t, string(raw), p.Rego)
}

// TestBasicCommandArgsHash pins the sha256 the specification computed
// independently for samples/vn2/basic_command_args (§4.6).
func TestBasicCommandArgsHash(t *testing.T) {
	got, err := os.ReadFile("testdata/vn2/basic_command_args/policy.sha256")
	assert.NilError(t, err)
	assert.Equal(t, string(got), "dfaa4571c52101798838afcf4ecaf4265377d55a8f3fb0a19547500f0e5d2f38\n")
}

// TestTemplateSize checks the 2.x template against the size of confcom's
// data/customer_rego_policy.txt at 2.2.0 (1,267 bytes, 10 placeholders).
func TestTemplateSize(t *testing.T) {
	assert.Equal(t, len(regoTemplate2), 1267)
	assert.Equal(t, strings.Count(regoTemplate2, "%s"), 10)
	assert.Equal(t, strings.Count(regoTemplate1, "%s"), 9)
}
