package pipeline

import "sigs.k8s.io/kustomize/kyaml/yaml"

// setString returns a filter that sets a string field, keeping the field's
// position (and comments) when it already exists.
func setString(key, value string) yaml.Filter {
	return yaml.SetField(key, yaml.NewStringRNode(value))
}
