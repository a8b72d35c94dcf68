package pipeline

// Target is where the selected pods will run.
//
// Allowed values: virtual-node, pod-sandbox, contrast, custom. There is no
// default: the config's Default() picks pod-sandbox.
type Target string

// Targets.
const (
	// TargetVirtualNode places pods on AKS virtual nodes (Confidential ACI):
	// nodeSelector, toleration, virtual-node annotations and the CCE policy.
	TargetVirtualNode Target = "virtual-node"
	// TargetPodSandbox sets runtimeClassName kata-vm-isolation (AKS Pod Sandboxing).
	TargetPodSandbox Target = "pod-sandbox"
	// TargetContrast sets runtimeClassName contrast-cc (Edgeless Contrast).
	TargetContrast Target = "contrast"
	// TargetCustom sets the configured runtimeClassName.
	TargetCustom Target = "custom"
)

// Missing says what to do with a container that has neither a limit nor a
// request for cpu or memory.
//
// Allowed values: warn (default), error, default (use Resources.Default*).
type Missing string

// Missing policies.
const (
	MissingWarn    Missing = "warn"
	MissingError   Missing = "error"
	MissingDefault Missing = "default"
)

// Options configure a Pipeline. The YAML names are the config file's spec.
type Options struct {
	// Target is where the pods will run.
	Target Target `yaml:"target,omitempty" json:"target,omitempty"`
	// RuntimeClassName overrides the target's runtime class (required for
	// target custom; kata-mshv-vm-isolation is accepted for pod-sandbox).
	RuntimeClassName string `yaml:"runtimeClassName,omitempty" json:"runtimeClassName,omitempty"`
	// Overwrite replaces an existing runtimeClassName or virtual-node
	// annotation that differs from the configured one. By default existing
	// values are kept and a warning says so.
	Overwrite bool `yaml:"overwrite,omitempty" json:"overwrite,omitempty"`
	// Select limits which workloads are changed. Empty selects all.
	Select Selector `yaml:"select,omitempty" json:"select,omitempty"`
	// WorkloadPaths adds pod-creating kinds (CRDs) to the built-in ones.
	WorkloadPaths []WorkloadPath `yaml:"workloadPaths,omitempty" json:"workloadPaths,omitempty"`
	// Resources configures requests = limits.
	Resources ResourceOptions `yaml:"resources,omitempty" json:"resources,omitempty"`
	// VirtualNode configures virtual-node pod annotations.
	VirtualNode VirtualNodeOptions `yaml:"virtualNode,omitempty" json:"virtualNode,omitempty"`
	// Images configures digest pinning.
	Images ImageOptions `yaml:"images,omitempty" json:"images,omitempty"`
	// Policy configures the CCE policy of target virtual-node.
	Policy PolicyOptions `yaml:"policy,omitempty" json:"policy,omitempty"`
	// Namespace is the namespace the stream is installed into, for objects
	// that name none (helm template writes none): ConfigMap and Secret
	// lookups and fieldRef metadata.namespace in CCE policies use it.
	Namespace string `yaml:"namespace,omitempty" json:"namespace,omitempty"`
}

