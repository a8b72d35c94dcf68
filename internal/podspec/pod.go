// Package podspec is a workload's pod, parsed once, and the ConfigMaps and
// Secrets of its stream: what every stage of the CCE policy work reads.
//
// confcom's reading of the pod (internal/ccpolicy) walks the YAML node with
// PyYAML's rules, so it keeps the node; the guest model (internal/guest)
// reads the typed view. Both find ConfigMaps and Secrets through [Objects].
package podspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Pod is one workload's pod template.
type Pod struct {
	// Kind, Namespace and Name are the workload's. Namespace is the
	// workload's, else the configured default namespace, else "".
	Kind, Namespace, Name string
	// Template is the pod template (metadata and spec); for a Pod, the Pod.
	Template *yaml.RNode
	// ClaimTemplates is a StatefulSet's spec.volumeClaimTemplates, or nil.
	ClaimTemplates *yaml.RNode
	// typed is the template decoded into [Template], or why it could not be.
	typed    *Template
	typedErr error
}

// New returns the pod of a workload, with its typed view decoded once.
func New(kind, namespace, name string, template, claimTemplates *yaml.RNode) Pod {
	p := Pod{Kind: kind, Namespace: namespace, Name: name, Template: template, ClaimTemplates: claimTemplates}
	p.typed, p.typedErr = decode(template)
	return p
}

func decode(template *yaml.RNode) (*Template, error) {
	if template == nil || template.YNode() == nil {
		return nil, fmt.Errorf("reading pod template: no template")
	}
	raw, err := toJSON(template)
	if err != nil {
		return nil, fmt.Errorf("reading pod template: %w", err)
	}
	var t Template
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("reading pod template: %w", plainJSONError(err))
	}
	return &t, nil
}

// plainJSONError says a JSON type error in YAML's words, without the Go
// types encoding/json names ("cannot unmarshal string into Go struct field
// Container.spec.containers.volumeMounts of type []podspec.VolumeMount").
func plainJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err
	}
	got := map[string]string{"object": "a map", "array": "a list", "string": "a string", "number": "a number", "bool": "true or false"}[te.Value]
	if got == "" {
		got = te.Value
	}
	want := "a string"
	switch te.Type.Kind() {
	case reflect.Slice, reflect.Array:
		want = "a list"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		want = "a map"
	case reflect.Bool:
		want = "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "an integer"
	case reflect.Float32, reflect.Float64:
		want = "a number"
	}
	if te.Field == "" {
		return fmt.Errorf("want %s, got %s", want, got)
	}
	return fmt.Errorf("%s: want %s, got %s", te.Field, want, got)
}

// Typed returns the typed view of the template, or why it cannot be read.
func (p Pod) Typed() (*Template, error) { return p.typed, p.typedErr }

// Ref names the workload in messages: "Deployment default/web".
func (p Pod) Ref() string {
	kind := p.Kind
	if kind == "" {
		kind = "workload"
	}
	if p.Namespace == "" {
		return kind + " " + p.Name
	}
	return kind + " " + p.Namespace + "/" + p.Name
}

// SpecPath is the path of the pod spec inside the workload, for messages.
func (p Pod) SpecPath() string {
	switch p.Kind {
	case "Pod":
		return "spec"
	case "CronJob":
		return "spec.jobTemplate.spec.template.spec"
	}
	return "spec.template.spec"
}

// toJSON is template.MarshalJSON without its detour through YAML text:
// kyaml encodes the node to YAML and parses the text again, and decoding
// the node itself gives the same values (yaml.v3 writes each scalar so that
// it reads back with its tag). Keys that are not strings (1: a, true: b)
// become strings, as Kubernetes' YAML reader makes them (kyaml fails on
// them).
func toJSON(template *yaml.RNode) ([]byte, error) {
	n := template.YNode()
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	v, err := stringKeys(v)
	if err != nil {
		return nil, err
	}
	if v == nil && n.Kind == yaml.MappingNode {
		v = map[string]any{}
	}
	return json.Marshal(v)
}

// stringKeys makes the keys of v's maps strings, as sigs.k8s.io/yaml
// (Kubernetes' YAML reader) does: 1 is "1", true is "true". A null key or
// a key that is a list or a map is an error there and here.
func stringKeys(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			c, err := stringKeys(e)
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			key, err := keyText(k)
			if err != nil {
				return nil, err
			}
			c, err := stringKeys(e)
			if err != nil {
				return nil, err
			}
			out[key] = c
		}
		return out, nil
	case []any:
		for i, e := range t {
			c, err := stringKeys(e)
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
	}
	return v, nil
}

// keyText is a scalar key as a string, as sigs.k8s.io/yaml writes it.
func keyText(k any) (string, error) {
	switch t := k.(type) {
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case int:
		return strconv.Itoa(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case uint64:
		return strconv.FormatUint(t, 10), nil
	case float64:
		s := strconv.FormatFloat(t, 'g', -1, 32)
		if yamlText, ok := map[string]string{"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}[s]; ok {
			return yamlText, nil
		}
		return s, nil
	}
	return "", fmt.Errorf("a key that is null, a list or a map: Kubernetes' YAML reader refuses it")
}
