package podspec

import (
	"encoding/base64"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Objects holds the v1 ConfigMaps and Secrets of a stream, the one place
// env, envFrom and the Secret-in-policy warnings look them up. The zero
// value holds none.
//
// An object is found by name within the workload's namespace: an object
// and a workload match when their namespaces are equal or either has none
// (a Helm stream usually sets none). Of several matches the last wins, as
// in confcom, which looks objects up by name only; in a single-namespace
// stream the result is the same as confcom's.
type Objects struct {
	configMaps, secrets []object
}

type object struct {
	namespace, name string
	node            *yaml.Node
}

// ObjectsFrom collects the v1 ConfigMaps and Secrets among nodes.
func ObjectsFrom(nodes []*yaml.RNode) Objects {
	var o Objects
	o.Add(nodes...)
	return o
}

// Add collects the v1 ConfigMaps and Secrets among nodes, after those
// already held (a later object of the same name wins), and reports whether
// any was one.
func (o *Objects) Add(nodes ...*yaml.RNode) bool {
	added := false
	for _, n := range nodes {
		if n == nil || n.YNode() == nil || n.GetApiVersion() != "v1" {
			continue
		}
		obj := object{namespace: n.GetNamespace(), name: n.GetName(), node: n.YNode()}
		switch n.GetKind() {
		case "ConfigMap":
			o.configMaps, added = append(o.configMaps, obj), true
		case "Secret":
			o.secrets, added = append(o.secrets, obj), true
		}
	}
	return added
}

// ConfigMap returns the ConfigMap name seen from namespace ns, or nil.
func (o Objects) ConfigMap(ns, name string) *yaml.Node { return find(o.configMaps, ns, name) }

// Secret returns the Secret name seen from namespace ns, or nil.
func (o Objects) Secret(ns, name string) *yaml.Node { return find(o.secrets, ns, name) }

func find(list []object, ns, name string) *yaml.Node {
	var found *yaml.Node
	for _, obj := range list {
		if obj.name == name && (obj.namespace == ns || obj.namespace == "" || ns == "") {
			found = obj.node
		}
	}
	return found
}

// ConfigMapData is what the kubelet reads from a ConfigMap: data, and the
// UTF-8 text of binaryData. ok is false when there is no such ConfigMap.
func (o Objects) ConfigMapData(ns, name string) (data map[string]string, ok bool) {
	n := o.ConfigMap(ns, name)
	if n == nil {
		return nil, false
	}
	r := yaml.NewRNode(n)
	out := map[string]string{}
	for k, v := range r.GetBinaryDataMap() {
		if b, err := base64.StdEncoding.DecodeString(v); err == nil {
			out[k] = string(b)
		}
	}
	for k, v := range r.GetDataMap() {
		out[k] = v
	}
	return out, true
}

// SecretData is what the kubelet reads from a Secret: the decoded data, with
// stringData winning as the API server makes it. ok is false when there is
// no such Secret.
func (o Objects) SecretData(ns, name string) (data map[string]string, ok bool) {
	n := o.Secret(ns, name)
	if n == nil {
		return nil, false
	}
	return secretData(n), true
}

func secretData(n *yaml.Node) map[string]string {
	r := yaml.NewRNode(n)
	out := map[string]string{}
	for k, v := range r.GetDataMap() {
		if b, err := base64.StdEncoding.DecodeString(v); err == nil {
			out[k] = string(b)
		}
	}
	if sd, err := r.Pipe(yaml.Lookup("stringData")); err == nil && sd != nil {
		_ = sd.VisitFields(func(f *yaml.MapNode) error {
			out[yaml.GetValue(f.Key)] = yaml.GetValue(f.Value)
			return nil
		})
	}
	return out
}

// SecretValues returns every non-empty value of every Secret, in no
// particular order: what `cocofy policy` redacts.
func (o Objects) SecretValues() []string {
	var out []string
	for _, obj := range o.secrets {
		for _, v := range secretData(obj.node) {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}
