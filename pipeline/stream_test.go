package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/internal/yamlstream"
	"cocofy.dev/cocofy/pipeline"
)

// collected is a Sink that keeps each document's text.
type collected map[int]string

func (c collected) Put(i int, n *yaml.RNode, keep bool) error {
	if _, dup := c[i]; dup {
		return errors.New("document put twice")
	}
	s, err := n.String()
	c[i] = s
	return err
}

// streamInputs are fn's golden inputs and streams that make RunStream
// hold documents, run several batches and give warnings.
func streamInputs(t *testing.T) map[string]string {
	t.Helper()
	ins := map[string]string{
		"held for objects": `apiVersion: apps/v1
kind: Deployment
metadata: {name: early}
spec:
  template:
    spec:
      containers:
      - name: a
        image: api:2.0
        env:
        - name: FROMCM
          valueFrom: {configMapKeyRef: {name: cm, key: k}}
---
apiVersion: v1
kind: Pod
metadata: {name: plain}
spec:
  hostNetwork: true
  containers: [{name: b, image: web:1.4, resources: {requests: {cpu: 100m}}}]
---
apiVersion: example.com/v1
kind: Thing
metadata: {name: t}
spec: {template: {spec: {containers: [{name: x, image: y}]}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {k: first}
---
apiVersion: v1
kind: Pod
metadata: {name: late, labels: {tier: web}}
spec:
  volumes: [{name: v, hostPath: {path: /x}}]
  containers: [{name: c, image: web:1.4, env: [{name: X, valueFrom: {secretKeyRef: {name: s, key: k}}}]}]
---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {k: second}
`,
	}
	files, err := filepath.Glob("../fn/testdata/*/input.yaml")
	assert.NilError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		assert.NilError(t, err)
		ins[f] = string(b)
	}
	var many []string
	for i := 0; i < 7; i++ {
		many = append(many, ins["held for objects"])
	}
	ins["several batches"] = strings.Join(many, "---\n")
	return ins
}

// TestRunStreamIsRun: RunStream gives Run's results, in Run's order, and
// the same documents, or ErrNotStreamed; with batches of every size.
func TestRunStreamIsRun(t *testing.T) {
	labels := pipeline.Options{Target: pipeline.TargetPodSandbox, Select: pipeline.Selector{LabelSelector: "tier=web"}}
	vn := pipeline.Options{Target: pipeline.TargetVirtualNode, Policy: pipeline.PolicyOptions{Check: pipeline.CheckWarn}}
	vnOff := pipeline.Options{Target: pipeline.TargetVirtualNode, Policy: pipeline.PolicyOptions{Check: pipeline.CheckOff}}
	configs := map[string]pipeline.Options{
		"pod-sandbox":  {Target: pipeline.TargetPodSandbox},
		"contrast":     {Target: pipeline.TargetContrast},
		"labels":       labels,
		"vn":           vn,
		"vn check off": vnOff,
		"select nothing": {Target: pipeline.TargetPodSandbox, Select: pipeline.Selector{
			Kinds: []string{"deployment", "Deployment"}, Namespaces: []string{"nowhere"}, LabelSelector: "tier=none",
		}},
	}
	streamed := 0
	for name, in := range streamInputs(t) {
		for cname, opts := range configs {
			for _, batch := range []int{1, 2, 256} {
				if opts.Resources.Missing == "" {
					opts.Resources.Missing = pipeline.MissingWarn
				}
				restore := pipeline.SetStreamBatch(batch)
				if compare(t, name+" "+cname, opts, in) {
					t.Logf("streamed: %s %s %d", name, cname, batch)
					streamed++
				}
				restore()
			}
		}
	}
	assert.Assert(t, streamed > 20, "only %d runs were streamed", streamed)
}

func compare(t *testing.T, name string, opts pipeline.Options, in string) bool {
	t.Helper()
	deps := pipeline.Deps{Resolver: fixed.Resolver{}, Inspector: fixed.Inspector{}}
	p, err := pipeline.New(opts, deps)
	assert.NilError(t, err)
	nodes, err := (&kio.ByteReader{Reader: strings.NewReader(in), PreserveSeqIndent: true, DisableUnwrapping: true}).Read()
	if err != nil {
		return false
	}
	want, runErr := p.Run(context.Background(), nodes)

	r := yamlstream.NewReader([]byte(in))
	got := collected{}
	rep, workloads, err := p.RunStream(context.Background(), r.Next, got)
	if errors.Is(err, pipeline.ErrNotStreamed) {
		return false
	}
	assert.NilError(t, err, name)
	assert.NilError(t, runErr, "%s: Run failed where RunStream did not", name)
	var wantLines, gotLines []string
	for _, r := range want.Results {
		wantLines = append(wantLines, pipeline.Line(r))
	}
	for _, r := range rep.Results {
		gotLines = append(gotLines, pipeline.Line(r))
	}
	assert.DeepEqual(t, gotLines, wantLines)
	assert.Equal(t, len(got), len(nodes), name)
	for i, n := range nodes {
		s, err := n.String()
		assert.NilError(t, err)
		assert.Equal(t, got[i], s, "%s: document %d", name, i)
	}
	assert.Equal(t, workloads, len(pipeline.FindWorkloads(nodes, opts.WorkloadPaths, &pipeline.Report{})), name)
	return true
}
