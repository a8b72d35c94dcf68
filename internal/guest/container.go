package guest

import (
	"slices"

	oci "github.com/opencontainers/runtime-spec/specs-go"
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
	// ExecProcesses are the commands the kubelet asks the guest to exec in
	// the container, in confcom's order: the exec probes (liveness,
	// readiness, startup), then the exec lifecycle hooks (postStart,
	// preStop).
	ExecProcesses []ExecProcess
	// Unresolved names the environment variables whose values [FromPod]
	// could not know (a ConfigMap or Secret not given to it, a field only
	// known at run time) and replaced with a placeholder. A policy that
	// lists such a variable with its literal value will not match the
	// placeholder.
	Unresolved []string
}

// ExecProcess is one command the kubelet execs in a container.
type ExecProcess struct {
	// Hook is the field that asks for it, e.g. "livenessProbe" or
	// "lifecycle.preStop".
	Hook string
	// Written is the command as the pod spec writes it; Command is what the
	// guest is asked to run: for a probe, $(VAR) expanded with the
	// container's own env values ("" for one from valueFrom), as the
	// kubelet's ExpandContainerCommandOnlyStatic does; a lifecycle hook's
	// command is run as written.
	Written, Command []string
}

// Mount is one OCI mount of the container spec as ACI sends it (the OCI
// runtime-spec type). Sources that start with "sandbox://" are rewritten
// below the sandbox mounts directory, the way the guest does before it
// consults the policy. An empty Type is "bind".
type Mount = oci.Mount

// IDName is a user or group as the guest reports it to the enforcer: the
// numeric id and the name from the image's /etc/passwd or /etc/group. Either
// may be empty when unknown.
type IDName struct {
	ID   string
	Name string
}

// Capabilities are the five Linux capability sets, with CAP_ names (the OCI
// runtime-spec type).
type Capabilities = oci.LinuxCapabilities

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
