package ccpolicy

import (
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The expected kinds and str() texts were printed by PyYAML 6.0.3's
// safe_load under Python 3.11.
func TestPyYAMLScalars(t *testing.T) {
	tests := []struct {
		in   string
		kind pyKind
		str  string
	}{
		{"yes", pyBool, "True"},
		{"No", pyBool, "False"},
		{"on", pyBool, "True"},
		{"OFF", pyBool, "False"},
		{"true", pyBool, "True"},
		{"1.10", pyFloat, "1.1"},
		{"0x1A", pyInt, "26"},
		{"010", pyInt, "8"},
		{"1_000", pyInt, "1000"},
		{"190:20:30", pyInt, "685230"},
		{"1e3", pyStr, "1e3"},
		{"1.5e+3", pyFloat, "1500.0"},
		{".inf", pyFloat, "inf"},
		{"-.inf", pyFloat, "-inf"},
		{".nan", pyFloat, "nan"},
		{"~", pyNone, "None"},
		{"null", pyNone, "None"},
		{"2001-12-14", pyDate, "2001-12-14"},
		{"1.", pyFloat, "1.0"},
		{"0.00001", pyFloat, "1e-05"},
		{"12345678901234567.0", pyFloat, "1.2345678901234568e+16"},
		{"-0.0", pyFloat, "-0.0"},
		{"0b101", pyInt, "5"},
		{"+12", pyInt, "12"},
		{"-0", pyInt, "0"},
		{"08", pyStr, "08"},
		{"1:20.5", pyFloat, "80.5"},
		{"250m", pyStr, "250m"},
		{"0.5", pyFloat, "0.5"},
		{"100000000000000000000", pyInt, "100000000000000000000"},
		{"0o17", pyStr, "0o17"},
		{"1.0e+16", pyFloat, "1e+16"},
		{"0.0001", pyFloat, "0.0001"},
		{"1234567890123456.0", pyFloat, "1234567890123456.0"},
		{"0_7", pyInt, "7"},
		{"0x_1F", pyInt, "31"},
		{".5", pyFloat, "0.5"},
		{"-1_0.5_0", pyFloat, "-10.5"},
		{"3.0e-05", pyFloat, "3e-05"},
	}
	for _, tc := range tests {
		doc, err := yaml.Parse("v: " + tc.in)
		assert.NilError(t, err)
		v := py(get(doc.YNode(), "v"))
		assert.Equal(t, v.kind, tc.kind, "py(%q)", tc.in)
		s, ok := v.str()
		assert.Assert(t, ok)
		assert.Equal(t, s, tc.str, "str(%q)", tc.in)
	}
}

func TestPyYAMLUnconstructable(t *testing.T) {
	// PyYAML raises on these; cocofy must not guess a value.
	for _, in := range []string{"=", "0x_", "0b_", "2001-02-30"} {
		doc, err := yaml.Parse("v: " + in)
		assert.NilError(t, err)
		v := py(get(doc.YNode(), "v"))
		assert.Equal(t, v.kind, pyUndefined, "py(%q)", in)
		_, ok := v.str()
		assert.Assert(t, !ok)
	}
	// Not a float in PyYAML 6: the fraction must start with a digit.
	doc, err := yaml.Parse("v: ._5")
	assert.NilError(t, err)
	assert.Equal(t, py(get(doc.YNode(), "v")).kind, pyStr)
}

func TestPyYAMLQuotedAndTagged(t *testing.T) {
	doc, err := yaml.Parse(`{a: "yes", b: 'on', c: yes, d: "1.10"}`)
	assert.NilError(t, err)
	n := doc.YNode()
	assert.Equal(t, py(get(n, "a")).kind, pyStr)
	assert.Equal(t, py(get(n, "b")).kind, pyStr)
	assert.Equal(t, py(get(n, "c")).kind, pyBool)
	assert.Equal(t, py(get(n, "d")).kind, pyStr)

	// A !!str node made in code is quoted by the encoder when yaml.v3
	// would read it otherwise, so PyYAML reads a string.
	assert.Equal(t, py(yaml.NewStringRNode("true").YNode()).kind, pyStr)
	// An untagged one is written plain.
	assert.Equal(t, py(yaml.NewScalarRNode("true").YNode()).kind, pyBool)
	assert.Equal(t, py(yaml.NewStringRNode("1.10").YNode()).kind, pyStr)
	assert.Equal(t, py(yaml.NewScalarRNode("1.10").YNode()).kind, pyFloat)
	// yaml.v3 writes a !!str "yes" plain (it is not a YAML 1.2 bool), which
	// PyYAML reads as a bool; kyaml's SetField double-quotes such values.
	assert.Equal(t, py(yaml.NewStringRNode("yes").YNode()).kind, pyBool)
	r := yaml.NewMapRNode(nil)
	assert.NilError(t, r.PipeE(yaml.SetField("a", yaml.NewStringRNode("yes"))))
	assert.Equal(t, py(get(r.YNode(), "a")).kind, pyStr)
}

func TestCaseInsensitiveGet(t *testing.T) {
	doc, err := yaml.Parse("{Image: a, image: b, Command: [x], dup: 1, dup: 2}")
	assert.NilError(t, err)
	n := doc.YNode()
	assert.Equal(t, py(getCI(n, "image")).s, "b")         // the exact key wins
	assert.Equal(t, py(getCI(n, "command")).kind, pyList) // else any case
	assert.Equal(t, py(get(n, "dup")).i.String(), "2")    // the last duplicate wins
}
