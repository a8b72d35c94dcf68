package podspec

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Template is the typed view of a pod template: the subset of the
// Kubernetes pod template that the guest model reads, decoded from the
// template's JSON. Its own types (not k8s.io/api's) also accept confcom's
// base64 seccompProfile string.
type Template struct {
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec Spec `json:"spec"`
}

type Spec struct {
	Containers                   []Container         `json:"containers"`
	InitContainers               []Container         `json:"initContainers"`
	Volumes                      []Volume            `json:"volumes"`
	SecurityContext              *PodSecurityContext `json:"securityContext"`
	Hostname                     string              `json:"hostname"`
	ServiceAccountName           string              `json:"serviceAccountName"`
	AutomountServiceAccountToken *bool               `json:"automountServiceAccountToken"`
}

type Container struct {
	Name                   string           `json:"name"`
	Image                  string           `json:"image"`
	Command                []string         `json:"command"`
	Args                   []string         `json:"args"`
	WorkingDir             string           `json:"workingDir"`
	Env                    []EnvVar         `json:"env"`
	EnvFrom                []EnvFromSource  `json:"envFrom"`
	VolumeMounts           []VolumeMount    `json:"volumeMounts"`
	SecurityContext        *SecurityContext `json:"securityContext"`
	TerminationMessagePath string           `json:"terminationMessagePath"`
	LivenessProbe          *Handler         `json:"livenessProbe"`
	ReadinessProbe         *Handler         `json:"readinessProbe"`
	StartupProbe           *Handler         `json:"startupProbe"`
	Lifecycle              *struct {
		PostStart *Handler `json:"postStart"`
		PreStop   *Handler `json:"preStop"`
	} `json:"lifecycle"`
	Resources struct {
		Limits   map[string]resource.Quantity `json:"limits"`
		Requests map[string]resource.Quantity `json:"requests"`
	} `json:"resources"`
}

type EnvVar struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	ValueFrom *struct {
		FieldRef *struct {
			FieldPath string `json:"fieldPath"`
		} `json:"fieldRef"`
		ResourceFieldRef *ResourceFieldSelector `json:"resourceFieldRef"`
		ConfigMapKeyRef  *KeySelector           `json:"configMapKeyRef"`
		SecretKeyRef     *KeySelector           `json:"secretKeyRef"`
	} `json:"valueFrom"`
}

type ResourceFieldSelector struct {
	ContainerName string             `json:"containerName"`
	Resource      string             `json:"resource"`
	Divisor       *resource.Quantity `json:"divisor"`
}

type KeySelector struct {
	Name     string `json:"name"`
	Key      string `json:"key"`
	Optional *bool  `json:"optional"`
}

type ObjectRef struct {
	Name     string `json:"name"`
	Optional *bool  `json:"optional"`
}

type EnvFromSource struct {
	Prefix       string     `json:"prefix"`
	ConfigMapRef *ObjectRef `json:"configMapRef"`
	SecretRef    *ObjectRef `json:"secretRef"`
}

// Optional reports whether a missing source may be ignored.
func (s EnvFromSource) Optional() bool {
	for _, r := range []*ObjectRef{s.ConfigMapRef, s.SecretRef} {
		if r != nil && r.Optional != nil && *r.Optional {
			return true
		}
	}
	return false
}

type VolumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly"`
	SubPath   string `json:"subPath"`
}

// Volume is a volume's name and its source, keyed by kind
// ("configMap", "persistentVolumeClaim", ...).
type Volume struct {
	Name    string
	Sources map[string]json.RawMessage
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *Volume) UnmarshalJSON(b []byte) error {
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

type SecurityContext struct {
	Privileged               *bool              `json:"privileged"`
	AllowPrivilegeEscalation *bool              `json:"allowPrivilegeEscalation"`
	Capabilities             *CapabilityChanges `json:"capabilities"`
	RunAsUser                *int64             `json:"runAsUser"`
	RunAsGroup               *int64             `json:"runAsGroup"`
	// SeccompProfile is Kubernetes' {type, localhostProfile} object, or
	// confcom's base64-encoded OCI profile string.
	SeccompProfile json.RawMessage `json:"seccompProfile"`
}

type CapabilityChanges struct {
	Add  []string `json:"add"`
	Drop []string `json:"drop"`
}

type PodSecurityContext struct {
	RunAsUser          *int64          `json:"runAsUser"`
	RunAsGroup         *int64          `json:"runAsGroup"`
	SupplementalGroups []int64         `json:"supplementalGroups"`
	FSGroup            *int64          `json:"fsGroup"`
	SeccompProfile     json.RawMessage `json:"seccompProfile"`
}

// Handler is a probe or a lifecycle hook; only its exec command matters to
// the guest.
type Handler struct {
	Exec *struct {
		Command []string `json:"command"`
	} `json:"exec"`
}
