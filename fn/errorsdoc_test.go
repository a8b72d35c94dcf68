package fn_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"
)

// TestErrorsDoc keeps docs/errors.md, the table of bad inputs and what
// cocofy says about them, in step with the error cases of TestGolden.
// Regenerate with: go test ./fn -run TestErrorsDoc -update
func TestErrorsDoc(t *testing.T) {
	cases, err := filepath.Glob("testdata/err-*/error.golden")
	assert.NilError(t, err)
	var b strings.Builder
	b.WriteString("# What cocofy says about bad input\n\n")
	b.WriteString("Generated from the test cases in `fn/testdata/err-*` by `go test ./fn -run TestErrorsDoc -update`;\n")
	b.WriteString("CI fails when this file and the tests disagree. Every case exits 1 and writes nothing to stdout.\n\n")
	for _, c := range cases {
		dir := filepath.Dir(c)
		desc, err := os.ReadFile(filepath.Join(dir, "case.txt"))
		assert.NilError(t, err, "every error case needs a case.txt")
		msg, err := os.ReadFile(c)
		assert.NilError(t, err)
		fmt.Fprintf(&b, "## %s\n\n%s\n\nInput: `fn/%s/input.yaml`\n\n```\n%s```\n\n",
			strings.TrimPrefix(filepath.Base(dir), "err-"), strings.TrimSpace(string(desc)), dir, msg)
	}
	b.WriteString("# Registry faults\n\nObserved against a real registry on 127.0.0.1 with faults injected, by\n`TestRegistryFailuresNameTheResource` (`fn/testdata/registry/errors/`). The pod has two\ncontainers; only the bad one is reported, and nothing is written.\n\n")
	faults, err := filepath.Glob("testdata/registry/errors/*.golden")
	assert.NilError(t, err)
	for _, f := range faults {
		text, err := os.ReadFile(f)
		assert.NilError(t, err)
		desc, msg, _ := strings.Cut(string(text), "\n")
		fmt.Fprintf(&b, "## %s\n\n%s\n\n```\n%s```\n\n", strings.TrimSuffix(filepath.Base(f), ".golden"), strings.TrimPrefix(desc, "# "), msg)
	}
	b.WriteString("# What cocofy verify refuses\n\nBy `TestVerifyEveryTarget` (`fn/testdata/verify/errors/`): `cocofy verify --config` on a stream\nthat would not run as the config says. Each exits 1 and writes nothing to stdout.\n\n")
	refused, err := filepath.Glob("testdata/verify/errors/*.golden")
	assert.NilError(t, err)
	for _, f := range refused {
		text, err := os.ReadFile(f)
		assert.NilError(t, err)
		desc, msg, _ := strings.Cut(string(text), "\n")
		fmt.Fprintf(&b, "## verify: %s\n\n%s\n\n```\n%s```\n\n", strings.TrimSuffix(filepath.Base(f), ".golden"), strings.TrimPrefix(desc, "# "), msg)
	}
	b.WriteString("# What cocofy fragment refuses\n\nBy `TestFragmentRefusals` (`fn/testdata/fragment/errors/`): `cocofy fragment verify` refuses what the\nguest refuses before it loads a fragment, naming the check; `sign` and `generate` refuse namespaces the\nguest or confcom reserve. Each exits 1 and writes nothing to stdout.\n\n")
	frags, err := filepath.Glob("testdata/fragment/errors/*.golden")
	assert.NilError(t, err)
	for _, f := range frags {
		text, err := os.ReadFile(f)
		assert.NilError(t, err)
		desc, msg, _ := strings.Cut(string(text), "\n")
		fmt.Fprintf(&b, "## fragment: %s\n\n%s\n\n```\n%s```\n\n", strings.TrimSuffix(filepath.Base(f), ".golden"), strings.TrimPrefix(desc, "# "), msg)
	}
	golden.Assert(t, b.String(), "../../docs/errors.md")
}
