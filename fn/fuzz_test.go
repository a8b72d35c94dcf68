package fn_test

import (
	"testing"

	"cocofy.dev/cocofy/fn"
)

// FuzzParseConfig: any bytes give a config that validates, or an error;
// never a panic, never an invalid config.
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec: {target: contrast}\n",
		"apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: virtual-node\n  virtualNode: {zone: \"1\"}\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: function-input}\ndata: {target: pod-sandbox, lockMode: auto}\n",
		"apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec: {resources: {missing: default, defaultCPU: 1, defaultMemory: 1Gi}}\n",
		"kind: Cocofy\nspec: {unknown: 1}\n",
		"{]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := fn.ParseConfig(data, "")
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig returned a config that does not validate: %v", err)
		}
	})
}
