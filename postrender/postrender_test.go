package postrender_test

import (
	"bytes"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/pipeline"
	"cocofy.dev/cocofy/postrender"
)

func renderer(t *testing.T) *postrender.Renderer {
	t.Helper()
	p, err := pipeline.New(pipeline.Options{Target: pipeline.TargetPodSandbox}, pipeline.Deps{Resolver: fixed.Resolver{}})
	assert.NilError(t, err)
	return &postrender.Renderer{Pipeline: p}
}

func TestNoBookkeepingAnnotationsLeak(t *testing.T) {
	in := "# Source: c/templates/a.yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n    - name: c\n      image: c:1\n---\n# Source: c/templates/b.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"
	out, err := renderer(t).Run(bytes.NewBufferString(in))
	assert.NilError(t, err)
	s := out.String()
	for _, leak := range []string{"config.kubernetes.io", "annotations"} {
		assert.Assert(t, !strings.Contains(s, leak), "output has %q:\n%s", leak, s)
	}
	assert.Assert(t, strings.Contains(s, "# Source: c/templates/a.yaml\n"), s)
	assert.Assert(t, strings.Contains(s, "# Source: c/templates/b.yaml\n"), s)
	// Wide sequence indentation, as Helm charts often write it, is kept.
	assert.Assert(t, strings.Contains(s, "  containers:\n    - name: c\n"), s)
}

func TestListIsNotUnwrapped(t *testing.T) {
	in := "apiVersion: v1\nkind: List\nmetadata:\n  name: l\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: x\n"
	out, err := renderer(t).Run(bytes.NewBufferString(in))
	assert.NilError(t, err)
	assert.Equal(t, out.String(), in)
}

func TestEmptyInputIsAnError(t *testing.T) {
	for _, in := range []string{"", "---\n", "# only a comment\n"} {
		out, err := renderer(t).Run(bytes.NewBufferString(in))
		assert.ErrorIs(t, err, postrender.ErrEmpty, "input %q", in)
		assert.Assert(t, out == nil)
	}
}

func TestErrorGivesNoOutput(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers: []\n"
	var log bytes.Buffer
	r := renderer(t)
	r.Log = &log
	out, err := r.Run(bytes.NewBufferString(in))
	assert.ErrorIs(t, err, pipeline.ErrFailed)
	assert.Assert(t, out == nil)
	assert.Equal(t, log.String(), "error: Pod a: spec.containers: a pod needs at least one container\n")
}
