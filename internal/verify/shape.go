package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// MaxPolicySize bounds the policy text verify evaluates: Kubernetes allows
// 256 KiB for all annotations of an object together.
const MaxPolicySize = 256 << 10

// checkShape refuses, before any evaluation, a policy that is not plain
// data: hcsshim's interpreter evaluates without a deadline, so a rule with
// a body, a function, a comprehension or a call could run for minutes and
// take gigabytes (a CI check must not). Generated, allow-all and debug
// policies are data plus references to hcsshim's data.framework and
// data.api; a legacy JSON policy is data.
//
// It returns the parsed module, nil for a legacy JSON policy.
func checkShape(policyText string) (*policyModule, error) {
	if len(policyText) > MaxPolicySize {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d Kubernetes allows for all annotations", ErrUnparsable, len(policyText), MaxPolicySize)
	}
	if json.Valid([]byte(policyText)) {
		return nil, nil
	}
	skeleton, values := jsonRules(policyText)
	mod, err := parseV0(skeleton)
	if err != nil {
		// Report what the parser says of the text itself.
		if _, err = parseV0(policyText); err == nil {
			err = errors.New("the policy's JSON rules")
		}
		return nil, fmt.Errorf("%w: the guest's OPA cannot parse it: %w", ErrUnparsable, parseError{err})
	}
	for _, imp := range mod.Imports {
		if !strings.HasPrefix(imp.Path.String(), "future.keywords") {
			return nil, fmt.Errorf("%w: import %s: only future.keywords imports are evaluated", ErrNotData, imp.Path)
		}
	}
	for _, r := range mod.Rules {
		if err := dataRule(r); err != nil {
			return nil, fmt.Errorf("%w: rule %s (line %d): %s", ErrNotData, r.Head.Ref(), r.Location.Row, err)
		}
	}
	return &policyModule{Module: mod, json: values}, nil
}

// parseError is a parser's error in one line per problem, without the
// source lines OPA quotes (a 40,000-digit number would be quoted in full),
// at most three.
type parseError struct{ err error }

func (e parseError) Error() string {
	var errs ast.Errors
	if !errors.As(e.err, &errs) || len(errs) == 0 {
		return e.err.Error()
	}
	var lines []string
	for _, pe := range errs[:min(len(errs), 3)] {
		line := pe.Code + ": " + pe.Message
		if pe.Location != nil {
			line = fmt.Sprintf("%s:%d: %s", pe.Location.File, pe.Location.Row, line)
		}
		lines = append(lines, line)
	}
	if len(errs) > 3 {
		lines = append(lines, fmt.Sprintf("and %d more", len(errs)-3))
	}
	return strings.Join(lines, "; ")
}

func (e parseError) Unwrap() error { return e.err }

// A policyModule is a parsed Rego policy: each rule written as JSON (see
// jsonRules) has the value null in Module and its value in json.
type policyModule struct {
	*ast.Module
	json map[string]any
}

// parseV0 parses Rego as the guest's interpreter (OPA v0.x) does.
func parseV0(text string) (*ast.Module, error) {
	return ast.ParseModuleWithOpts("policy.rego", text, ast.ParserOptions{RegoVersion: ast.RegoV0})
}

var (
	frameworkRef = ast.MustParseRef("data.framework")
	apiRef       = ast.MustParseRef("data.api")
)

// dataRule accepts "name := value" where value is data, possibly holding
// references into data.framework or data.api.
func dataRule(r *ast.Rule) error {
	switch {
	case len(r.Head.Args) > 0:
		return fmt.Errorf("a function")
	case r.Else != nil:
		return fmt.Errorf("an else branch")
	case !(len(r.Body) == 1 && r.Body[0].String() == "true"):
		return fmt.Errorf("a rule body")
	case r.Head.Value == nil || r.Head.Key != nil:
		return fmt.Errorf("not a single value")
	}
	var bad error
	ast.WalkTerms(r.Head.Value, func(t *ast.Term) bool {
		if bad != nil {
			return true
		}
		switch v := t.Value.(type) {
		case ast.Ref:
			if !v.HasPrefix(frameworkRef) && !v.HasPrefix(apiRef) {
				bad = fmt.Errorf("a reference to %s", v)
			}
			return true
		case ast.Call, *ast.ArrayComprehension, *ast.ObjectComprehension, *ast.SetComprehension, ast.Var:
			bad = fmt.Errorf("%s is computed, not data", t)
			return true
		}
		return false
	})
	return bad
}
