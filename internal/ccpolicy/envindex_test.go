package ccpolicy

import (
	"testing"

	"gotest.tools/v3/assert"
)

// The env index admits exactly what trying every rule admits, including
// an unanchored rule matching inside another variable, case-insensitive
// and anchored rules, rules without a literal prefix and rules replaced in
// place.
func TestEnvIndexIsExact(t *testing.T) {
	rule := func(pattern, strategy string) any {
		return map[string]any{"pattern": pattern, "required": false, "strategy": strategy}
	}
	rules := []any{
		rule("A=1", "string"),
		rule("B=.*", "re2"),
		rule("C=.+", "re2"),
		rule("^D=x[0-9]+$", "re2"),
		rule("(?i)e=yes", "re2"),
		rule(".*=magic$", "re2"),
		rule("F=1|F=2", "re2"),
		rule("G.H=.*", "re2"),
		rule("[", "re2"),
		rule("=lead", "re2"),
	}
	kvs := []string{
		"A=1", "A=2", "B=", "B=anything", "XB=1", "Y=B=2", "C=", "C=c", "D=x12", "D=x", "ZD=x1",
		"E=YES", "e=yes", "Q=magic", "F=2", "F=3", "G.H=1", "GXH=1", "W=ab=lead", "=lead", "[=1", "none",
	}
	x := newEnvIndex(append([]any{}, rules...))
	for _, kv := range kvs {
		assert.Equal(t, x.admits(kv), admitted(rules, kv), kv)
	}
	// Replacing B's rule: XB=1 and Y=B=2 are no longer admitted.
	replaced, ok := x.set("B", rule("B=only", "string"))
	assert.Assert(t, ok)
	assert.DeepEqual(t, replaced, rules[1])
	rules[1] = rule("B=only", "string")
	_, ok = x.set("N", rule("^N=new$", "re2"))
	assert.Assert(t, !ok)
	rules = append(rules, rule("^N=new$", "re2"))
	for _, kv := range append(kvs, "B=only", "N=new", "N=old") {
		assert.Equal(t, x.admits(kv), admitted(rules, kv), kv)
	}
	assert.Equal(t, len(x.rules), len(rules))
}
