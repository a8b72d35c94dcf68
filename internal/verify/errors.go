package verify

import "errors"

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrNoEnforcer is returned by [Policy] and [Classify] when the binary was
	// built without hcsshim's Rego enforcer: build with -tags rego on Linux.
	ErrNoEnforcer = errors.New("hcsshim Rego enforcer not built in (build with -tags rego on linux)")

	// ErrUnparsable is returned when the guest could not load the policy at
	// all: it is neither Rego that compiles together with hcsshim's framework
	// nor a legacy JSON policy.
	ErrUnparsable = errors.New("policy cannot be loaded")

	// ErrNotData is returned for a policy that computes (a rule body, a
	// function, a comprehension): verify evaluates only policies made of
	// data, as generated, allow-all and debug policies are, because the
	// guest's interpreter has no deadline.
	ErrNotData = errors.New("policy is not plain data; cocofy does not evaluate it")

	// ErrDenied is wrapped by [Err] when the guest would refuse a container.
	ErrDenied = errors.New("policy denies the container")

	// ErrDropped is wrapped by [Err] when the guest would start a container
	// only after dropping environment variables or capabilities the policy
	// does not list.
	ErrDropped = errors.New("policy drops part of the container's configuration")

	// ErrFragmentRefused is wrapped by [Verifier.PolicyWithFragments] for a
	// fragment the enforcer does not load: the policy imports no fragment
	// of its issuer and feed, or one with a higher minimum_svn.
	ErrFragmentRefused = errors.New("the enforcer refuses the fragment")
)
