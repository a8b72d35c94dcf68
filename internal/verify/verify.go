package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cocofy.dev/cocofy/internal/guest"
)

// Decision is the enforcer's verdict on one container.
type Decision struct {
	// Name is the [Container.Name].
	Name string
	// Allowed reports whether the guest would start the container.
	Allowed bool
	// Step is the enforcement point that denied the container:
	// mount_device, mount_overlay or create_container. Empty when allowed.
	Step string
	// Reason is the framework's reason, e.g. "invalid command"; several
	// reasons are sorted and joined with "; ". Empty when allowed.
	Reason string
	// PolicyDecision is the decoded JSON the guest would have put into the
	// policyDecision< ... > event (environment values redacted by the
	// enforcer). Empty when allowed.
	PolicyDecision string
	// DroppedEnv names the environment variables that match no rule of the
	// policy: the guest silently removes them before starting the
	// container (allow_environment_variable_dropping).
	DroppedEnv []string
	// DroppedCapabilities names the capabilities the guest removes because
	// the policy does not list them (allow_capability_dropping).
	DroppedCapabilities []string
}

// Policy evaluates policyText (the decoded Rego text of the ccepolicy
// annotation, or a legacy JSON policy) with hcsshim's enforcer and replays
// what the guest does to start each container: mount every layer device,
// mount the overlay, create the container. The enforcer keeps state like the
// guest's, so the containers share one pod. A denied container is reported
// and the next one is still checked.
//
// ACI starts the pause container of every pod first. Unless a container in
// containers is marked [Container.Sandbox], Policy adds [Pause]. The result
// has one [Decision] per container, the sandbox first, then the others in
// the order given.
//
// It returns an error wrapping [ErrUnparsable] when the guest could not load
// the policy, and [ErrNoEnforcer] when built without -tags rego.
func (v *Verifier) Policy(ctx context.Context, policyText string, containers []guest.Container) ([]Decision, error) {
	g, err := newGuest(v.c, policyText)
	if err != nil {
		return nil, err
	}
	ds, err := g.replay(ctx, containers)
	if err != nil || g.exact(ds) {
		return ds, err
	}
	// The fast enforcer settles only allowed replays; hcsshim's own
	// enforcer decides the rest, with its reasons.
	if g, err = hcsshimGuest(policyText); err != nil {
		return nil, err
	}
	return g.replay(ctx, containers)
}

// Fragment is a policy fragment as the guest hands it to its enforcer
// once it has checked the envelope (signature, chain, did:x509 issuer,
// feed; internal/fragment.Verify): the envelope's issuer and feed, and
// the fragment's Rego, whose first line is "package <namespace>".
type Fragment struct {
	Issuer, Feed, Rego string
}

// PolicyWithFragments is Policy in a guest that is offered fragments
// before the pod's containers start, as the guest's InjectFragment offers
// each signed fragment the host sends: hcsshim's enforcer loads each one
// (LoadFragment), which checks its issuer, feed and svn against the
// policy's imports and adds the containers of each it accepts to those
// the policy allows. loaded has one entry per fragment: nil when the
// enforcer loaded it, else an error wrapping [ErrFragmentRefused] with
// the framework's reason. With fragments, hcsshim's enforcer alone
// replays the pod (the fast enforcer loads none).
func (v *Verifier) PolicyWithFragments(ctx context.Context, policyText string, fragments []Fragment, containers []guest.Container) (ds []Decision, loaded []error, err error) {
	if len(fragments) == 0 {
		ds, err = v.Policy(ctx, policyText, containers)
		return ds, nil, err
	}
	g, err := newHcsshimGuest(policyText)
	if err != nil {
		return nil, nil, err
	}
	if loaded, err = g.load(ctx, fragments); err != nil {
		return nil, nil, err
	}
	ds, err = g.replay(ctx, containers)
	return ds, loaded, err
}

// replay starts the pod's containers in g: the sandbox first (the pause
// container unless one is marked Sandbox), then the others in order. A
// panic in the fast enforcer spoils its replay, so that hcsshim's enforcer
// decides; one in hcsshim's enforcer is an error (see panicked).
func (g *uvm) replay(ctx context.Context, containers []guest.Container) (ds []Decision, err error) {
	defer func() {
		if r := recover(); r != nil {
			ds, err = nil, g.panicked(r)
		}
	}()
	sandbox := guest.Pause()
	var others []guest.Container
	found := false
	for _, c := range containers {
		if c.Sandbox && !found {
			sandbox, found = c, true
			continue
		}
		others = append(others, c)
	}
	ds = make([]Decision, 0, len(others)+1)
	ds = append(ds, g.run(ctx, sandbox, true))
	for _, c := range others {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ds = append(ds, g.run(ctx, c, false))
	}
	return ds, nil
}

