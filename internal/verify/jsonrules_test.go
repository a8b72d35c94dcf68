//go:build linux && rego

package verify

import (
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
)

// The JSON rules give the same module data as OPA's parser alone, on every
// policy in the repository's test data (confcom's, cocofy's in every
// format and option) and on texts that must go to the parser.
func TestJSONRulesAsParser(t *testing.T) {
	files, err := filepath.Glob("../ccpolicy/testdata/*/*.rego")
	assert.NilError(t, err)
	more, err := filepath.Glob("../ccpolicy/testdata/*/*/*.rego")
	assert.NilError(t, err)
	files = append(append(files, more...), "testdata/allow_all.rego")
	assert.Assert(t, len(files) >= 20, "%d policies", len(files))
	texts := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		assert.NilError(t, err)
		texts[f] = string(b)
	}
	for name, text := range map[string]string{
		"duplicate key":       "package policy\n\ncontainers := [{\"a\": 1, \"a\": 2}]\n",
		"trailing comment":    "package policy\n\nx := [1] # one\n",
		"raw string":          "package policy\n\nx := `a\nb`\n",
		"multi-line":          "package policy\n\nx := [\n  1,\n  {\"b\": \"c\"}\n]\ny := 2\n",
		"escapes":             "package policy\n\nx := \"\\u00e9\\/\\n\\\"\"\n",
		"numbers":             "package policy\n\nx := [1.0, -0, 1e5, 12345678901234567890]\n",
		"invalid UTF-8":       "package policy\n\nx := \"\xff\"\n",
		"rule twice":          "package policy\n\nx := 1\nx := 2\n",
		"set":                 "package policy\n\nx := {1, 2}\n",
		"value then body":     "package policy\n\nx := 1 {\n  true\n}\n",
		"split by blank line": "package policy\n\nx := [\n1,\n\n2]\n",
		"keyword":             "package policy\n\nx := 1\nelse := 2\n",
	} {
		texts[name] = text
	}
	decoded := 0
	for name, text := range texts {
		if m, err := checkShape(text); err == nil && m != nil && m.json["containers"] != nil {
			decoded++
		}
		t.Run(name, func(t *testing.T) {
			quick, quickErr := checkShape(text)
			mod, parseErr := parseV0(text)
			if parseErr != nil {
				assert.Assert(t, quickErr != nil, "the parser refuses it: %v", parseErr)
				return
			}
			if quickErr != nil {
				return // refused as not data, with the parser's reading
			}
			quickSig, quickData, quickOK := split(quick)
			sig, data, ok := split(&policyModule{Module: mod})
			assert.Equal(t, quickOK, ok)
			assert.Equal(t, quickSig, sig)
			assert.DeepEqual(t, quickData, data)
		})
	}
	assert.Assert(t, decoded >= 20, "containers decoded as JSON in %d policies", decoded)
}

func TestDecodeJSON(t *testing.T) {
	for _, s := range []string{`]`, `}`, `[1] [2]`, `{"a": 1, "a": 1}`, `[1,]`, `{"a" 1}`, ``} {
		_, ok := decodeJSON(s)
		assert.Assert(t, !ok, s)
	}
	v, ok := decodeJSON(` {"a": [1.50, "x", true, null]}` + "\n")
	assert.Assert(t, ok)
	assert.Equal(t, len(v.(map[string]any)["a"].([]any)), 4)
}
