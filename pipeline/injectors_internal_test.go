package pipeline

import "testing"

func TestInjectorFor(t *testing.T) {
	tests := []struct {
		key, value string
		label      bool
		want       string // injector name, "" for none
	}{
		{"vault.hashicorp.com/agent-inject", "TRUE", false, "the Vault Agent injector"},
		{"vault.hashicorp.com/agent-inject", "false", false, ""},
		{"sidecar.istio.io/inject", "yes", true, "Istio"},
		{"sidecar.istio.io/inject", "false", false, ""},
		{"linkerd.io/inject", "enabled", false, "Linkerd"},
		{"linkerd.io/inject", "enabled", true, ""}, // Linkerd reads annotations only
		{"linkerd.io/inject", "disabled", false, ""},
		{"instrumentation.opentelemetry.io/inject-python", "monitoring/python", false, "the OpenTelemetry Operator"},
		{"instrumentation.opentelemetry.io/inject-python", "false", false, ""},
		{"azure.workload.identity/use", "true", true, ""}, // allowed by the policy
	}
	for _, tc := range tests {
		in, ok := injectorFor(tc.key, tc.value, tc.label)
		got := ""
		if ok {
			got = in.name
		}
		if got != tc.want {
			t.Errorf("injectorFor(%q, %q, label %v) = %q, want %q", tc.key, tc.value, tc.label, got, tc.want)
		}
	}
}
