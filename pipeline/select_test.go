package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/kio"

	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/pipeline"
)

const selectInput = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {tier: front}}
spec:
  template:
    spec:
      containers: [{name: app, image: registry.example/web:1.4, resources: {limits: {cpu: "1", memory: 1Gi}}}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: ops}
spec:
  template:
    spec:
      containers: [{name: app, image: registry.example/tools:1, resources: {limits: {cpu: "1", memory: 1Gi}}}]
`

// A select value that matches no workload of the input is a warning on
// that value; a select whose values each match some workload but never
// together is one on the select.
func TestSelectMatchingNothing(t *testing.T) {
	for name, tc := range map[string]struct {
		sel  pipeline.Selector
		want []string
	}{
		"all match":      {pipeline.Selector{Kinds: []string{"Deployment"}, Namespaces: []string{"shop"}}, nil},
		"empty":          {pipeline.Selector{}, nil},
		"lower kind":     {pipeline.Selector{Kinds: []string{"deployment", "Job"}}, []string{`warning: spec.select.kinds[0]: "deployment" matches no workload of the input, so it selects nothing; did you mean Deployment? (select values are case-sensitive)`}},
		"known kind":     {pipeline.Selector{Kinds: []string{"statefulset"}}, []string{`warning: spec.select.kinds[0]: "statefulset" matches no workload of the input, so it selects nothing; did you mean StatefulSet? (select values are case-sensitive)`}},
		"name case":      {pipeline.Selector{Names: []string{"Web", "db"}}, []string{`warning: spec.select.names[0]: "Web" matches no workload of the input, so it selects nothing; did you mean web? (select values are case-sensitive)`, `warning: spec.select.names[1]: "db" matches no workload of the input, so it selects nothing`}},
		"namespace":      {pipeline.Selector{Namespaces: []string{"prod"}}, []string{`warning: spec.select.namespaces[0]: "prod" matches no workload of the input, so it selects nothing`}},
		"labels":         {pipeline.Selector{LabelSelector: "tier=back"}, []string{`warning: spec.select.labelSelector: "tier=back" matches no workload of the input, so it selects nothing (it reads the workloads' own labels, not their pod templates')`}},
		"labels kind":    {pipeline.Selector{Kinds: []string{"Job"}, LabelSelector: "tier=front"}, []string{`warning: spec.select: selects no workload of the input: each of its values matches some workload, but none matches all of them; nothing was changed`}},
		"never together": {pipeline.Selector{Kinds: []string{"Job"}, Names: []string{"web"}}, []string{`warning: spec.select: selects no workload of the input: each of its values matches some workload, but none matches all of them; nothing was changed`}},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := pipeline.New(pipeline.Options{Target: pipeline.TargetPodSandbox, Resources: pipeline.ResourceOptions{Missing: pipeline.MissingWarn}, Select: tc.sel}, pipeline.Deps{Resolver: fixed.Resolver{}})
			assert.NilError(t, err)
			nodes, err := kio.FromBytes([]byte(selectInput))
			assert.NilError(t, err)
			rep, err := p.Run(context.Background(), nodes)
			assert.NilError(t, err)
			var got []string
			for _, r := range rep.Results {
				if l := pipeline.Line(r); strings.Contains(l, "spec.select") {
					got = append(got, l)
				}
			}
			assert.DeepEqual(t, got, tc.want)
		})
	}
}

// cocofy verify says it too.
func TestVerifySelectMatchingNothing(t *testing.T) {
	p, err := pipeline.New(pipeline.Options{Target: pipeline.TargetPodSandbox, Select: pipeline.Selector{Kinds: []string{"deployment"}}}, pipeline.Deps{Resolver: fixed.Resolver{}, Inspector: fixed.Inspector{}})
	assert.NilError(t, err)
	nodes, err := kio.FromBytes([]byte(selectInput))
	assert.NilError(t, err)
	rep, err := p.Verifier().Run(context.Background(), nodes)
	assert.NilError(t, err)
	assert.Equal(t, pipeline.Line(rep.Results[0]), `warning: spec.select.kinds[0]: "deployment" matches no workload of the input, so it selects nothing; did you mean Deployment? (select values are case-sensitive)`)
}
