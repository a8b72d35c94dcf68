//go:build linux && rego

package fn_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// envPod is a virtual-node pod whose container has n env variables: plain
// values, and every tenth from the pod's IP (a wildcard rule).
func envPod(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers:\n  - name: app\n    image: registry.example/app:1\n    resources: {limits: {cpu: 100m, memory: 256Mi}}\n    env:\n")
	for i := range n {
		if i%10 == 9 {
			fmt.Fprintf(&b, "    - {name: V%d, valueFrom: {fieldRef: {fieldPath: status.podIP}}}\n", i)
		} else {
			fmt.Fprintf(&b, "    - {name: V%d, value: 'x%d'}\n", i, i)
		}
	}
	return b.String()
}

// A pod with 40,000 env variables is rendered (or refused) in seconds:
// env handling is linear (it took 96 s here, 36 s elsewhere). So is one
// whose every value is an error.
func TestManyEnvVars(t *testing.T) {
	if testing.Short() {
		t.Skip("renders a pod of 40,000 variables")
	}
	const cfg = "testdata/virtual-node/config.yaml"
	for _, n := range []int{4000, 40000} {
		for _, bad := range []bool{false, true} {
			in := envPod(n)
			if bad {
				// Unquoted: Kubernetes reads them as numbers.
				in = strings.ReplaceAll(in, "value: 'x", "value: 1")
			}
			start := time.Now()
			_, _, err := run(t, in, "--config", cfg)
			took := time.Since(start)
			t.Logf("%d variables (errors: %t): %s, %v", n, bad, took, err)
			assert.Assert(t, took < 20*time.Second, "%d variables took %s", n, took)
		}
	}
}