// PolicyOptions configure the Confidential ACI security (CCE) policy that
// target virtual-node attaches to every pod. The defaults give what
// `az confcom acipolicygen --virtual-node-yaml --disable-stdio` gives with
// confcom 2.x.
type PolicyOptions struct {
	// Attach computes and attaches the policy. By default on for target
	// virtual-node; off runs the pods on standard (not confidential) ACI.
	Attach *bool `yaml:"attach,omitempty" json:"attach,omitempty"`
	// Format is "2.x" (default: confcom 2.2+, api 0.11.0), "1.2" (confcom
	// 1.2.3 to 1.2.7, api 0.10.0) or "1.x" (confcom 1.x, api 0.10.0, pause
	// container without a name), for key-release policies made with 1.x.
	Format string `yaml:"format,omitempty" json:"format,omitempty"`
	// AllowStdio lets the containers' stdout/stderr reach the host (kubectl
	// logs). Off by default: logs can leak secrets out of the enclave.
	AllowStdio bool `yaml:"allowStdio,omitempty" json:"allowStdio,omitempty"`
	// Debug makes a debug policy: exec of /bin/sh and /bin/bash, stack
	// dumps and runtime logging. Never for production.
	Debug bool `yaml:"debug,omitempty" json:"debug,omitempty"`
	// OmitID leaves each container's image reference out of the policy.
	OmitID bool `yaml:"omitID,omitempty" json:"omitID,omitempty"`
	// ExcludeDefaultFragments leaves out the platform's default fragments.
	ExcludeDefaultFragments bool `yaml:"excludeDefaultFragments,omitempty" json:"excludeDefaultFragments,omitempty"`
	// InfrastructureSVN overrides the infrastructure fragment's minimum SVN.
	InfrastructureSVN string `yaml:"infrastructureSVN,omitempty" json:"infrastructureSVN,omitempty"`
	// Fragments are extra policy fragments to import.
	Fragments []Fragment `yaml:"fragments,omitempty" json:"fragments,omitempty"`
	// ImageFragments are the issuers whose image-attached fragments are
	// trusted: for each pinned image, cocofy looks for signed fragments
	// attached to its platform manifest (OCI referrers), verifies them as
	// the guest does, and uses one from a listed issuer (and feed, when
	// given) with an svn of at least minimumSVN: a container the fragment
	// covers is left out of the policy, which imports the fragment
	// instead, and the image's layer root hashes come from the fragment.
	// Either way the image's layers are not downloaded. By default none:
	// attached fragments are not looked up.
	ImageFragments []ImageFragment `yaml:"imageFragments,omitempty" json:"imageFragments,omitempty"`
	// WildcardMissingRefs lets an env value from a ConfigMap or Secret that
	// is not in the input match anything (NAME=.*), as confcom's -y does.
	// By default such a reference is an error.
	WildcardMissingRefs bool `yaml:"wildcardMissingRefs,omitempty" json:"wildcardMissingRefs,omitempty"`
	// SecretValues is what an env value from a Secret, which the policy
	// must pin in clear, does: "warn" (default: it is written, with a
	// warning) or "refuse" (an error naming the variable).
	SecretValues string `yaml:"secretValues,omitempty" json:"secretValues,omitempty"`
	// Compat is "guest" (default) or "confcom". guest writes confcom's
	// policy wherever the guest would start the pod with it, and corrects
	// only the fields where the guest would deny a container or drop its
	// variables (each an info result); confcom writes confcom's policy
	// exactly, even where the guest would refuse it.
	Compat string `yaml:"compat,omitempty" json:"compat,omitempty"`
	// Check is what a policy the enforcer replay refuses does: "error"
	// (default: nothing is written), "warn" (written, with a warning per
	// refused container) or "off" (not replayed; a warning says so).
	Check string `yaml:"check,omitempty" json:"check,omitempty"`
}

// Policy compatibility modes (see PolicyOptions.Compat).
const (
	CompatGuest   = "guest"
	CompatConfcom = "confcom"
)

// Policy check modes (see PolicyOptions.Check).
const (
	CheckError = "error"
	CheckWarn  = "warn"
	CheckOff   = "off"
)

// Fragment is a policy fragment reference.
type Fragment struct {
	Issuer     string   `yaml:"issuer" json:"issuer"`
	Feed       string   `yaml:"feed" json:"feed"`
	MinimumSVN string   `yaml:"minimumSVN" json:"minimumSVN"`
	Includes   []string `yaml:"includes" json:"includes"`
}

// ImageFragment is an issuer whose image-attached fragments are trusted
// (see PolicyOptions.ImageFragments).
type ImageFragment struct {
	// Issuer is the fragment's did:x509 issuer, as fragment import prints it.
	Issuer string `yaml:"issuer" json:"issuer"`
	// Feed, when set, is the only feed accepted; by default any.
	Feed string `yaml:"feed,omitempty" json:"feed,omitempty"`
	// MinimumSVN (digits) is the lowest svn accepted, and the import's
	// minimum_svn.
	MinimumSVN string `yaml:"minimumSVN" json:"minimumSVN"`
}

// What policy.secretValues may say.
const (
	SecretValuesWarn   = "warn"
	SecretValuesRefuse = "refuse"
)

// AttachPolicy reports whether CCE policies are computed and attached.
func (o Options) AttachPolicy() bool {
	return o.Target == TargetVirtualNode && (o.Policy.Attach == nil || *o.Policy.Attach)
}

// Selector picks workloads. Every non-empty field must match.
type Selector struct {
	Kinds      []string `yaml:"kinds,omitempty" json:"kinds,omitempty"`
	Names      []string `yaml:"names,omitempty" json:"names,omitempty"`
	Namespaces []string `yaml:"namespaces,omitempty" json:"namespaces,omitempty"`
	// LabelSelector is a Kubernetes label selector on the workload's own
	// labels, e.g. "app=web,tier!=cache".
	LabelSelector string `yaml:"labelSelector,omitempty" json:"labelSelector,omitempty"`
}

