// Package verify checks a CCE policy the way the Confidential ACI guest
// enforces it, before the pod ever reaches ACI.
//
// ACI runs every container of a confidential pod through hcsshim's policy
// enforcer inside the utility VM: it mounts each image layer as a dm-verity
// device, mounts the overlay, then asks the policy whether the container may
// be created with its command, environment, working directory, mounts, user,
// capabilities and seccomp profile. A mismatch surfaces on the cluster only as
// an opaque policyDecision event. [Policy] replays those steps with hcsshim's
// own enforcer (its Go code and its embedded framework.rego and api.rego,
// github.com/Microsoft/hcsshim/pkg/securitypolicy v0.14.1), so the decision
// and the reason text are the ones the guest would produce. The containers
// it replays are internal/guest's description of what ACI hands the guest.
// [Classify] tells a generated policy from an
// allow-all or a debug-mode one.
//
// # Compiled once
//
// hcsshim's enforcer compiles its framework together with each policy, about
// 30 ms a pod. Generated policies differ only in their data, so Policy and
// Classify evaluate a data-only policy with a fast enforcer (fast.go): the
// framework, the API and the policy's rules that refer into them are
// compiled once per process (frame.go), the policy's data goes into the
// store at data.policy, and hcsshim's regoEnforcer is followed step for step
// for the questions the replay asks (same inputs, same defaults, same
// metadata updates, same handling of env_list and caps_list). It settles only
// a replay in which every container is allowed; a denial, anything
// unexpected, and every policy it cannot split exactly into frame and data
// (another package, default rules, sets, data of a shape the framework's
// type check could refuse) go to hcsshim's enforcer, whose decisions and
// reasons are the ones reported. A panic in the fast enforcer sends the
// pod to hcsshim's enforcer too; one in hcsshim's is an [ErrUnparsable]
// error. The policy text is parsed by OPA's parser as the guest parses it,
// except rule values written as JSON, which encoding/json decodes much
// faster; a number in them that OPA's parser might refuse (more than 20
// characters, or an exponent) leaves the rule to OPA's parser, so that a
// policy the guest cannot load is never allowed. [Reference] is hcsshim's
// enforcer alone; tests compare the two on hundreds of generated pods and
// policy variants, and FuzzPolicyReference on any text. [CacheKey] names
// what decides a verdict, for caches of verdicts.
//
// # Build tag
//
// hcsshim compiles its Rego enforcer only with the build tag "rego" on Linux
// (securitypolicyenforcer_rego.go has //go:build linux && rego). Build and
// test with
//
//	go test -tags rego ./internal/verify
//
// Without the tag (or on another OS) the package still compiles, but
// [Policy] and [Classify] return [ErrNoEnforcer].
//
// # What the guest does, and what Policy simulates
//
// Taken from hcsshim's guest (internal/guest/runtime/hcsv2): the pause
// container is created first and its ID is the sandbox ID of the others;
// layer devices are mounted at their own paths and the overlay lists them top
// first; sandbox:// mount sources become paths below
// /run/gcs/c/<sandbox>/sandboxMounts; every container spec carries
// containerd's default mounts (/proc, /dev, /sys, ...; read-write /sys and
// /sys/fs/cgroup when privileged), which every policy allows, and a workload
// container gets the sandbox's /etc/hostname, /etc/hosts and
// /etc/resolv.conf unless it mounts them itself. User, groups and umask
// default to root and 0022, capabilities to the runtime's defaults.
//
// Fragments: [Verifier.PolicyWithFragments] offers the pod's fragments to
// hcsshim's enforcer (LoadFragment, which checks issuer, feed and svn
// against the policy's imports and adds the fragment's containers) before
// the containers start, as the guest's InjectFragment does once it has
// checked the envelope; checking the envelope (signature, chain, did:x509
// issuer, feed, package line) is the caller's, with internal/fragment.
// Only the fragments given are loaded: cocofy has no copy of the ACI
// infrastructure fragment (Microsoft's signed document in its registry),
// so the pause container comes from the policy's own containers, as
// confcom writes it.
//
// Not simulated: the infrastructure fragment (above), exec probes,
// signals, scratch and plan9 mounts, and reading users from the image's
// /etc/passwd.
//
// The enforcer is hcsshim v0.14.1's (framework 0.3.0, API 0.10.0); the
// guest running in ACI today may have a newer framework, which is the risk
// any offline check carries.
package verify
