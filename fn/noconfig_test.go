package fn_test

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/fn"
)

// Without --config, $COCOFY_CONFIG or a functionConfig every door stops
// with ErrNoConfig and nothing on stdout (the plain stream's message is
// testdata/err-no-config/error.golden); kpt's -- key=value ConfigMap is a
// config.
func TestNoConfigIsAnError(t *testing.T) {
	t.Setenv(fn.EnvConfig, "") // an empty $COCOFY_CONFIG names no config
	in := read(t, "testdata/err-no-config/input.yaml")
	for name, tc := range map[string]struct {
		in   string
		args []string
	}{
		"stream":              {in, nil},
		"ResourceList":        {wrap(t, in, ""), nil},
		"verify":              {in, []string{"verify"}},
		"verify ResourceList": {wrap(t, in, ""), []string{"verify"}},
	} {
		out, _, err := run(t, tc.in, tc.args...)
		assert.ErrorIs(t, err, fn.ErrNoConfig, name)
		assert.ErrorContains(t, err, "give one with --config FILE", name)
		assert.ErrorContains(t, err, "spec: {target: virtual-node}", name)
		assert.Equal(t, out, "", name)
	}

	// kpt fn eval -- target=pod-sandbox: a ConfigMap functionConfig.
	rl := strings.Replace(wrap(t, in, ""), "kind: ResourceList\n", "kind: ResourceList\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: function-input}\n  data: {target: pod-sandbox}\n", 1)
	out, stderr, err := run(t, rl)
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(out, "runtimeClassName: kata-vm-isolation"), out)
}
