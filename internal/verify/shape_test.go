package verify

import (
	"errors"
	"os"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// Only data is evaluated: generated, allow-all and legacy JSON policies
// pass the shape check; anything that computes is refused before any
// evaluation, so a hostile annotation cannot run for minutes.
func TestCheckShape(t *testing.T) {
	allowAll, err := os.ReadFile("testdata/allow_all.rego")
	assert.NilError(t, err)
	_, err = checkShape(string(allowAll))
	assert.NilError(t, err)
	_, err = checkShape(`{"allow_all": true, "containers": {"length": 0, "elements": {}}}`)
	assert.NilError(t, err)
	_, err = checkShape("package policy\n\nimport future.keywords.in\n\ncontainers := [{\"a\": 1}]\nmount_device := data.framework.mount_device\nreason := {\"errors\": data.framework.errors}\n")
	assert.NilError(t, err)

	for name, text := range map[string]string{
		"comprehension": "package policy\n\nimport future.keywords.in\n\ncontainers := [x | some x in numbers.range(1, 100000000)]\n",
		"rule body":     "package policy\n\nallow := true { count(input.x) > 0 }\n",
		"function":      "package policy\n\nf(x) := x\n",
		"call":          "package policy\n\ncontainers := numbers.range(1, 100000000)\n",
		"other ref":     "package policy\n\ncontainers := data.other.x\n",
		"import":        "package policy\n\nimport data.other\n\ncontainers := []\n",
	} {
		_, err := checkShape(text)
		assert.Assert(t, errors.Is(err, ErrNotData), "%s: %v", name, err)
	}
	_, err = checkShape("package policy\n\ncontainers := \"" + strings.Repeat("a", MaxPolicySize) + "\"\n")
	assert.ErrorIs(t, err, ErrUnparsable)
	assert.ErrorContains(t, err, "more than the 262144 Kubernetes allows")
}
