package pipeline

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

const readBackDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata:
      annotations:
        a.b/c.d: "x"
    spec:
      nodeSelector:
      tolerations: [{key: k}, {key: virtual-kubelet.io/provider}]
      containers:
      - name: app
        image: web:1@sha256:00
`

func readBackLines(t *testing.T, claims ...claim) []string {
	t.Helper()
	n, err := yaml.Parse(readBackDeployment)
	assert.NilError(t, err)
	ws := FindWorkloads([]*yaml.RNode{n}, nil, &Report{})
	assert.Equal(t, len(ws), 1)
	w := &ws[0]
	for _, c := range claims {
		w.claim(c.field, c.value)
	}
	rep := &Report{}
	readBack(w, rep)
	var lines []string
	for _, r := range rep.Results {
		lines = append(lines, Line(r))
	}
	return lines
}

// A value the stages report writing is read back from the object's root:
// keys with dots, entries by name and by index.
func TestReadBackFindsWrites(t *testing.T) {
	lines := readBackLines(t,
		claim{"spec.template.metadata.annotations.a.b/c.d", "x"},
		claim{"spec.template.spec.tolerations[1].key", "virtual-kubelet.io/provider"},
		claim{"spec.template.spec.containers[name=app].image", "web:1@sha256:00"},
	)
	assert.Assert(t, len(lines) == 0, strings.Join(lines, "\n"))
}

// A write that did not land is an error: under a null left in place, a
// different value, a missing entry.
func TestReadBackCatchesDroppedWrites(t *testing.T) {
	lines := readBackLines(t,
		claim{"spec.template.spec.nodeSelector.virtualization", "virtualnode2"},
		claim{"spec.template.spec.containers[name=app].image", "web:2@sha256:11"},
		claim{"spec.template.spec.tolerations[2].key", "virtual-kubelet.io/provider"},
		claim{"spec.template.spec.runtimeClassName", "kata-vm-isolation"},
	)
	assert.Equal(t, len(lines), 4, strings.Join(lines, "\n"))
	assert.Assert(t, strings.HasPrefix(lines[0], `error: Deployment shop/web: spec.template.spec.nodeSelector.virtualization: cocofy reported writing "virtualnode2" here, but the object it writes has no such field`), lines[0])
	assert.Assert(t, strings.Contains(lines[1], `but the object it writes has "web:1@sha256:00"`), lines[1])
}
