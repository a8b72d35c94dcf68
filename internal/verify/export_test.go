//go:build linux && rego

package verify

import "context"

// ClassifyReference classifies with hcsshim's enforcer alone.
func ClassifyReference(ctx context.Context, policyText string) (Classification, error) {
	g, err := newHcsshimGuest(policyText)
	if err != nil {
		return Classification{}, err
	}
	return g.classify(ctx, policyText)
}

// Fast reports whether the fast enforcer evaluates the policy.
func Fast(policyText string) bool {
	g, err := newGuest(newCompiled(), policyText)
	return err == nil && g.fast != nil
}
