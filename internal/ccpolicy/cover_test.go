package ccpolicy

import (
	"encoding/json"
	"testing"

	"gotest.tools/v3/assert"
)

// A fragment covers a container equal to one of its own but for id,
// layers and the order of lists; a changed command, or another name and
// image, is not covered; the pause container always stays.
func TestCover(t *testing.T) {
	pod := func(name string, command ...string) map[string]any {
		return map[string]any{
			"id": "registry.example.com/app:1@sha256:abc", "name": name, "command": command,
			"layers":    []string{"aa"},
			"env_rules": []any{map[string]any{"pattern": "A=1", "strategy": "string", "required": false}, map[string]any{"pattern": "B=2", "strategy": "string", "required": false}},
			"signals":   []int{9, 15},
		}
	}
	// The fragment's container as OPA reads it: numbers json.Number, other
	// layers, env rules in another order.
	var frag any
	assert.NilError(t, json.Unmarshal([]byte(`{"id": "registry.example.com/app:1", "name": "app", "command": ["/app"], "layers": ["bb"],
		"env_rules": [{"pattern": "B=2", "strategy": "string", "required": false}, {"pattern": "A=1", "strategy": "string", "required": false}],
		"signals": [15, 9]}`), &frag))
	imp := Fragment{Issuer: "did:x509:0:sha256:x::subject:CN:C", Feed: "registry.example.com/app", MinimumSVN: "1", Includes: []string{"containers"}}
	covering := []CoveringFragment{{Import: imp, Containers: []any{frag}}}

	containers := []any{pod("app", "/app"), pod("other", "/app", "--x"), pod("app", "/app"), map[string]any{"name": "pause", "command": []string{"/app"}}}
	kept, covered, imports := cover(containers, covering)
	assert.DeepEqual(t, covered, []string{"app", "app"})
	assert.DeepEqual(t, imports, []Fragment{imp})
	assert.Equal(t, len(kept), 2)
	assert.Equal(t, kept[0].(map[string]any)["name"], "other")
	assert.Equal(t, kept[1].(map[string]any)["name"], "pause")

	kept, covered, _ = cover([]any{pod("app", "/app", "--changed"), pod("pause")}, covering)
	assert.Equal(t, len(kept), 2)
	assert.Equal(t, len(covered), 0)
}
