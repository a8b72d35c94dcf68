package fragment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/ccpolicy"
)

// ReservedNamespaces are the namespaces a fragment may not use: the
// guest's (hcsshim securitypolicyenforcer_rego.go: framework, api, policy,
// metadata) and confcom's (internal_config.json
// reserved_fragment_namespaces: microsoftcontainerinstance, data, input,
// policy).
func ReservedNamespaces() []string {
	return []string{"api", "data", "framework", "input", "metadata", "microsoftcontainerinstance", "policy"}
}

// packageLine is the guest's check of a fragment's first line.
var packageLine = regexp.MustCompile(`^package +([a-zA-Z_][a-zA-Z0-9_]*)\s*$`)

// CheckNamespace refuses a namespace that is not a Rego identifier or is
// reserved.
func CheckNamespace(ns string) error {
	if !packageLine.MatchString("package " + ns) {
		return fmt.Errorf("namespace %q: %w", ns, ErrPackage)
	}
	if slices.Contains(ReservedNamespaces(), ns) {
		return fmt.Errorf("namespace %q: %w (reserved: %s)", ns, ErrReservedNamespace, strings.Join(ReservedNamespaces(), ", "))
	}
	return nil
}

// Namespace returns the namespace of a fragment's Rego as the guest reads
// it: from the first line, which must be "package <identifier>" (no BOM,
// comment or blank line before it), and not reserved.
func Namespace(payload []byte) (string, error) {
	first, _, _ := strings.Cut(string(payload), "\n")
	m := packageLine.FindStringSubmatch(first)
	if m == nil {
		return "", fmt.Errorf("%w: got %.60q", ErrPackage, first)
	}
	return m[1], CheckNamespace(m[1])
}

// Generate returns the fragment Rego confcom's acifragmentgen --image
// writes for refs (internal/ccpolicy.GenerateFragment), after checking the
// namespace as the guest will.
func Generate(refs []string, images map[string]image.Facts, opts ccpolicy.FragmentOptions) (string, error) {
	if err := CheckNamespace(opts.Namespace); err != nil {
		return "", err
	}
	return ccpolicy.GenerateFragment(refs, images, opts)
}

// SVN evaluates data.<namespace>.svn with OPA, as the guest's framework
// reads it: a number, or a string of digits (confcom writes "1").
func SVN(ctx context.Context, ns string, payload []byte) (string, error) {
	mod, err := ast.ParseModuleWithOpts(ns+".rego", string(payload), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return "", regoError(err)
	}
	r := rego.New(rego.Query("x = data."+ns+".svn"), rego.ParsedModule(mod))
	rs, err := r.Eval(ctx)
	if err != nil {
		return "", regoError(err)
	}
	if len(rs) == 0 {
		return "", fmt.Errorf("%w: data.%s.svn is not defined", ErrSVN, ns)
	}
	switch v := rs[0].Bindings["x"].(type) {
	case string:
		if ccpolicy.IsDigits(v) {
			return v, nil
		}
	case json.Number:
		if ccpolicy.IsDigits(v.String()) {
			return v.String(), nil
		}
	}
	return "", fmt.Errorf("%w: data.%s.svn is %v, not a whole number", ErrSVN, ns, rs[0].Bindings["x"])
}

// regoError lists each of OPA's errors (its own message only counts them).
func regoError(err error) error {
	var errs ast.Errors
	if !errors.As(err, &errs) {
		return fmt.Errorf("%w: %w", ErrRego, err)
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%w (Rego v1, as the guest's OPA parses it): %s", ErrRego, strings.Join(msgs, "; "))
}

// Containers evaluates data.<namespace>.containers of a verified
// fragment, as the guest's framework reads them: the containers a policy
// that imports the fragment (includes "containers") may run, as JSON
// values (objects are map[string]any, numbers json.Number).
func Containers(ctx context.Context, f *Fragment) ([]any, error) {
	mod, err := ast.ParseModuleWithOpts(f.Namespace+".rego", string(f.Payload), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, regoError(err)
	}
	rs, err := rego.New(rego.Query("x = data."+f.Namespace+".containers"), rego.ParsedModule(mod)).Eval(ctx)
	if err != nil {
		return nil, regoError(err)
	}
	if len(rs) == 0 {
		return nil, nil
	}
	list, ok := rs[0].Bindings["x"].([]any)
	if !ok {
		return nil, fmt.Errorf("%w: data.%s.containers is not a list", ErrRego, f.Namespace)
	}
	return list, nil
}
