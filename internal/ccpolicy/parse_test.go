package ccpolicy

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// Diff reads both texts with OPA's parser: a changed container field and a
// changed rule are named; layout alone (compact vs pretty) is not a rule
// change.
func TestDiff(t *testing.T) {
	p := vn2Policy(t, "basic_command_args", CompatConfcom)
	assert.DeepEqual(t, Diff(p.Rego, p.Rego), []string(nil))
	assert.DeepEqual(t, Diff(p.Rego, p.Pretty), []string{"the policy text (layout only)"})

	changed := strings.Replace(p.Rego, `"allow_dump_stacks := false"`, "", 1)
	changed = strings.Replace(changed, "allow_dump_stacks := false", "allow_dump_stacks := true", 1)
	changed = strings.Replace(changed, `"working_dir":"/"`, `"working_dir":"/srv"`, 1)
	got := Diff(p.Rego, changed)
	assert.Assert(t, len(got) == 2, "%v", got)
	assert.Equal(t, got[0], "allow_dump_stacks")
	assert.Assert(t, strings.HasPrefix(got[1], "containers[name=") && strings.HasSuffix(got[1], "].working_dir"), got[1])

	assert.DeepEqual(t, Diff("not rego {", p.Rego), []string{"the old policy (not a readable policy)"})
	_, err := Containers("package policy\n")
	assert.ErrorContains(t, err, "no containers rule")
}
