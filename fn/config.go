package fn

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/pipeline"
)

// Config identity.
const (
	APIVersion = "cocofy.dev/v1alpha1"
	Kind       = "Cocofy"
)

// Config is cocofy's configuration: the kpt/kustomize functionConfig, the
// file given with --config, or the file named by COCOFY_CONFIG. All three are
// the same object.
type Config struct {
	APIVersion string   `yaml:"apiVersion" json:"apiVersion"`
	Kind       string   `yaml:"kind" json:"kind"`
	Metadata   Metadata `yaml:"metadata,omitempty" json:"metadata,omitempty"`
	// Spec is the pipeline's options; see pipeline.Options for each field.
	Spec pipeline.Options `yaml:"spec,omitempty" json:"spec,omitempty"`

	// dir is the folder relative paths in Spec are resolved against.
	dir string
}

// Metadata is the part of ObjectMeta a config may carry.
type Metadata struct {
	Name        string            `yaml:"name,omitempty" json:"name,omitempty"`
	Namespace   string            `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty" json:"annotations,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
}

// Default fills what the user left empty:
//   - spec.target: pod-sandbox
//   - spec.resources.missing: warn
//   - spec.images.platform: linux/amd64
//   - spec.images.lockMode: auto
func (c *Config) Default() error {
	if c.APIVersion == "" {
		c.APIVersion = APIVersion
	}
	if c.Kind == "" {
		c.Kind = Kind
	}
	s := &c.Spec
	if s.Target == "" {
		s.Target = pipeline.TargetPodSandbox
	}
	if s.Resources.Missing == "" {
		s.Resources.Missing = pipeline.MissingWarn
	}
	if s.Images.Platform == "" {
		s.Images.Platform = "linux/amd64"
	}
	if s.Images.LockMode == "" {
		s.Images.LockMode = "auto"
	}
	if s.Policy.Format == "" {
		s.Policy.Format = "2.x"
	}
	if s.Policy.Compat == "" {
		s.Policy.Compat = pipeline.CompatGuest
	}
	if s.Policy.Check == "" {
		s.Policy.Check = pipeline.CheckError
	}
	return nil
}

var (
	dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	subnetID     = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+$`)
	identityID   = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/[^/]+$`)
	zone         = regexp.MustCompile(`^[A-Za-z0-9-]+$`)
	svnPattern   = regexp.MustCompile(`^[0-9]+$`)
)

// Validate reports every problem at once, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.APIVersion != APIVersion {
		bad("apiVersion", "must be %q, got %q", APIVersion, c.APIVersion)
	}
	if c.Kind != Kind {
		bad("kind", "must be %q, got %q", Kind, c.Kind)
	}
	s := c.Spec
	switch s.Target {
	case pipeline.TargetVirtualNode:
		if s.RuntimeClassName != "" {
			bad("spec.runtimeClassName", "must be empty for target virtual-node, got %q", s.RuntimeClassName)
		}
	case pipeline.TargetPodSandbox:
		if rc := s.RuntimeClassName; rc != "" && rc != pipeline.RuntimeClassPodSandbox && rc != pipeline.RuntimeClassPodSandboxPreview {
			bad("spec.runtimeClassName", "must be %s or %s for target pod-sandbox, got %q (use target: custom for other classes)",
				pipeline.RuntimeClassPodSandbox, pipeline.RuntimeClassPodSandboxPreview, rc)
		}
	case pipeline.TargetContrast:
	case pipeline.TargetCustom:
		if s.RuntimeClassName == "" {
			bad("spec.runtimeClassName", "is required for target custom")
		}
	default:
		bad("spec.target", "must be one of virtual-node, pod-sandbox, contrast, custom; got %q", s.Target)
	}
	if rc := s.RuntimeClassName; rc != "" && !dns1123Label.MatchString(rc) {
		bad("spec.runtimeClassName", "must be a DNS-1123 label, got %q", rc)
	}
	switch s.Resources.Missing {
	case pipeline.MissingWarn, pipeline.MissingError:
	case pipeline.MissingDefault:
		if s.Resources.DefaultCPU == "" && s.Resources.DefaultMemory == "" {
			bad("spec.resources", "missing: default needs defaultCPU or defaultMemory")
		}
	default:
		bad("spec.resources.missing", "must be one of warn, error, default; got %q", s.Resources.Missing)
	}
	for _, fq := range [][2]string{
		{"spec.resources.defaultCPU", s.Resources.DefaultCPU},
		{"spec.resources.defaultMemory", s.Resources.DefaultMemory},
		{"spec.resources.podOverheadMemory", s.Resources.PodOverheadMemory},
	} {
		field, q := fq[0], fq[1]
		if q != "" {
			if err := validQuantity(q); err != nil {
				bad(field, "%v", err)
			}
		}
	}
	vn := s.VirtualNode
	if vn != (pipeline.VirtualNodeOptions{}) && s.Target != pipeline.TargetVirtualNode {
		bad("spec.virtualNode", "is only used with target virtual-node, got target %q", s.Target)
	}
	if vn.Zone != "" && !zone.MatchString(vn.Zone) {
		bad("spec.virtualNode.zone", "must be exactly one zone (ACI accepts one), got %q", vn.Zone)
	}
	if vn.Subnet != "" && !subnetID.MatchString(vn.Subnet) {
		bad("spec.virtualNode.subnet", "must be a subnet resource ID /subscriptions/…/resourceGroups/…/providers/Microsoft.Network/virtualNetworks/…/subnets/…, got %q", vn.Subnet)
	}
	if vn.Identity != "" && !identityID.MatchString(vn.Identity) {
		bad("spec.virtualNode.identity", "must be a user-assigned identity resource ID /subscriptions/…/resourceGroups/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/…, got %q", vn.Identity)
	}
	if s.Target != pipeline.TargetVirtualNode && !reflect.DeepEqual(s.Policy, pipeline.PolicyOptions{Format: s.Policy.Format, Compat: s.Policy.Compat, Check: s.Policy.Check}) {
		bad("spec.policy", "is only used with target virtual-node, got target %q", s.Target)
	}
	switch s.Policy.Format {
	case "2.x", "1.2", "1.x":
	default:
		bad("spec.policy.format", "must be 2.x, 1.2 or 1.x, got %q", s.Policy.Format)
	}
	switch s.Policy.Compat {
	case pipeline.CompatGuest, pipeline.CompatConfcom:
	default:
		bad("spec.policy.compat", "must be guest or confcom, got %q", s.Policy.Compat)
	}
	switch s.Policy.Check {
	case pipeline.CheckError, pipeline.CheckWarn, pipeline.CheckOff:
	default:
		bad("spec.policy.check", "must be one of error, warn, off; got %q", s.Policy.Check)
	}
	if svn := s.Policy.InfrastructureSVN; svn != "" && !svnPattern.MatchString(svn) {
		bad("spec.policy.infrastructureSVN", "must be a number, got %q", svn)
	}
	attach := s.Policy.Attach == nil || *s.Policy.Attach
	if kp := vn.InjectKubeProxy; kp != nil && *kp && s.Target == pipeline.TargetVirtualNode && attach && len(s.Policy.Fragments) == 0 {
		bad("spec.virtualNode.injectKubeProxy", "the kube-proxy sidecar it injects is not in the CCE policy unless its image-attached fragment is imported (confcom 2.3's opt-in), so the guest would refuse it: add that fragment (issuer, feed, minimumSVN) to spec.policy.fragments, or set spec.policy.attach: false")
	}
	for i, f := range s.Policy.Fragments {
		if f.Issuer == "" || f.Feed == "" || f.MinimumSVN == "" {
			bad(fmt.Sprintf("spec.policy.fragments[%d]", i), "needs issuer, feed and minimumSVN")
		}
	}
	switch s.Images.LockMode {
	case "auto", "update":
	case "use":
		if s.Images.LockFile == "" {
			bad("spec.images.lockMode", "use needs spec.images.lockFile")
		}
	default:
		bad("spec.images.lockMode", "must be one of auto, use, update; got %q", s.Images.LockMode)
	}
	if s.Images.LockMode == "update" && s.Images.LockFile == "" {
		bad("spec.images.lockMode", "update needs spec.images.lockFile")
	}
	if p := s.Images.Platform; len(strings.Split(p, "/")) < 2 {
		bad("spec.images.platform", "must be os/arch[/variant], got %q", p)
	}
	for i, wp := range s.WorkloadPaths {
		if wp.Kind == "" {
			bad(fmt.Sprintf("spec.workloadPaths[%d].kind", i), "is required")
		}
		if len(wp.Template) == 0 {
			bad(fmt.Sprintf("spec.workloadPaths[%d].template", i), "is required (the field path to the pod template, e.g. [spec, template])")
		}
	}
	if sel := s.Select.LabelSelector; sel != "" {
		probe := yaml.MustParse("kind: Probe\nmetadata: {name: probe}\n")
		if _, err := probe.MatchesLabelSelector(sel); err != nil {
			bad("spec.select.labelSelector", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// LockFile returns the lock file path resolved against the config's folder.
func (c *Config) LockFile() string {
	f := c.Spec.Images.LockFile
	if f == "" || filepath.IsAbs(f) || c.dir == "" {
		return f
	}
	return filepath.Join(c.dir, f)
}

// ParseConfig decodes a config object: a Cocofy object (unknown fields are
// errors), or a ConfigMap whose data keys are spec fields (kpt fn eval
// -- target=contrast). dir resolves relative paths. The result is defaulted
// and validated.
func ParseConfig(data []byte, dir string) (*Config, error) {
	var head struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	c := &Config{}
	switch {
	case head.Kind == "ConfigMap":
		if err := c.fromConfigMap(data); err != nil {
			return nil, err
		}
	case head.Kind == Kind || head.Kind == "":
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil {
			return nil, fmt.Errorf("reading config: %w (accepted kinds: %s %s, or a ConfigMap)", err, APIVersion, Kind)
		}
	default:
		return nil, fmt.Errorf("reading config: kind %q is not accepted; use apiVersion %s kind %s, or a ConfigMap", head.Kind, APIVersion, Kind)
	}
	c.dir = dir
	if err := c.Default(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config:\n%w", err)
	}
	return c, nil
}

// fromConfigMap maps flat data keys onto spec fields.
func (c *Config) fromConfigMap(data []byte) error {
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(data, &cm); err != nil {
		return fmt.Errorf("reading config ConfigMap: %w", err)
	}
	var errs []error
	s := &c.Spec
	for k, v := range cm.Data {
		switch k {
		case "target":
			s.Target = pipeline.Target(v)
		case "runtimeClassName":
			s.RuntimeClassName = v
		case "overwrite":
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("data.overwrite: must be true or false, got %q", v))
			}
			s.Overwrite = b
		case "lockFile":
			s.Images.LockFile = v
		case "lockMode":
			s.Images.LockMode = v
		case "missing":
			s.Resources.Missing = pipeline.Missing(v)
		default:
			errs = append(errs, fmt.Errorf("data.%s: unknown key (accepted: target, runtimeClassName, overwrite, lockFile, lockMode, missing)", k))
		}
	}
	return errors.Join(errs...)
}

// LoadConfigFile reads a config file; relative paths in it are relative to
// its folder.
func LoadConfigFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	c, err := ParseConfig(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// DefaultConfig is the config used when none is given.
func DefaultConfig() *Config {
	c := &Config{}
	_ = c.Default()
	return c
}

func validQuantity(q string) error {
	_, err := parseQuantity(q)
	return err
}
