package pipeline

import (
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// lookupCreate writes into fields that hold a null or an empty collection,
// keeping the key and its comments; kyaml's LookupCreate returned the null
// node and what was set on it was lost.
func TestLookupCreateNull(t *testing.T) {
	tests := map[string]struct {
		in, want string
	}{
		"missing":        {"a: 1\n", "a: 1\nm:\n  k: v\n"},
		"empty value":    {"m: # comment\na: 1\n", "m: # comment\n  k: v\na: 1\n"},
		"tilde":          {"m: ~\n", "m:\n  k: v\n"},
		"null":           {"m: null\n", "m:\n  k: v\n"},
		"explicit tag":   {"m: !!null\n", "m:\n  k: v\n"},
		"empty flow map": {"m: {}\n", "m:\n  k: v\n"},
		"existing map":   {"m: {x: y}\n", "m: {x: y, k: v}\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n := yaml.MustParse(tc.in)
			m, err := lookupCreate(n, yaml.MappingNode, "m")
			assert.NilError(t, err)
			assert.NilError(t, m.PipeE(setString("k", "v")))
			assert.Equal(t, n.MustString(), tc.want)
		})
	}
}

func TestLookupCreateNested(t *testing.T) {
	n := yaml.MustParse("metadata:\nspec:\n  list: []\n")
	m, err := lookupCreate(n, yaml.MappingNode, "metadata", "annotations")
	assert.NilError(t, err)
	assert.NilError(t, m.PipeE(setString("a", "b")))
	l, err := lookupCreate(n, yaml.SequenceNode, "spec", "list")
	assert.NilError(t, err)
	assert.NilError(t, l.PipeE(yaml.Append(yaml.NewStringRNode("x").YNode())))
	assert.Equal(t, n.MustString(), "metadata:\n  annotations:\n    a: b\nspec:\n  list:\n  - x\n")

	_, err = lookupCreate(yaml.MustParse("spec: {list: text}\n"), yaml.SequenceNode, "spec", "list")
	assert.Error(t, err, `spec.list: must be a list, got a string "text"`)
}

func TestValueAtNull(t *testing.T) {
	n := yaml.MustParse("env:\nlimits: {cpu: ~}\nports: []\n")
	assert.Assert(t, valueAt(n, "env") == nil)
	assert.Assert(t, valueAt(n, "limits", "cpu") == nil)
	assert.Assert(t, valueAt(n, "missing", "x") == nil)
	assert.Assert(t, valueAt(n, "ports") != nil)
}
