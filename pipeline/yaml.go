package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// setString returns a filter that sets a string field, keeping the field's
// position (and comments) when it already exists. A field holding a null is
// set like any other.
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

// lookupCreate returns the map or list (kind) at path below m, creating the
// fields that are missing, so that what is then set or added on it is
// written.
//
// A field whose value is null (a chart's `annotations:` with no value, `~`,
// `null`) is what Kubernetes reads as absent; kyaml's LookupCreate returns
// that null node, and whatever is set on it afterwards is silently lost. Here
// the null becomes an empty node of the right kind, in place: the key, its
// position and its comments stay. An empty flow collection ({} or []) becomes
// a block one, so that what is added reads like the rest of the document. A
// field holding anything else of the wrong kind is an error naming it.
func lookupCreate(m *yaml.RNode, kind yaml.Kind, path ...string) (*yaml.RNode, error) {
	cur := m.YNode()
	if cur.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("must be a map, got %s", kindName(cur))
	}
	for i, key := range path {
		want := yaml.MappingNode
		if i == len(path)-1 {
			want = kind
		}
		v := fieldNode(cur, key)
		switch {
		case v == nil:
			v = &yaml.Node{Kind: want}
			cur.Content = append(cur.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: key}, v)
		case isNull(v):
			*v = yaml.Node{Kind: want, HeadComment: v.HeadComment, LineComment: v.LineComment, FootComment: v.FootComment, Line: v.Line, Column: v.Column}
		case v.Kind != want:
			return nil, fmt.Errorf("%s: must be %s, got %s", strings.Join(path[:i+1], "."), kindWord(want), kindName(v))
		}
		if len(v.Content) == 0 {
			v.Style &^= yaml.FlowStyle
		}
		cur = v
	}
	return yaml.NewRNode(cur), nil
}

// fieldNode is the value of the field key of the map n (the last one of
// duplicate keys, as kyaml reads them), or nil.
func fieldNode(n *yaml.Node, key string) *yaml.Node {
	var v *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v = n.Content[i+1]
		}
	}
	return v
}

// isNull reports a node YAML reads as null: tagged !!null, or an untagged
// plain scalar "", "~", "null", "Null" or "NULL" (as a node made in code
// may be).
func isNull(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.ScalarNode {
		return false
	}
	if n.Tag == yaml.NodeTagNull {
		return true
	}
	if n.Tag != "" || n.Style != 0 {
		return false
	}
	switch n.Value {
	case "", "~", "null", "Null", "NULL":
		return true
	}
	return false
}

// valueAt is the node at path below m (field names only), or nil when a
// field on the way is missing or null: what Kubernetes reads as absent.
func valueAt(m *yaml.RNode, path ...string) *yaml.RNode {
	cur := m.YNode()
	for _, key := range path {
		if cur == nil || cur.Kind != yaml.MappingNode {
			return nil
		}
		cur = fieldNode(cur, key)
	}
	if cur == nil || isNull(cur) {
		return nil
	}
	return yaml.NewRNode(cur)
}

func kindWord(k yaml.Kind) string {
	if k == yaml.SequenceNode {
		return "a list"
	}
	return "a map"
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
