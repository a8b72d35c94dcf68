package pipeline

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Default fills what the config left empty: target pod-sandbox,
// resources.missing warn, images.platform linux/amd64, images.lockMode
// auto, policy.format 2.x, policy.compat guest, policy.check error.
func (o *Options) Default() {
	if o.Target == "" {
		o.Target = TargetPodSandbox
	}
	if o.Resources.Missing == "" {
		o.Resources.Missing = MissingWarn
	}
	for _, d := range []struct {
		field *string
		value string
	}{
		{&o.Images.Platform, "linux/amd64"},
		{&o.Images.LockMode, "auto"},
		{&o.Policy.Format, "2.x"},
		{&o.Policy.Compat, CompatGuest},
		{&o.Policy.Check, CheckError},
	} {
		if *d.field == "" {
			*d.field = d.value
		}
	}
}

var (
	dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	subnetID     = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+$`)
	identityID   = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/[^/]+$`)
	zoneName     = regexp.MustCompile(`^[A-Za-z0-9-]+$`)
	svnPattern   = regexp.MustCompile(`^[0-9]+$`)
)

// problems collects a validation's errors, each naming its field under
// spec.
type problems []error

func (ps *problems) bad(field, format string, args ...any) {
	*ps = append(*ps, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// Validate reports every problem of defaulted options at once, each
// naming its field (spec.target, spec.policy.format, ...), in the order of
// the config file.
func (o Options) Validate() error {
	var ps problems
	o.validateTarget(&ps)
	o.validateResources(&ps)
	o.validateVirtualNode(&ps)
	o.validatePolicy(&ps)
	o.validateImages(&ps)
	o.validateWorkloads(&ps)
	return errors.Join(ps...)
}

func (o Options) validateTarget(ps *problems) {
	rc := o.RuntimeClassName
	switch o.Target {
	case TargetVirtualNode:
		if rc != "" {
			ps.bad("spec.runtimeClassName", "must be empty for target virtual-node, got %q", rc)
		}
	case TargetPodSandbox:
		if rc != "" && rc != RuntimeClassPodSandbox && rc != RuntimeClassPodSandboxPreview {
			ps.bad("spec.runtimeClassName", "must be %s or %s for target pod-sandbox, got %q (use target: custom for other classes)",
				RuntimeClassPodSandbox, RuntimeClassPodSandboxPreview, rc)
		}
	case TargetContrast:
	case TargetCustom:
		if rc == "" {
			ps.bad("spec.runtimeClassName", "is required for target custom")
		}
	default:
		ps.bad("spec.target", "must be one of virtual-node, pod-sandbox, contrast, custom; got %q", o.Target)
	}
	if rc != "" && !dns1123Label.MatchString(rc) {
		ps.bad("spec.runtimeClassName", "must be a DNS-1123 label, got %q", rc)
	}
}

func (o Options) validateResources(ps *problems) {
	r := o.Resources
	switch r.Missing {
	case MissingWarn, MissingError:
	case MissingDefault:
		if r.DefaultCPU == "" && r.DefaultMemory == "" {
			ps.bad("spec.resources", "missing: default needs defaultCPU or defaultMemory")
		}
	default:
		ps.bad("spec.resources.missing", "must be one of warn, error, default; got %q", r.Missing)
	}
	for _, fq := range [][2]string{
		{"spec.resources.defaultCPU", r.DefaultCPU},
		{"spec.resources.defaultMemory", r.DefaultMemory},
		{"spec.resources.podOverheadMemory", r.PodOverheadMemory},
	} {
		if fq[1] == "" {
			continue
		}
		if _, err := resource.ParseQuantity(fq[1]); err != nil {
			ps.bad(fq[0], "invalid quantity %q: %v", fq[1], err)
		}
	}
}

func (o Options) validateVirtualNode(ps *problems) {
	vn := o.VirtualNode
	if vn != (VirtualNodeOptions{}) && o.Target != TargetVirtualNode {
		ps.bad("spec.virtualNode", "is only used with target virtual-node, got target %q", o.Target)
	}
	if vn.Zone != "" && !zoneName.MatchString(vn.Zone) {
		ps.bad("spec.virtualNode.zone", "must be exactly one zone (ACI accepts one), got %q", vn.Zone)
	}
	if vn.Subnet != "" && !subnetID.MatchString(vn.Subnet) {
		ps.bad("spec.virtualNode.subnet", "must be a subnet resource ID /subscriptions/…/resourceGroups/…/providers/Microsoft.Network/virtualNetworks/…/subnets/…, got %q", vn.Subnet)
	}
	if vn.Identity != "" && !identityID.MatchString(vn.Identity) {
		ps.bad("spec.virtualNode.identity", "must be a user-assigned identity resource ID /subscriptions/…/resourceGroups/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/…, got %q", vn.Identity)
	}
}

func (o Options) validatePolicy(ps *problems) {
	po := o.Policy
	if o.Target != TargetVirtualNode && !reflect.DeepEqual(po, PolicyOptions{Format: po.Format, Compat: po.Compat, Check: po.Check}) {
		ps.bad("spec.policy", "is only used with target virtual-node, got target %q", o.Target)
	}
	if !slices.Contains([]string{"2.x", "1.2", "1.x"}, po.Format) {
		ps.bad("spec.policy.format", "must be 2.x, 1.2 or 1.x, got %q", po.Format)
	}
	if po.Compat != CompatGuest && po.Compat != CompatConfcom {
		ps.bad("spec.policy.compat", "must be guest or confcom, got %q", po.Compat)
	}
	if !slices.Contains([]string{CheckError, CheckWarn, CheckOff}, po.Check) {
		ps.bad("spec.policy.check", "must be one of error, warn, off; got %q", po.Check)
	}
	if !slices.Contains([]string{"", SecretValuesWarn, SecretValuesRefuse}, po.SecretValues) {
		ps.bad("spec.policy.secretValues", "must be warn or refuse, got %q", po.SecretValues)
	}
	if svn := po.InfrastructureSVN; svn != "" && !svnPattern.MatchString(svn) {
		ps.bad("spec.policy.infrastructureSVN", "must be a number, got %q", svn)
	}
	if kp := o.VirtualNode.InjectKubeProxy; kp != nil && *kp && o.AttachPolicy() && len(po.Fragments) == 0 {
		ps.bad("spec.virtualNode.injectKubeProxy", "the kube-proxy sidecar it injects is not in the CCE policy unless its image-attached fragment is imported (confcom 2.3's opt-in), so the guest would refuse it: add that fragment (issuer, feed, minimumSVN) to spec.policy.fragments, or set spec.policy.attach: false")
	}
	for i, f := range po.Fragments {
		if f.Issuer == "" || f.Feed == "" || f.MinimumSVN == "" {
			ps.bad(fmt.Sprintf("spec.policy.fragments[%d]", i), "needs issuer, feed and minimumSVN")
		}
	}
	for i, f := range po.ImageFragments {
		field := fmt.Sprintf("spec.policy.imageFragments[%d]", i)
		if !strings.HasPrefix(f.Issuer, "did:x509:") {
			ps.bad(field+".issuer", "must be a did:x509 issuer (what cocofy fragment import prints), got %q", f.Issuer)
		}
		if !svnPattern.MatchString(f.MinimumSVN) {
			ps.bad(field+".minimumSVN", "must be a number, got %q", f.MinimumSVN)
		}
	}
}

func (o Options) validateImages(ps *problems) {
	im := o.Images
	switch im.LockMode {
	case "auto":
	case "use", "update":
		if im.LockFile == "" {
			ps.bad("spec.images.lockMode", "%s needs spec.images.lockFile", im.LockMode)
		}
	default:
		ps.bad("spec.images.lockMode", "must be one of auto, use, update; got %q", im.LockMode)
	}
	if len(strings.Split(im.Platform, "/")) < 2 {
		ps.bad("spec.images.platform", "must be os/arch[/variant], got %q", im.Platform)
	}
}

func (o Options) validateWorkloads(ps *problems) {
	for i, wp := range o.WorkloadPaths {
		if wp.Kind == "" {
			ps.bad(fmt.Sprintf("spec.workloadPaths[%d].kind", i), "is required")
		}
		if len(wp.Template) == 0 {
			ps.bad(fmt.Sprintf("spec.workloadPaths[%d].template", i), "is required (the field path to the pod template, e.g. [spec, template])")
		}
	}
	if sel := o.Select.LabelSelector; sel != "" {
		probe := yaml.MustParse("kind: Probe\nmetadata: {name: probe}\n")
		if _, err := probe.MatchesLabelSelector(sel); err != nil {
			ps.bad("spec.select.labelSelector", "%v", err)
		}
	}
}
