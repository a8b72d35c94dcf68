//go:build linux && rego

package fn_test

import (
	"context"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"cocofy.dev/cocofy/fn"
)

// A policy with an unused data rule holding a number OPA's parser refuses
// cannot be loaded by the guest: cocofy verify refuses it, says why, and
// prints no stack trace (it once allowed the 40,001-digit one and panicked
// on 1e40000).
func TestVerifyRefusesNumbersTheGuestCannotParse(t *testing.T) {
	const cfg = "testdata/virtual-node/config.yaml"
	good := read(t, "testdata/virtual-node/expected.yaml")
	const ann = "microsoft.containerinstance.virtualnode.ccepolicy: "
	i := strings.Index(good, ann)
	assert.Assert(t, i > 0)
	end := i + strings.Index(good[i:], "\n")
	policy, err := base64.StdEncoding.DecodeString(strings.Trim(good[i+len(ann):end], `'"`))
	assert.NilError(t, err)
	for name, value := range map[string]string{
		"40001 digits": "1" + strings.Repeat("0", 40000),
		"exponent":     "1e40000",
	} {
		text := strings.Replace(string(policy), "package policy\n", "package policy\n\nextra := "+value+"\n", 1)
		assert.Assert(t, text != string(policy))
		in := good[:i] + ann + base64.StdEncoding.EncodeToString([]byte(text)) + good[end:]
		out, stderr, err := run(t, in, "verify", "--config", cfg)
		assert.Assert(t, err != nil, "%s: %s", name, stderr)
		assert.Equal(t, out, "", name)
		msg := stderr + err.Error()
		assert.Check(t, is.Contains(msg, "policy cannot be loaded: the guest's OPA cannot parse it: policy.rego:3: rego_parse_error: number too big"), name)
		assert.Check(t, len(msg) < 2000, "%s: the message quotes the number: %d bytes", name, len(msg))
		assert.Check(t, !strings.Contains(msg, "goroutine "), "%s: %s", name, msg)
	}
}

// A panic anywhere in a command is an error line, never a stack trace.
func TestPanicIsAnError(t *testing.T) {
	panics := func(context.Context, *fn.Config, io.Writer, io.Writer) (fn.Deps, error) { panic("boom") }
	good := read(t, "testdata/virtual-node/expected.yaml")
	for _, args := range [][]string{{"--config", "testdata/virtual-node/config.yaml"}, {"verify", "--config", "testdata/virtual-node/config.yaml"}} {
		out, _, err := runWith(t, panics, good, args...)
		assert.ErrorContains(t, err, "internal error (a bug in cocofy, please report it): boom")
		assert.Equal(t, out, "")
	}
}
