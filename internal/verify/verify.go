package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Container is what the ACI guest is asked to run for one container of a
// pod: the fields of the OCI spec that the policy constrains. [FromPod]
// builds it from a pod template and image facts.
type Container struct {
	// Name is used only in the report; the enforcer does not check it.
	Name string
	// Sandbox marks the pod's sandbox (pause) container, which the guest
	// creates first. See [Pause].
	Sandbox bool
	// Layers are the dm-verity root hashes of the image layers, base layer
	// first (the order of the policy's "layers" list).
	Layers []string
	// Command is the full argument list (entrypoint and arguments).
	Command []string
	// Env is the process environment as NAME=VALUE.
	Env []string
	// WorkingDir is the process working directory. By default, "/".
	WorkingDir string
	// Mounts are the pod's and ACI's mounts. [Policy] adds the runtime's
	// default mounts (/proc, /dev, /sys, ...) and the guest's networking
	// mounts itself.
	Mounts []Mount
	// User is the process user. By default, root (0/root).
	User IDName
	// Groups are the process groups, primary first. By default, the root
	// group (0/root).
	Groups []IDName
	// Umask is the process umask. By default, "0022".
	Umask string
	// Capabilities are the process capabilities. By default, the runtime's
	// unprivileged set, or the privileged set when Privileged.
	Capabilities *Capabilities
	// Privileged is securityContext.privileged.
	Privileged bool
	// NoNewPrivileges is true when allowPrivilegeEscalation is false.
	NoNewPrivileges bool
	// SeccompProfileSHA256 is the guest's measure of the seccomp profile
	// (sha256 of its OCI JSON), "" for none.
	SeccompProfileSHA256 string
	// Unresolved names the environment variables whose values [FromPod]
	// could not know (a ConfigMap or Secret not given to it, a field only
	// known at run time) and replaced with a placeholder. A policy that
	// lists such a variable with its literal value will not match the
	// placeholder.
	Unresolved []string
}

// Mount is one OCI mount of the container spec as ACI sends it. Sources that
// start with "sandbox://" are rewritten below the sandbox mounts directory,
// the way the guest does before it consults the policy.
type Mount struct {
	Destination string
	Source      string
	// Type is the mount type. By default, "bind".
	Type    string
	Options []string
}

// IDName is a user or group as the guest reports it to the enforcer: the
// numeric id and the name from the image's /etc/passwd or /etc/group. Either
// may be empty when unknown.
type IDName struct {
	ID   string
	Name string
}

// Capabilities are the five Linux capability sets, with CAP_ names.
type Capabilities struct {
	Bounding, Effective, Inheritable, Permitted, Ambient []string
}

// DefaultCapabilities returns the capability sets the runtime gives a
// container without capabilities in its securityContext: containerd's
// default unprivileged set, or every capability when privileged. These are
// the lists hcsshim's framework assumes for a policy container without
// capabilities (securitypolicy.DefaultUnprivilegedCapabilities and
// DefaultPrivilegedCapabilities, copied here because that package does not
// build on every OS; a test compares them).
func DefaultCapabilities(privileged bool) *Capabilities {
	if privileged {
		return &Capabilities{
			Bounding:    slices.Clone(privilegedCapabilities),
			Effective:   slices.Clone(privilegedCapabilities),
			Inheritable: slices.Clone(privilegedCapabilities),
			Permitted:   slices.Clone(privilegedCapabilities),
			Ambient:     []string{},
		}
	}
	return &Capabilities{
		Bounding:    slices.Clone(unprivilegedCapabilities),
		Effective:   slices.Clone(unprivilegedCapabilities),
		Inheritable: []string{},
		Permitted:   slices.Clone(unprivilegedCapabilities),
		Ambient:     []string{},
	}
}

var unprivilegedCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

var privilegedCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

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
	// Shells are the debug shells (/bin/sh, /bin/bash) the policy lets
	// anyone exec into the running container.
	Shells []string
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
func Policy(ctx context.Context, policyText string, containers []Container) ([]Decision, error) {
	g, err := newGuest(policyText)
	if err != nil {
		return nil, err
	}
	sandbox := Pause()
	var others []Container
	found := false
	for _, c := range containers {
		if c.Sandbox && !found {
			sandbox, found = c, true
			continue
		}
		others = append(others, c)
	}
	ds := make([]Decision, 0, len(others)+1)
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
func Classify(ctx context.Context, policyText string) (Classification, error) {
	return classify(ctx, policyText)
}

// PauseLayer is the dm-verity root hash of the pause image that ACI runs as
// every pod's sandbox container (confcom's constant).
const PauseLayer = "16b514057a06ad665f92c02863aca074fd5976c755d26bff16365299169e8415"

// Pause returns the pause (sandbox) container ACI starts first in every pod,
// as confcom lists it in every virtual-node policy.
func Pause() Container {
	return Container{
		Name:    "pause-container",
		Sandbox: true,
		Layers:  []string{PauseLayer},
		Command: []string{"/pause"},
		Env:     []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
	}
}
