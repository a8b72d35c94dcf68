package ccpolicy

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/open-policy-agent/opa/ast"
	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/podspec"
)

// readStream parses a multi-document YAML stream.
func readStream(t *testing.T, data []byte) []*yaml.RNode {
	t.Helper()
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(data), OmitReaderAnnotations: true}).Read()
	assert.NilError(t, err)
	return nodes
}

// workloadKinds are the kinds confcom makes policies for, with the path of
// their pod template.
var workloadKinds = map[string][]string{
	"Pod":         nil,
	"Deployment":  {"spec", "template"},
	"StatefulSet": {"spec", "template"},
	"DaemonSet":   {"spec", "template"},
	"ReplicaSet":  {"spec", "template"},
	"Job":         {"spec", "template"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template"},
}

// inputs finds the workloads of a stream as the pipeline will.
func inputs(t *testing.T, nodes []*yaml.RNode) []podspec.Pod {
	t.Helper()
	var out []podspec.Pod
	for _, n := range nodes {
		path, ok := workloadKinds[n.GetKind()]
		if !ok {
			continue
		}
		tmpl := n
		if path != nil {
			var err error
			tmpl, err = n.Pipe(yaml.Lookup(path...))
			assert.NilError(t, err)
		}
		vct, err := n.Pipe(yaml.Lookup("spec", "volumeClaimTemplates"))
		assert.NilError(t, err)
		out = append(out, podspec.New(n.GetKind(), n.GetNamespace(), n.GetName(), tmpl, vct))
	}
	return out
}

// readFacts reads an images.json file: image string to image.Facts.
func readFacts(t *testing.T, path string) map[string]image.Facts {
	t.Helper()
	data, err := os.ReadFile(path)
	assert.NilError(t, err)
	var facts map[string]image.Facts
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	assert.NilError(t, dec.Decode(&facts))
	return facts
}

// compileRego parses and compiles a policy with OPA as Rego v0, the syntax
// confcom's templates use and hcsshim's enforcer reads.
func compileRego(t *testing.T, name, text string) {
	t.Helper()
	mod, err := ast.ParseModuleWithOpts(name, text, ast.ParserOptions{RegoVersion: ast.RegoV0})
	assert.NilError(t, err, "parsing %s", name)
	c := ast.NewCompiler()
	c.Compile(map[string]*ast.Module{name: mod})
	assert.Assert(t, !c.Failed(), "compiling %s: %v", name, c.Errors)
}
