package podspec

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestToJSONIsMarshalJSON: decoding a node directly gives the JSON kyaml's
// MarshalJSON gives through YAML text, for every object (and every map and
// list in it) of the repository's test inputs and examples, with their
// aliases expanded.
func TestToJSONIsMarshalJSON(t *testing.T) {
	files, _ := filepath.Glob("../../fn/testdata/*/*.yaml")
	more, _ := filepath.Glob("../../examples/*.yaml")
	files = append(files, more...)
	extra := []string{
		"a: !!str 123\nb: '0x1F'\nc: 0x1F\nd: 1e3\ne: ~\nf: [yes, no, on]\ng: '2024-01-01'\nh: 2024-01-01\ni: |\n  x\n  y\nj: .inf\n",
		"a: &x {b: 1}\nc: *x\nd:\n  <<: *x\n  e: 2\n",
	}
	n := 0
	check := func(name string, node *yaml.RNode) {
		var walk func(y *yaml.Node)
		walk = func(y *yaml.Node) {
			if y.Kind == yaml.MappingNode || y.Kind == yaml.SequenceNode {
				rn := yaml.NewRNode(y)
				want, werr := rn.MarshalJSON()
				got, gerr := toJSON(rn)
				if werr != nil {
					return // kyaml fails on keys that are not strings; toJSON reads them as Kubernetes does
				}
				if gerr != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s: toJSON %s (%v), MarshalJSON %s (%v)", name, got, gerr, want, werr)
				}
				n++
			}
			for _, c := range y.Content {
				walk(c)
			}
		}
		walk(node.YNode())
	}
	inputs := map[string]string{}
	for _, f := range files {
		if strings.Contains(f, "alias") {
			continue // the alias bombs: never expanded
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = string(b)
	}
	for i, e := range extra {
		inputs[strings.Repeat("x", i+1)] = e
	}
	for name, in := range inputs {
		nodes, err := (&kio.ByteReader{Reader: strings.NewReader(in), OmitReaderAnnotations: true, DisableUnwrapping: true}).Read()
		if err != nil {
			continue
		}
		for _, node := range nodes {
			// Stages read pods only once aliases are expanded (a subtree
			// with an alias of an anchor outside it cannot be written
			// as YAML on its own).
			if err := node.DeAnchor(); err == nil {
				check(name, node)
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d nodes compared", n)
	}
}
