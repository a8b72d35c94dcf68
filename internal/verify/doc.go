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
// and the reason text are the ones the guest would produce. [FromPod] builds
// the containers ACI would hand to the guest from a pod template and the
// image facts cocofy already has. [Classify] tells a generated policy from an
// allow-all or a debug-mode one.
//
// # Build tag
//
// hcsshim compiles its Rego enforcer only with the build tag "rego" on Linux
// (securitypolicyenforcer_rego.go has //go:build linux && rego). Build and
// test with
//
//	go test -tags rego ./internal/verify
//
// Without the tag (or on another OS) the package still compiles and
// [FromPod] works, but [Policy] and [Classify] return [ErrNoEnforcer].
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
// Not simulated: loading policy fragments (the infrastructure fragment needs
// a signed COSE document from the registry), exec probes, signals, scratch
// and plan9 mounts, and reading users from the image's /etc/passwd.
//
// # Assumptions about ACI's virtual node
//
// ACI does not document the OCI spec it sends to the guest. [FromPod] assumes
// it follows Kubernetes and containerd (CRI) semantics, and that the parts
// confcom writes into every policy are what ACI really sends:
//
//   - Command: Kubernetes command/args over the image's Entrypoint/Cmd, with
//     $(VAR) expanded in command, args and env values as the kubelet does
//     (confcom does not expand).
//   - Environment: HOSTNAME (spec.hostname, else metadata.name, else "pod"),
//     the image's Env, then the kubelet's variables (envFrom, env, the
//     "kubernetes" service variables KUBERNETES_SERVICE_HOST ... with
//     placeholder values), each replacing an earlier one of the same name,
//     then TERM=xterm unless set. Other services of the namespace are not
//     known; their variables have the shapes of the kubernetes service's and
//     match the same injected rules. Variables ACI adds only in some
//     configurations (Fabric_*, IDENTITY_*, and the IDENTITY_ENDPOINT,
//     IMDS_ENDPOINT ACI started adding for managed identity) are not
//     modelled. The THIM markers ===VIRTUALNODE2.CC.THIM.ENDPOINT=== and
//     ...ADDRESS=== are replaced with the documented example values.
//   - ConfigMap and Secret references are resolved from the objects given
//     with [WithObjects] (data and binaryData; data and stringData), as
//     confcom does from the same file. A reference it cannot resolve, and a
//     fieldRef known only at run time (status.podIP, metadata.uid, ...), get
//     the value "cocofy-placeholder:NAME" and are listed in
//     [Container.Unresolved]: such a value matches confcom's wildcard rule
//     NAME=.* but not a literal one. resourceFieldRef is computed the
//     kubelet's way (quantity / divisor, rounded up; confcom writes the raw
//     quantity, so a policy with CPU_LIMIT=250m does not match "1").
//   - Azure workload identity (pod label azure.workload.identity/use:
//     "true") adds AZURE_CLIENT_ID, AZURE_TENANT_ID (placeholder GUIDs),
//     AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST and a read-only mount
//     at /var/run/secrets/azure/tokens, except for containers listed in
//     azure.workload.identity/skip-containers.
//   - Mounts: every volume arrives as a sandbox bind mount below
//     sandbox:///tmp/atlas/emptydir/ (confcom's VN2 assumption), read-only for
//     configMap, secret, downwardAPI and projected volumes, for a volume
//     source with readOnly: true, or for a readOnly volumeMount. A
//     StatefulSet claim template with ReadOnlyMany is not visible in a pod
//     template and is mounted read-write unless the mount says readOnly.
//     ACI adds, unless the container mounts the path itself, the service
//     account token (ro; not with automountServiceAccountToken: false),
//     /etc/hosts, the terminationMessagePath (default /dev/termination-log),
//     /etc/hostname and /etc/resolv.conf (rw).
//   - Working directory: the pod's workingDir, else the image's, else "/".
//     confcom ignores workingDir, so such a pod is denied.
//   - User: runAsUser/runAsGroup (container over pod), else the image's
//     User ("name" or "uid", optionally ":group"); names are passed as names
//     and ids as ids since the image's /etc/passwd is not read; the primary
//     group defaults to root. supplementalGroups and fsGroup are additional
//     groups, as the CRI makes them.
//   - Capabilities: containerd's: the default set, add ALL / drop ALL, then
//     each name upper-cased with CAP_ prepended, on bounding, effective and
//     permitted; inheritable and ambient empty; all capabilities (inheritable
//     too) when privileged. confcom copies Kubernetes names verbatim, so an
//     added capability is dropped by the guest and drop: [ALL] is denied.
//   - Seccomp: RuntimeDefault and Unconfined send no profile (confcom's
//     assumption); confcom's base64 JSON string is measured as the guest
//     does; Localhost is [ErrUnsupported].
//   - allowPrivilegeEscalation: false sets no_new_privileges.
//
// The enforcer is hcsshim v0.14.1's (framework 0.3.0, API 0.10.0); the
// guest running in ACI today may have a newer framework, which is the risk
// any offline check carries.
package verify
