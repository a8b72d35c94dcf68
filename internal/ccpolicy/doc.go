// Package ccpolicy generates the confidential container (CCE) policy that AKS
// virtual nodes on Confidential ACI read from the pod annotation
// microsoft.containerinstance.virtualnode.ccepolicy.
//
// The policy text is byte-identical to what `az confcom acipolicygen
// --virtual-node-yaml` writes for the same pod template and images, because
// the SEV-SNP HOST_DATA of the pod is the sha256 of those bytes and key
// release policies bind to it. The default format is confcom 2.2 and later
// (api 0.11.0); Options.Format "1.2" reproduces confcom 1.2.3 to 1.2.7 and
// "1.x" confcom 1.0.x (api 0.10.0), for policies already in clusters.
//
// GenerateFragment writes, in the same way, the fragment Rego of `az confcom
// acifragmentgen --image` (confcom 2.0.1): ACI containers, not VN2 ones;
// internal/fragment signs and checks it.
//
// That is Options.Compat "confcom". By default (CompatGuest) Generate then
// corrects confcom's policy where the guest would deny a container or drop
// its variables, with internal/guest's description of what the guest
// receives; Quirks lists the fields, docs/policy.md the evidence.
//
// What it does not do:
//   - It does not read registries or hash layers: the caller passes each
//     image's config and dm-verity root hashes (image.Facts).
//   - It does not prompt. A reference to a ConfigMap or Secret that is not
//     in the input is an error unless Options.WildcardMissingRefs is set
//     (confcom's -y).
//   - It never drops a container, unlike confcom when layer hashing fails,
//     and never writes an allow-all policy.
//   - It does not support confcom's sidecar images, the --prerelease-policy-api
//     template, fragments covering containers, or Windows.
//
// In confcom's reading, its quirks are reproduced on purpose, because the
// hash must match:
// workingDir and envFrom are ignored, Kubernetes capability names are used
// verbatim, every volume is an emptyDir mount, a configMap, secret,
// downwardAPI or projected volume is read-only whatever readOnly says,
// unquoted YAML scalars are read as YAML 1.1 (PyYAML) and printed with
// Python's str(), and the JSON is written the way Python's json.dumps does.
//
// confcom's reading walks the pod's kyaml node (podspec.Pod.Template) rather
// than the typed view: confcom's rules depend on the YAML itself
// (case-insensitive keys, YAML 1.1 scalars, quoting), which a typed model
// would lose.
package ccpolicy
