package pipeline

import (
	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// validate reports pod spec problems that Kubernetes would reject and that
// would otherwise give a wrong pin or policy: duplicate container names,
// invalid image references and env values that are not strings.
func (p *Pipeline) validate(w *Workload, rep *Report) {
	cs, err := w.AllContainers()
	if err != nil {
		rep.Error(w, "", "%v", err)
		return
	}
	seen := map[string]string{}
	for _, c := range cs {
		if c.Node.YNode().Kind != yaml.MappingNode {
			rep.Error(w, c.Path, "a container must be a map")
			continue
		}
		switch {
		case c.Name == "":
			rep.Error(w, c.Field("name"), "a container needs a name")
		case seen[c.Name] != "":
			rep.Error(w, c.Field("name"), "duplicate container name %q (also at %s)", c.Name, seen[c.Name])
		default:
			seen[c.Name] = c.Path
		}
		img := c.Node.Field("image")
		switch {
		case img == nil || img.Value.IsNil():
			rep.Error(w, c.Field("image"), "image is empty or missing")
		case img.Value.YNode().Kind != yaml.ScalarNode || img.Value.YNode().Tag != yaml.NodeTagString:
			rep.Error(w, c.Field("image"), "image must be a string")
		default:
			if _, err := name.ParseReference(img.Value.YNode().Value); err != nil {
				rep.Error(w, c.Field("image"), "invalid image reference: %v", err)
			}
		}
		p.validateEnv(w, c, rep)
	}
}

func (p *Pipeline) validateEnv(w *Workload, c Container, rep *Report) {
	env := valueAt(c.Node, "env") // `env:` with no value is an empty list
	if env == nil {
		return
	}
	if env.YNode().Kind != yaml.SequenceNode {
		rep.Error(w, c.Field("env"), "env must be a list")
		return
	}
	for i, e := range env.Content() {
		en := yaml.NewRNode(e)
		n := stringField(en, "name")
		sel := "[name=" + n + "]"
		if n == "" {
			rep.Error(w, c.Field("env", "["+itoa(i)+"]", "name"), "an env entry needs a name")
			continue
		}
		v := en.Field("value")
		if v == nil || v.Value.IsNil() || isNull(v.Value.YNode()) {
			continue // no value, or null: the empty string to Kubernetes
		}
		y := v.Value.YNode()
		switch {
		case y.Kind != yaml.ScalarNode || y.Tag != yaml.NodeTagString:
			rep.Error(w, c.Field("env"+sel, "value"), "must be a string, got %s %q (quote it)", shortTag(y.Tag), y.Value)
		case y.Style == 0 && yaml11Bools[y.Value]:
			rep.Error(w, c.Field("env"+sel, "value"), "must be a string: Kubernetes reads an unquoted %s as a boolean (quote it)", y.Value)
		}
	}
}

func shortTag(tag string) string {
	switch tag {
	case yaml.NodeTagInt:
		return "integer"
	case yaml.NodeTagBool:
		return "boolean"
	case yaml.NodeTagFloat:
		return "number"
	case yaml.NodeTagMap:
		return "map"
	case yaml.NodeTagSeq:
		return "list"
	}
	return tag
}

// yaml11Bools are the plain scalars YAML 1.1 (Kubernetes' decoder, PyYAML)
// reads as booleans and YAML 1.2 (kyaml) reads as strings.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"n": true, "N": true, "no": true, "No": true, "NO": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
}