// ResourceOptions configure requests = limits.
type ResourceOptions struct {
	// Equalize makes each container's cpu and memory requests equal its
	// limits. By default it is on for pod-sandbox, contrast and custom, and
	// off for virtual-node (ACI bills requests).
	Equalize *bool `yaml:"equalize,omitempty" json:"equalize,omitempty"`
	// Missing says what to do when a container has neither limit nor request
	// for cpu or memory. By default, warn.
	Missing Missing `yaml:"missing,omitempty" json:"missing,omitempty"`
	// DefaultCPU and DefaultMemory are used with missing: default.
	DefaultCPU    string `yaml:"defaultCPU,omitempty" json:"defaultCPU,omitempty"`
	DefaultMemory string `yaml:"defaultMemory,omitempty" json:"defaultMemory,omitempty"`
	// PodOverheadMemory is the RuntimeClass overhead.podFixed.memory used to
	// report Contrast VM sizes. By default 682Mi (Contrast: 512Mi guest + 170Mi).
	PodOverheadMemory string `yaml:"podOverheadMemory,omitempty" json:"podOverheadMemory,omitempty"`
}

// VirtualNodeOptions are written as pod-template annotations for target
// virtual-node. Unset fields write nothing.
type VirtualNodeOptions struct {
	InjectDNS       *bool `yaml:"injectDNS,omitempty" json:"injectDNS,omitempty"`
	InjectKubeProxy *bool `yaml:"injectKubeProxy,omitempty" json:"injectKubeProxy,omitempty"`
	// Zone is exactly one Azure availability zone, e.g. "1".
	Zone string `yaml:"zone,omitempty" json:"zone,omitempty"`
	// Subnet is the Azure resource ID of a subnet.
	Subnet string `yaml:"subnet,omitempty" json:"subnet,omitempty"`
	// Identity is the Azure resource ID of a user-assigned managed identity.
	Identity      string `yaml:"identity,omitempty" json:"identity,omitempty"`
	ImageCachePod *bool  `yaml:"imageCachePod,omitempty" json:"imageCachePod,omitempty"`
}

// ImageOptions configure digest pinning.
type ImageOptions struct {
	// Pin rewrites every image to a digest. By default on.
	Pin *bool `yaml:"pin,omitempty" json:"pin,omitempty"`
	// DropTag writes repo@sha256:… instead of the default repo:tag@sha256:….
	DropTag bool `yaml:"dropTag,omitempty" json:"dropTag,omitempty"`
	// Platform whose manifest the policy uses. By default linux/amd64.
	Platform string `yaml:"platform,omitempty" json:"platform,omitempty"`

	// The fields below configure where image facts come from. The
	// adapters use them to build Deps; the stages do not read them.

	// LockFile is a reviewed image lock file (kind ImageLock). A relative
	// path is relative to the config file's folder, or to the working
	// folder when the config came from a ResourceList.
	LockFile string `yaml:"lockFile,omitempty" json:"lockFile,omitempty"`
	// LockMode is auto (default: use locked entries, resolve the rest),
	// use (never touch the network; a missing entry is an error) or update
	// (resolve everything and rewrite the lock file).
	LockMode string `yaml:"lockMode,omitempty" json:"lockMode,omitempty"`
	// InsecureRegistries may be reached over plain HTTP. Loopback hosts
	// always may.
	InsecureRegistries []string `yaml:"insecureRegistries,omitempty" json:"insecureRegistries,omitempty"`
}

// RuntimeClass returns the runtime class the options ask for, or "" for
// virtual-node.
func (o Options) RuntimeClass() string {
	if o.RuntimeClassName != "" {
		return o.RuntimeClassName
	}
	switch o.Target {
	case TargetPodSandbox:
		return RuntimeClassPodSandbox
	case TargetContrast:
		return RuntimeClassContrast
	}
	return ""
}

// EqualizeResources reports whether requests are made equal to limits.
func (o Options) EqualizeResources() bool {
	if o.Resources.Equalize != nil {
		return *o.Resources.Equalize
	}
	return o.Target != TargetVirtualNode
}

// PinImages reports whether images are pinned to digests.
func (o Options) PinImages() bool { return o.Images.Pin == nil || *o.Images.Pin }
