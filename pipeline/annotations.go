package pipeline

// Annotation, label and field values read by Azure components or by tools
// around cocofy. Keep them all here.
const (
	// AnnotationCCEPolicy carries the base64 Confidential ACI security policy.
	// Read by the virtual node (virtual-kubelet ACI provider) on the pod.
	AnnotationCCEPolicy = "microsoft.containerinstance.virtualnode.ccepolicy"
	// AnnotationCCEPolicySHA256 is cocofy's record of sha256(policy text), the
	// SEV-SNP HOST_DATA a key-release policy must name. Read by people and by
	// `cocofy verify`.
	AnnotationCCEPolicySHA256 = "cocofy.dev/ccepolicy-sha256"

	// Virtual node pod annotations (seed 000, "virtual node pod customizations").
	AnnotationInjectDNS       = "microsoft.containerinstance.virtualnode.injectdns"
	AnnotationInjectKubeProxy = "microsoft.containerinstance.virtualnode.injectkubeproxy"
	AnnotationZones           = "microsoft.containerinstance.virtualnode.zones"
	AnnotationSubnet          = "microsoft.containerinstance.virtualnode.subnets.primary"
	AnnotationIdentity        = "microsoft.containerinstance.virtualnode.identity"
	AnnotationImageCachePod   = "microsoft.containerinstance.virtualnode.imagecachepod"

	// Scheduling onto AKS virtual nodes (virtual node 2 on ACI).
	VirtualNodeSelectorKey   = "virtualization"
	VirtualNodeSelectorValue = "virtualnode2"
	VirtualNodeTolerationKey = "virtual-kubelet.io/provider"

	// Runtime classes.
	RuntimeClassPodSandbox        = "kata-vm-isolation"      // AKS Pod Sandboxing, GA name
	RuntimeClassPodSandboxPreview = "kata-mshv-vm-isolation" // AKS Pod Sandboxing, preview name
	RuntimeClassContrast          = "contrast-cc"            // Contrast placeholder, replaced by `contrast generate`

	// AnnotationLocalConfig marks kpt/kustomize local-config objects; never edited.
	AnnotationLocalConfig = "config.kubernetes.io/local-config"
)
