//go:build linux && rego

package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/podspec"
	"cocofy.dev/cocofy/internal/verify"
)

const (
	fragIssuer = "did:x509:0:sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA::subject:CN:Contoso"
	fragFeed   = "registry.example.com/nginx"
)

// A pod whose policy imports a fragment covering its container starts
// only when the enforcer has loaded that fragment (LoadFragment); the
// enforcer refuses a fragment of another feed or issuer, or below the
// import's minimum svn, and a loaded fragment whose container differs
// from the pod's still denies it.
func TestPolicyWithFragments(t *testing.T) {
	ctx := context.Background()
	pod := podspec.New("Pod", "shop", "web", yaml.MustParse("spec:\n  containers:\n  - name: web\n    image: "+seedImage+"\n"), nil)
	full, err := ccpolicy.Generate(pod, seedFacts(), podspec.Objects{}, ccpolicy.Options{})
	assert.NilError(t, err)
	described, err := ccpolicy.Containers(full.Rego)
	assert.NilError(t, err)
	covering := ccpolicy.CoveringFragment{
		Import:     ccpolicy.Fragment{Issuer: fragIssuer, Feed: fragFeed, MinimumSVN: "2", Includes: []string{"containers"}},
		Containers: []any{described[0]},
	}
	pol, err := ccpolicy.Generate(pod, seedFacts(), podspec.Objects{}, ccpolicy.Options{Covering: []ccpolicy.CoveringFragment{covering}})
	assert.NilError(t, err)
	assert.DeepEqual(t, pol.Covered, []string{"web"})

	other := map[string]any{}
	for k, v := range described[0] {
		other[k] = v
	}
	other["command"] = []string{"/bin/other"}
	good := verify.Fragment{Issuer: fragIssuer, Feed: fragFeed, Rego: fragmentModule(t, "2", described[0])}
	for name, tc := range map[string]struct {
		fragments []verify.Fragment
		refused   string // the framework's reason, empty when loaded
		denied    string // the web container's denial, empty when allowed
	}{
		"loaded":            {fragments: []verify.Fragment{good}},
		"none":              {denied: "mount_device"},
		"other feed":        {fragments: []verify.Fragment{{Issuer: fragIssuer, Feed: fragFeed + "-other", Rego: good.Rego}}, refused: "invalid fragment feed", denied: "mount_device"},
		"other issuer":      {fragments: []verify.Fragment{{Issuer: strings.Replace(fragIssuer, "Contoso", "Fabrikam", 1), Feed: fragFeed, Rego: good.Rego}}, refused: "invalid fragment issuer", denied: "mount_device"},
		"svn below minimum": {fragments: []verify.Fragment{{Issuer: fragIssuer, Feed: fragFeed, Rego: fragmentModule(t, "1", described[0])}}, refused: "fragment svn is below the specified minimum", denied: "mount_device"},
		"other container":   {fragments: []verify.Fragment{{Issuer: fragIssuer, Feed: fragFeed, Rego: fragmentModule(t, "2", other)}}, denied: "create_container"},
	} {
		t.Run(name, func(t *testing.T) {
			ds, loaded, err := verify.New().PolicyWithFragments(ctx, pol.Rego, tc.fragments, pol.Guest)
			assert.NilError(t, err)
			assert.Equal(t, len(loaded), len(tc.fragments))
			if tc.refused != "" {
				assert.Assert(t, errors.Is(loaded[0], verify.ErrFragmentRefused), "%v", loaded)
				assert.ErrorContains(t, loaded[0], tc.refused)
			} else {
				for _, err := range loaded {
					assert.NilError(t, err)
				}
			}
			assert.Equal(t, len(ds), 2)
			assert.Assert(t, ds[0].Allowed, "the pause container: %+v", ds[0])
			web := ds[1]
			if tc.denied == "" {
				assert.Assert(t, web.Allowed, "%+v", web)
				return
			}
			assert.Assert(t, !web.Allowed)
			assert.Equal(t, web.Step, tc.denied, "%+v", web)
		})
	}
}

// fragmentModule is a fragment's Rego listing containers, as confcom
// writes one.
func fragmentModule(t *testing.T, svn string, containers ...any) string {
	t.Helper()
	b, err := json.Marshal(containers)
	assert.NilError(t, err)
	return fmt.Sprintf("package contoso\n\nsvn := %q\nframework_version := \"0.2.3\"\n\nfragments := []\n\ncontainers := %s\n", svn, b)
}
