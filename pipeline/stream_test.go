package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/internal/testing/race"
	"cocofy.dev/cocofy/internal/yamlstream"
	"cocofy.dev/cocofy/pipeline"
)

// collected is a Sink that keeps each document's text.
type collected map[int]string

func (c collected) Put(i int, n *yaml.RNode, keep, changed bool) error {
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
// the same documents, with batches of every size: the results of a run do
// not depend on how its stream is batched, also when it fails.
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
	batches := []int{1, 2, 256}
	if race.Enabled {
		// The policy stage runs workloads in parallel; the others do not.
		configs = map[string]pipeline.Options{"vn": vn, "pod-sandbox": configs["pod-sandbox"]}
		batches = []int{2, 256}
	}
	failed := 0
	for name, in := range streamInputs(t) {
		for cname, opts := range configs {
			for _, batch := range batches {
				if opts.Resources.Missing == "" {
					opts.Resources.Missing = pipeline.MissingWarn
				}
				if !compare(t, fmt.Sprintf("%s %s %d", name, cname, batch), opts, in, batch) {
					failed++
				}
			}
		}
	}
	assert.Assert(t, failed > 10, "only %d runs failed: the failing inputs are not compared", failed)
}

// compare runs in through RunStream in batches of batch documents and
// through Run with the default batches, and reports whether they
// succeeded.
func compare(t *testing.T, name string, opts pipeline.Options, in string, batch int) bool {
	t.Helper()
	deps := pipeline.Deps{Resolver: fixed.Resolver{}, Inspector: fixed.Inspector{}}
	p, err := pipeline.New(opts, deps)
	assert.NilError(t, err)
	r := yamlstream.NewReader([]byte(in))
	got := collected{}
	rep, workloads, err := pipeline.WithBatch(p, batch).RunStream(context.Background(), r.Next, got)
	if err != nil && !errors.Is(err, pipeline.ErrFailed) {
		return true // not a stream: nothing to compare
	}
	ok := err == nil

	nodes, err := (&kio.ByteReader{Reader: strings.NewReader(in), PreserveSeqIndent: true, DisableUnwrapping: true}).Read()
	if err != nil {
		return true // kio reads it otherwise: nothing to compare
	}
	want, runErr := p.Run(context.Background(), nodes)
	assert.Equal(t, runErr == nil, ok, "%s: Run and RunStream disagree: %v", name, runErr)
	var wantLines, gotLines []string
	for _, r := range want.Results {
		wantLines = append(wantLines, pipeline.Line(r))
	}
	for _, r := range rep.Results {
		gotLines = append(gotLines, pipeline.Line(r))
	}
	assert.DeepEqual(t, gotLines, wantLines)
	if !ok {
		return false
	}
	assert.Equal(t, len(got), len(nodes), name)
	for i, n := range nodes {
		s, err := n.String()
		assert.NilError(t, err)
		assert.Equal(t, got[i], s, "%s: document %d", name, i)
	}
	assert.Equal(t, workloads, len(pipeline.FindWorkloads(nodes, opts.WorkloadPaths, &pipeline.Report{})), name)
	return true
}
