//go:build linux && rego

package fragment_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/Microsoft/hcsshim/pkg/securitypolicy"
	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/fragment"
	"cocofy.dev/cocofy/internal/podspec"
	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/internal/testing/testca"
)

// hcsshim's own enforcer, given a cocofy policy that imports the
// fragment, loads the fragment Generate writes and Verify accepts, and
// refuses it under another feed or below the import's minimum svn.
func TestEnforcerLoadsFragment(t *testing.T) {
	ctx := context.Background()
	const app = "registry.example.com/app:1"
	facts, err := fixed.Inspector{}.Inspect(ctx, app, image.DefaultPlatform)
	assert.NilError(t, err)
	images := map[string]image.Facts{app: facts}
	rego, err := fragment.Generate([]string{app}, images, ccpolicy.FragmentOptions{Namespace: "app", SVN: "2"})
	assert.NilError(t, err)

	chain := testca.New(t, "Contoso", testca.P384)
	raw, err := fragment.Sign([]byte(rego), chain.KeyPEM, chain.ChainPEM, fragment.SignOptions{Feed: "registry.example.com/app"})
	assert.NilError(t, err)
	f, err := fragment.Verify(ctx, raw, fragment.VerifyOptions{})
	assert.NilError(t, err)
	imp := fragment.ImportOf(f, "2")

	pod := yaml.MustParse("spec:\n  containers:\n  - name: web\n    image: " + app + "\n")
	policy, err := ccpolicy.Generate(podspec.New("Pod", "shop", "web", pod, nil), images, podspec.Objects{}, ccpolicy.Options{
		Fragments: []ccpolicy.Fragment{{Issuer: imp.Issuer, Feed: imp.Feed, MinimumSVN: imp.MinimumSVN, Includes: imp.Includes}},
	})
	assert.NilError(t, err)

	for name, tc := range map[string]struct {
		feed, rego string
		reason     string // the framework's, empty when loaded
	}{
		"imported":    {f.Feed, string(f.Payload), ""},
		"other feed":  {"registry.example.com/other", string(f.Payload), "invalid fragment feed"},
		"svn too low": {f.Feed, strings.Replace(string(f.Payload), `svn := "2"`, `svn := "1"`, 1), "fragment svn is below the specified minimum"},
	} {
		t.Run(name, func(t *testing.T) {
			e, err := securitypolicy.CreateSecurityPolicyEnforcer("rego", base64.StdEncoding.EncodeToString([]byte(policy.Rego)), nil, nil, 0)
			assert.NilError(t, err)
			err = e.LoadFragment(ctx, f.Issuer, tc.feed, tc.rego)
			if tc.reason == "" {
				assert.NilError(t, err)
				return
			}
			assert.Assert(t, err != nil)
			assert.Assert(t, strings.Contains(decision(t, err), tc.reason), "want %q in %s", tc.reason, decision(t, err))
		})
	}
}

// decision decodes the guest's base64 policy decision in err.
func decision(t *testing.T, err error) string {
	t.Helper()
	_, b64, _ := strings.Cut(err.Error(), "policyDecision< ")
	b64, _, _ = strings.Cut(b64, " >policyDecision")
	text, decodeErr := base64.StdEncoding.DecodeString(b64)
	assert.NilError(t, decodeErr, err.Error())
	return string(text)
}
