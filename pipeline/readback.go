package pipeline

import (
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// claim is a value a stage reported writing: field is the path from the
// workload's resource, as results name it.
type claim struct {
	field, value string
}

// claim records that a stage wrote value at field (see readBack).
func (w *Workload) claim(field, value string) {
	w.claims = append(w.claims, claim{field, value})
}

// readBack reads each value the stages reported writing back from the
// workload's object, from its root, as the output will hold it: a write
// that did not land (into a copy, or under a null left in place) is an
// error, never a result that says it was done.
func readBack(w *Workload, rep *Report) {
	for _, c := range w.claims {
		got, ok := lookupField(w.Resource.YNode(), c.field)
		switch {
		case !ok:
			rep.Error(w, c.field, "cocofy reported writing %q here, but the object it writes has no such field: nothing was written (a defect of cocofy; please report it with the input)", short(c.value))
		case got != c.value:
			rep.Error(w, c.field, "cocofy reported writing %q here, but the object it writes has %q: nothing was written (a defect of cocofy; please report it with the input)", short(c.value), short(got))
		}
	}
	w.claims = nil
}

// short cuts long values (policies) for messages.
func short(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// lookupField finds the scalar at a dotted field path such as
// spec.template.metadata.annotations.a.b/c or containers[name=x].image
// under n. Keys may contain dots: at each map the longest key that the
// path continues with is taken.
func lookupField(n *yaml.Node, path string) (string, bool) {
	for path != "" {
		switch {
		case n.Kind == yaml.MappingNode:
			v, rest, ok := mapStep(n, path)
			if !ok {
				return "", false
			}
			n, path = v, rest
		case n.Kind == yaml.SequenceNode && strings.HasPrefix(path, "["):
			v, rest, ok := seqStep(n, path)
			if !ok {
				return "", false
			}
			n, path = v, rest
		default:
			return "", false
		}
		path = strings.TrimPrefix(path, ".")
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == yaml.NodeTagNull {
		return "", false
	}
	return n.Value, true
}

// mapStep takes the longest key of map n that path starts with.
func mapStep(n *yaml.Node, path string) (*yaml.Node, string, bool) {
	var best *yaml.Node
	bestLen := -1
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if len(k) <= bestLen || !strings.HasPrefix(path, k) {
			continue
		}
		if rest := path[len(k):]; rest == "" || rest[0] == '.' || rest[0] == '[' {
			best, bestLen = n.Content[i+1], len(k)
		}
	}
	if best == nil {
		return nil, "", false
	}
	return best, path[bestLen:], true
}

// seqStep takes the entry [name=x] or [i] of sequence n.
func seqStep(n *yaml.Node, path string) (*yaml.Node, string, bool) {
	end := strings.IndexByte(path, ']')
	if end < 0 {
		return nil, "", false
	}
	sel, rest := path[1:end], path[end+1:]
	if name, ok := strings.CutPrefix(sel, "name="); ok {
		for _, e := range n.Content {
			if e.Kind == yaml.MappingNode && stringField(yaml.NewRNode(e), "name") == name {
				return e, rest, true
			}
		}
		return nil, "", false
	}
	i, err := strconv.Atoi(sel)
	if err != nil || i < 0 || i >= len(n.Content) {
		return nil, "", false
	}
	return n.Content[i], rest, true
}