// Err returns nil when the guest would start every container exactly as
// described. Otherwise it returns one error per affected container, joined:
// a denied container wraps [ErrDenied] and names the step and the
// framework's reason; an allowed container that loses environment variables
// or capabilities wraps [ErrDropped] and names them.
func Err(ds []Decision) error {
	var errs []error
	for _, d := range ds {
		switch {
		case !d.Allowed:
			errs = append(errs, fmt.Errorf("container %q: %w: %s: %s", d.Name, ErrDenied, d.Step, d.Reason))
		case len(d.DroppedEnv) > 0 || len(d.DroppedCapabilities) > 0:
			var what []string
			if len(d.DroppedEnv) > 0 {
				what = append(what, "environment variables "+strings.Join(d.DroppedEnv, ","))
			}
			if len(d.DroppedCapabilities) > 0 {
				what = append(what, "capabilities "+strings.Join(d.DroppedCapabilities, ","))
			}
			errs = append(errs, fmt.Errorf("container %q: %w: %s not in the policy", d.Name, ErrDropped, strings.Join(what, " and ")))
		}
	}
	return errors.Join(errs...)
}

// Kind is what a policy is meant for: Generated, AllowAll or Debug.
type Kind string

// Kinds of policy.
const (
	// Generated is a policy that lists the containers it allows and carries
	// none of the debug signals.
	Generated Kind = "generated"
	// AllowAll is a policy that lets any container start: the enforcer
	// allows a container whose layer and command no policy could list.
	AllowAll Kind = "allow-all"
	// Debug is a container-listing policy with debug features on: stack
	// dumps or runtime logging allowed, or a shell may be exec'd into a
	// container or the utility VM.
	Debug Kind = "debug"
)

// Classification is the result of [Classify].
type Classification struct {
	Kind Kind
	// Signals say why, e.g. "allow_dump_stacks",
	// `exec_processes of "mypod" allow ["/bin/sh"]`.
	Signals []string
}

// String implements fmt.Stringer.
func (c Classification) String() string {
	if len(c.Signals) == 0 {
		return string(c.Kind)
	}
	return string(c.Kind) + " (" + strings.Join(c.Signals, ", ") + ")"
}

// Classify tells a generated policy from an allow-all or a debug one, using
// the enforcer's behaviour where it can:
//   - AllowAll: a probe container with an unknown layer hash and command is
//     allowed through mount_device, mount_overlay and create_container. This
//     covers the documented allow-all Rego and the legacy JSON
//     {"allow_all": true}.
//   - Debug: dump_stacks or runtime_logging is allowed (confcom
//     --debug-mode sets allow_dump_stacks and allow_runtime_logging, and
//     policies older than API 0.7.0 and 0.8.0 get them by default), a shell
//     may be started in the utility VM (exec_external), or a policy
//     container lists a bare shell (/bin/sh, /bin/bash, ...) in
//     exec_processes, which --debug-mode adds.
//   - Generated otherwise.
//
// A policy the guest cannot load is an error wrapping [ErrUnparsable].
func (v *Verifier) Classify(ctx context.Context, policyText string) (Classification, error) {
	return classify(ctx, v.c, policyText)
}

// Verifier replays pods against policies. It keeps what it compiles
// (hcsshim's framework with each set of a policy's rules, the queries, the
// enforcement points' answers) for its own later calls, so that a run's
// pods cost an evaluation each, not a compilation; two Verifiers share
// nothing. The zero value is not usable: make one with New. Safe for
// concurrent use.
type Verifier struct {
	c *compiled
}

// New returns a Verifier with nothing compiled yet.
func New() *Verifier { return &Verifier{c: newCompiled()} }

// Policy is New().Policy: it compiles for this call alone.
func Policy(ctx context.Context, policyText string, containers []guest.Container) ([]Decision, error) {
	return New().Policy(ctx, policyText, containers)
}

// Classify is New().Classify.
func Classify(ctx context.Context, policyText string) (Classification, error) {
	return New().Classify(ctx, policyText)
}

// Reference replays like [Policy] with hcsshim's enforcer alone, which
// compiles the policy together with its framework for every call, as the
// guest does. Policy gives the same decisions; Reference is what it is
// tested against.
func Reference(ctx context.Context, policyText string, containers []guest.Container) ([]Decision, error) {
	g, err := newHcsshimGuest(policyText)
	if err != nil {
		return nil, err
	}
	return g.replay(ctx, containers)
}
