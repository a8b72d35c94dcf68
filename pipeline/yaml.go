package pipeline

import (
	"strconv"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// setString returns a filter that sets a string field, keeping the field's
// position (and comments) when it already exists.
func setString(key, value string) yaml.Filter {
	return yaml.FilterFunc(func(m *yaml.RNode) (*yaml.RNode, error) {
		if f := m.Field(key); f != nil && f.Value != nil && f.Value.YNode().Kind == yaml.ScalarNode {
			// Edit in place: comments and quoting style stay.
			n := f.Value.YNode()
			n.Value, n.Tag = value, yaml.NodeTagString
			if n.Style == yaml.TaggedStyle || yaml.IsYaml1_1NonString(n) {
				n.Style = yaml.DoubleQuotedStyle
			}
			return f.Value, nil
		}
		return yaml.SetField(key, yaml.NewStringRNode(value)).Filter(m)
	})
}

// stringField returns the scalar value of the field named key (which may
// contain dots, as annotation keys do), or "".
func stringField(m *yaml.RNode, key string) string {
	f := m.Field(key)
	if f == nil || f.Value == nil || f.Value.YNode().Kind != yaml.ScalarNode {
		return ""
	}
	return f.Value.YNode().Value
}

func itoa(i int) string { return strconv.Itoa(i) }
