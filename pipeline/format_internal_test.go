package pipeline

import (
	"testing"

	"cocofy.dev/cocofy/internal/ccpolicy"
)

// TestPolicyFormat: api_version 0.10.0 is confcom 1.2 when the last
// container (the pause container) is named pause-container, else 1.x.
func TestPolicyFormat(t *testing.T) {
	rego := func(api, containers string) string {
		return "package policy\n\napi_version := \"" + api + "\"\nframework_version := \"0.2.3\"\n\nfragments := []\n\ncontainers := " + containers + "\n"
	}
	tests := []struct {
		rego, want string
	}{
		{rego("0.11.0", `[{"name":"app"},{"name":"pause-container"}]`), ccpolicy.Format2},
		{rego("0.10.0", `[{"name":"app"},{"name":"pause-container"}]`), ccpolicy.Format12},
		{rego("0.10.0", "[\n  {\n    \"name\": \"app\"\n  },\n  {\n    \"name\": \"pause-container\"\n  }\n]"), ccpolicy.Format12},
		{rego("0.10.0", `[{"name":"app"},{"command":["/pause"]}]`), ccpolicy.Format1},
		{rego("0.10.0", `[{"name":"pause-container"},{"command":["/pause"]}]`), ccpolicy.Format1},
		{rego("0.10.0", `[]`), ccpolicy.Format1},
		{"package policy\n", ccpolicy.Format2},
	}
	for i, tc := range tests {
		if got := policyFormat(tc.rego); got != tc.want {
			t.Errorf("%d: policyFormat = %q, want %q\n%s", i, got, tc.want, tc.rego)
		}
	}
}
