package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/pipeline"
)

// FuzzInputCheck: whatever kyaml reads, the pipeline either refuses it
// with an error result, or reads it with every alias expanded; it never
// panics, and it never expands past the limit (a run that expanded
// without bound would time out).
func FuzzInputCheck(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx}]}\n",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx, image: evil}]}\n",
		"a: &a [x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n",
		"a: &a [*a]\n",
		"a: &a {x: 1}\nb: {<<: *a, y: 2}\nc: {<<: [*a, {z: 3}]}\nd: {<<: 1}\n",
		"apiVersion: v1\nkind: List\nitems: {a: b}\n",
		"apiVersion: v1\nkind: PodList\nitems: [x, {kind: ResourceList}]\n",
		"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n---\nkind: Pod\n",
		"&k a: 1\n*k : 2\n",
		"? [a]\n: 1\n? [a]\n: 2\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		nodes, err := (&kio.ByteReader{Reader: strings.NewReader(in), DisableUnwrapping: true, OmitReaderAnnotations: true}).Read()
		if err != nil {
			return
		}
		p, err := pipeline.New(pipeline.Options{Target: pipeline.TargetPodSandbox}, pipeline.Deps{Resolver: fixed.Resolver{}})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := p.Run(context.Background(), nodes)
		if err != nil {
			if !rep.HasErrors() {
				t.Fatalf("Run failed without an error result: %v", err)
			}
			return
		}
		for _, n := range nodes {
			var walk func(*yaml.Node)
			walk = func(y *yaml.Node) {
				if y.Kind == yaml.AliasNode {
					t.Fatalf("an alias was left after a successful run:\n%s", in)
				}
				for _, c := range y.Content {
					walk(c)
				}
			}
			walk(n.YNode())
		}
	})
}
