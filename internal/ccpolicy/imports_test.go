package ccpolicy_test

import (
	"context"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/podspec"
	"cocofy.dev/cocofy/internal/testing/fixed"
)

// Imports reads back the fragments a generated policy imports, the
// infrastructure fragment first; a fragments rule of another shape is an
// error.
func TestImports(t *testing.T) {
	const app = "registry.example.com/app:1"
	facts, err := fixed.Inspector{}.Inspect(context.Background(), app, image.DefaultPlatform)
	assert.NilError(t, err)
	contoso := ccpolicy.Fragment{Issuer: "did:x509:0:sha256:x::subject:CN:Contoso", Feed: "registry.example.com/app", MinimumSVN: "2", Includes: []string{"containers"}}
	pod := podspec.New("Pod", "shop", "web", yaml.MustParse("spec:\n  containers:\n  - name: web\n    image: "+app+"\n"), nil)
	pol, err := ccpolicy.Generate(pod, map[string]image.Facts{app: facts}, podspec.Objects{}, ccpolicy.Options{Fragments: []ccpolicy.Fragment{contoso}})
	assert.NilError(t, err)
	got, err := ccpolicy.Imports(pol.Rego)
	assert.NilError(t, err)
	assert.DeepEqual(t, got, []ccpolicy.Fragment{
		{Issuer: ccpolicy.InfraIssuer, Feed: ccpolicy.InfraFeed, MinimumSVN: "4", Includes: []string{"containers", "fragments"}},
		contoso,
	})

	_, err = ccpolicy.Imports("package policy\n\nfragments := [1]\n")
	assert.ErrorContains(t, err, "reading the policy's fragments")
	got, err = ccpolicy.Imports("package policy\n\napi_version := \"0.10.0\"\n")
	assert.NilError(t, err)
	assert.Equal(t, len(got), 0)
}
