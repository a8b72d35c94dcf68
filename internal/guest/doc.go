// Package guest is cocofy's one description of what the Confidential ACI
// guest is asked to run for a virtual-node pod: per container, the fields of
// the OCI spec that a CCE policy constrains (command, environment, working
// directory, mounts, user and groups, capabilities, seccomp), as the
// upstream kubelet and ACI's CRI fork make them from the pod spec.
// [Receive] builds it; internal/verify replays it with hcsshim's enforcer;
// internal/ccpolicy corrects confcom's policy with it (compat: guest).
//
// The evidence for each field, and where confcom differs, is in
// docs/policy.md.
//
// # Assumptions about ACI's virtual node
//
// ACI does not document the OCI spec it sends to the guest. [Receive] assumes
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
//     with the Objects given to [Receive] (data and binaryData; data and stringData), as
//     confcom does from the same file. A reference it cannot resolve, and a
//     fieldRef known only at run time (status.podIP, metadata.uid, ...), get
//     the value "{cocofy-runtime:NAME}", or "{cocofy-runtime/CLASS:NAME}"
//     when the source gives the value's form (an IP, a DNS subdomain, a
//     UUID: see [FieldClass]), and are listed in [Container.Unresolved]:
//     such a value matches confcom's wildcard rule NAME=.* but not a
//     literal one. Inside a longer value it becomes the narrowest pattern
//     of its form ([Pattern]); verify replays a value of that form
//     ([Sample]). resourceFieldRef is computed the
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
package guest
