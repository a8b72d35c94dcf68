package verify

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/api/resource"
)

// The subset of the Kubernetes pod template that [FromPod] reads, decoded
// from the template's JSON. k8s.io/api is not a dependency for this.

type podTemplate struct {
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec podSpec `json:"spec"`
}

type podSpec struct {
	Containers                   []podContainer      `json:"containers"`
	InitContainers               []podContainer      `json:"initContainers"`
	Volumes                      []podVolume         `json:"volumes"`
	SecurityContext              *podSecurityContext `json:"securityContext"`
	Hostname                     string              `json:"hostname"`
	ServiceAccountName           string              `json:"serviceAccountName"`
	AutomountServiceAccountToken *bool               `json:"automountServiceAccountToken"`
}

type podContainer struct {
	Name                   string           `json:"name"`
	Image                  string           `json:"image"`
	Command                []string         `json:"command"`
	Args                   []string         `json:"args"`
	WorkingDir             string           `json:"workingDir"`
	Env                    []podEnvVar      `json:"env"`
	EnvFrom                []envFromSource  `json:"envFrom"`
	VolumeMounts           []volumeMount    `json:"volumeMounts"`
	SecurityContext        *securityContext `json:"securityContext"`
	TerminationMessagePath string           `json:"terminationMessagePath"`
	Resources              struct {
		Limits   map[string]resource.Quantity `json:"limits"`
		Requests map[string]resource.Quantity `json:"requests"`
	} `json:"resources"`
}

type podEnvVar struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	ValueFrom *struct {
		FieldRef *struct {
			FieldPath string `json:"fieldPath"`
		} `json:"fieldRef"`
		ResourceFieldRef *resourceFieldSelector `json:"resourceFieldRef"`
		ConfigMapKeyRef  *keySelector           `json:"configMapKeyRef"`
		SecretKeyRef     *keySelector           `json:"secretKeyRef"`
	} `json:"valueFrom"`
}

type resourceFieldSelector struct {
	ContainerName string             `json:"containerName"`
	Resource      string             `json:"resource"`
	Divisor       *resource.Quantity `json:"divisor"`
}

type keySelector struct {
	Name     string `json:"name"`
	Key      string `json:"key"`
	Optional *bool  `json:"optional"`
}

type objectRef struct {
	Name     string `json:"name"`
	Optional *bool  `json:"optional"`
}

type envFromSource struct {
	Prefix       string     `json:"prefix"`
	ConfigMapRef *objectRef `json:"configMapRef"`
	SecretRef    *objectRef `json:"secretRef"`
}

func (s envFromSource) optional() bool {
	for _, r := range []*objectRef{s.ConfigMapRef, s.SecretRef} {
		if r != nil && r.Optional != nil && *r.Optional {
			return true
		}
	}
	return false
}

type volumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly"`
	SubPath   string `json:"subPath"`
}

// podVolume is a volume's name and its source, keyed by kind
// ("configMap", "persistentVolumeClaim", ...).
type podVolume struct {
	Name    string
	Sources map[string]json.RawMessage
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *podVolume) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	if err := json.Unmarshal(fields["name"], &v.Name); err != nil {
		return err
	}
	delete(fields, "name")
	v.Sources = fields
	return nil
}

type securityContext struct {
	Privileged               *bool              `json:"privileged"`
	AllowPrivilegeEscalation *bool              `json:"allowPrivilegeEscalation"`
	Capabilities             *capabilityChanges `json:"capabilities"`
	RunAsUser                *int64             `json:"runAsUser"`
	RunAsGroup               *int64             `json:"runAsGroup"`
	// SeccompProfile is Kubernetes' {type, localhostProfile} object, or
	// confcom's base64-encoded OCI profile string.
	SeccompProfile json.RawMessage `json:"seccompProfile"`
}

type capabilityChanges struct {
	Add  []string `json:"add"`
	Drop []string `json:"drop"`
}

type podSecurityContext struct {
	RunAsUser          *int64          `json:"runAsUser"`
	RunAsGroup         *int64          `json:"runAsGroup"`
	SupplementalGroups []int64         `json:"supplementalGroups"`
	FSGroup            *int64          `json:"fsGroup"`
	SeccompProfile     json.RawMessage `json:"seccompProfile"`
}
