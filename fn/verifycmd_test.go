//go:build linux && rego

package fn_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// cocofy verify through both doors: the input comes back unchanged with
// results; a tampered pod fails with no stdout.
func TestVerifyCommand(t *testing.T) {
	const cfg = "testdata/virtual-node/config.yaml"
	good := read(t, "testdata/virtual-node/expected.yaml")
	out, stderr, err := run(t, good, "verify", "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Equal(t, out, good)
	assert.Equal(t, strings.Count(stderr, "verified: the enforcer allows every container"), 2, stderr)

	rl, stderr, err := run(t, wrap(t, good, cfg), "verify")
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(rl, "kind: ResourceList"))
	assert.Assert(t, strings.Contains(rl, "verified: the enforcer allows every container"), rl)

	bad := strings.Replace(good, "args: ['--listen=:8080']", "args: ['--listen=:8080', --debug]", 1)
	assert.Assert(t, bad != good)
	for name, in := range map[string]string{"stream": bad, "ResourceList": wrap(t, bad, cfg)} {
		out, stderr, err = run(t, in, "verify", "--config", cfg)
		assert.Assert(t, err != nil, name)
		assert.Equal(t, out, "", name)
		assert.Assert(t, strings.Contains(stderr, `error: Deployment shop/web: spec.template.spec.containers[name=web]: the enforcer denies container "web" at create_container: invalid command`), stderr)
		assert.Assert(t, strings.Contains(stderr, "drift: the attached policy does not match the pod spec: containers[name=web].command differ"), stderr)
	}
}

// Through the command: an empty policy annotation, a policy that computes
// (refused before evaluation, quickly) and an unrendered stream all fail
// with nothing on stdout.
func TestVerifyCommandRefuses(t *testing.T) {
	const cfg = "testdata/virtual-node/config.yaml"
	good := read(t, "testdata/virtual-node/expected.yaml")
	const ann = "microsoft.containerinstance.virtualnode.ccepolicy: "
	i := strings.Index(good, ann)
	assert.Assert(t, i > 0)
	end := i + strings.Index(good[i:], "\n")
	withPolicy := func(v string) string { return good[:i] + ann + v + good[end:] }

	hostile := base64.StdEncoding.EncodeToString([]byte("package policy\n\nimport future.keywords.in\n\ncontainers := [x | some x in numbers.range(1, 100000000000)]\n"))
	for name, tc := range map[string]struct{ in, want string }{
		"empty annotation": {withPolicy("''"), "the CCE policy annotation is empty"},
		"computing policy": {withPolicy(hostile), "policy is not plain data; cocofy does not evaluate it: rule containers (line 5)"},
		"unrendered":       {read(t, "testdata/virtual-node/input.yaml"), "no CCE policy, though the config (target virtual-node) attaches one"},
	} {
		start := time.Now()
		out, stderr, err := run(t, tc.in, "verify", "--config", cfg)
		assert.Assert(t, err != nil, name)
		assert.Equal(t, out, "", name)
		assert.Assert(t, strings.Contains(stderr, tc.want), "%s: %s", name, stderr)
		assert.Assert(t, time.Since(start) < 20*time.Second, "%s took %s", name, time.Since(start))
	}
}
