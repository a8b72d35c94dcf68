//go:build linux && rego

package fn_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// cocofy verify never inspects an image that is not a string either: a
// pinned image replaced by 12345 fails, and the registry is not asked for
// docker.io/library/12345.
func TestStreamVerifyNeverInspectsNonStringImage(t *testing.T) {
	const cfg = "testdata/virtual-node/config.yaml"
	good := read(t, "testdata/virtual-node/expected.yaml")
	bad := regexp.MustCompile(`image: registry.example/shop/web:1.4@sha256:[0-9a-f]{64}`).ReplaceAllString(good, "image: 12345")
	assert.Assert(t, bad != good)
	for door, in := range map[string]string{"stream": bad, "ResourceList": wrap(t, bad, cfg)} {
		t.Run(door, func(t *testing.T) {
			calls := &streamCalls{}
			out, stderr, err := runWith(t, streamDeps(calls), in, "verify", "--config", cfg)
			assert.Assert(t, err != nil, stderr)
			assert.Equal(t, out, "")
			t.Log(stderr)
			assert.Assert(t, !slices.ContainsFunc(calls.all(), func(c string) bool { return strings.Contains(c, "12345") }), "%v", calls.all())
		})
	}
}
