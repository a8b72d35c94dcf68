package fn_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/internal/fragment"
	"cocofy.dev/cocofy/internal/testing/registrytest"
	"cocofy.dev/cocofy/internal/testing/testca"
)

// publisher is a throw-away signing identity on disk.
type publisher struct {
	dir, key, chain string
	ca              *testca.Chain
}

func newPublisher(t *testing.T) publisher {
	t.Helper()
	p := publisher{dir: t.TempDir(), ca: testca.New(t, "Contoso", testca.P384)}
	p.key, p.chain = filepath.Join(p.dir, "key.pem"), filepath.Join(p.dir, "chain.pem")
	assert.NilError(t, os.WriteFile(p.key, p.ca.KeyPEM, 0o600))
	assert.NilError(t, os.WriteFile(p.chain, p.ca.ChainPEM, 0o644))
	return p
}

func (p publisher) write(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	assert.NilError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

// didFingerprint hides the throw-away CA's fingerprint in goldens.
var didFingerprint = regexp.MustCompile(`did:x509:0:sha256:[A-Za-z0-9_-]{43}::`)

func stable(p publisher, s string) string {
	s = strings.ReplaceAll(s, p.dir, "$TMP")
	return didFingerprint.ReplaceAllString(s, "did:x509:0:sha256:<CA fingerprint>::")
}

// generate, sign, verify and import through the CLI, as a publisher would.
func TestFragmentCommands(t *testing.T) {
	p := newPublisher(t)
	rego, stderr, err := runWith(t, testDeps, "", "fragment", "generate", "--image", "registry.example.com/app:1", "--namespace", "contoso", "--svn", "2")
	assert.NilError(t, err, stderr)
	golden.Assert(t, rego, "fragment/generate.rego")

	cose, stderr, err := runWith(t, testDeps, "", "fragment", "sign", "--key", p.key, "--chain", p.chain, "--feed", "registry.example.com/app", p.write(t, "contoso.rego", rego))
	assert.NilError(t, err, stderr)
	signed := p.write(t, "contoso.rego.cose", cose)

	out, stderr, err := runWith(t, testDeps, "", "fragment", "verify", "--minimum-svn", "2", signed)
	assert.NilError(t, err, stderr)
	golden.Assert(t, stable(p, out), "fragment/verify.golden")

	out, stderr, err = runWith(t, testDeps, "", "fragment", "import", signed)
	assert.NilError(t, err, stderr)
	golden.Assert(t, stable(p, out), "fragment/import.json")
	out, _, err = runWith(t, testDeps, "", "fragment", "import", "--minimum-svn", "1", signed)
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(out, `"minimum_svn": "1"`), out)

	// In one step, as confcom's --out-signed-fragment.
	gen := []string{"fragment", "generate", "--image", "registry.example.com/app:1", "--namespace", "contoso", "--svn", "2"}
	cose, stderr, err = runWith(t, testDeps, "", append(gen, "--key", p.key, "--chain", p.chain, "--feed", "registry.example.com/app")...)
	assert.NilError(t, err, stderr)
	f, err := fragment.Verify(context.Background(), []byte(cose), fragment.VerifyOptions{})
	assert.NilError(t, err)
	assert.Equal(t, string(f.Payload), rego)
	_, _, err = runWith(t, testDeps, "", append(gen, "--feed", "registry.example.com/app")...)
	assert.ErrorContains(t, err, "[key chain feed] are set they must all be set")
}

// Every refusal names the check the guest would fail; the messages are in
// docs/errors.md (TestErrorsDoc).
func TestFragmentRefusals(t *testing.T) {
	p := newPublisher(t)
	other := testca.New(t, "Contoso", testca.P384)
	otherDid, err := fragment.DidX509(other.Certs)
	assert.NilError(t, err)
	rego := "package contoso\n\nsvn := \"1\"\nframework_version := \"0.2.3\"\n\nfragments := []\n\ncontainers := []\n"
	sign := func(payload string, opts fragment.SignOptions) string {
		raw, err := fragment.Sign([]byte(payload), p.ca.KeyPEM, p.ca.ChainPEM, opts)
		assert.NilError(t, err)
		return string(raw)
	}
	good := sign(rego, fragment.SignOptions{Feed: "registry.example.com/app"})
	i := strings.Index(good, "containers := ")
	flipped := good[:i] + "C" + good[i+1:]
	sample, err := os.ReadFile("../internal/fragment/testdata/confcom-sample.rego.cose")
	assert.NilError(t, err)

	for name, tc := range map[string]struct {
		desc string
		args []string
	}{
		"byte-flipped":       {"A signed fragment with one byte of its Rego changed.", []string{"verify", p.write(t, "flipped.rego.cose", flipped)}},
		"missing-feed":       {"A fragment signed without a feed header.", []string{"verify", p.write(t, "nofeed.rego.cose", sign(rego, fragment.SignOptions{}))}},
		"confcom-sample":     {"confcom's own signed sample (samples/fragments/fragment.rego.cose): sound, but without a feed header.", []string{"verify", p.write(t, "sample.rego.cose", string(sample))}},
		"untrusted-chain":    {"A fragment whose issuer is another CA's did:x509 than the chain it carries.", []string{"verify", p.write(t, "other.rego.cose", sign(rego, fragment.SignOptions{Feed: "f", Issuer: otherDid}))}},
		"reserved-namespace": {"A signed fragment in package framework, which the guest reserves.", []string{"verify", p.write(t, "framework.rego.cose", sign(strings.Replace(rego, "contoso", "framework", 1), fragment.SignOptions{Feed: "f"}))}},
		"svn-below-minimum":  {"verify --minimum-svn 2 on a fragment of svn 1.", []string{"verify", "--minimum-svn", "2", p.write(t, "svn1.rego.cose", good)}},
		"sign-reserved":      {"sign refuses what the guest would: a fragment in package policy.", []string{"sign", "--key", p.key, "--chain", p.chain, "--feed", "f", p.write(t, "policy.rego", strings.Replace(rego, "contoso", "policy", 1))}},
		"generate-reserved":  {"generate --namespace data, which confcom reserves.", []string{"generate", "--image", "registry.example.com/app:1", "--namespace", "data", "--svn", "1"}},
	} {
		t.Run(name, func(t *testing.T) {
			out, stderr, err := runWith(t, testDeps, "", append([]string{"fragment"}, tc.args...)...)
			assert.Assert(t, err != nil, "want an error, got %q", out)
			assert.Equal(t, out, "")
			golden.Assert(t, "# "+tc.desc+"\n"+stable(p, stderr+"cocofy: "+err.Error()+"\n"), "fragment/errors/"+name+".golden")
		})
	}
}

// A publisher's whole path against a registry: facts (and layer root
// hashes) from the registry, then sign, then attach to the linux/amd64
// manifest of a multi-platform image.
func TestFragmentAttach(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
	p := newPublisher(t)
	reg := registrytest.Start(t)
	idx := registrytest.Index(t, "app", v1.Config{Cmd: []string{"/app"}}, "linux/arm64", "linux/amd64")
	reg.Push(t, "shop/app:1", idx)
	ref := reg.Ref("shop/app:1")

	rego, stderr, err := runWith(t, fn.RegistryDeps, "", "fragment", "generate", "--image", ref, "--namespace", "shop", "--svn", "1", "--outraw")
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(rego, `"id":"`+ref+`"`), rego)
	cose, stderr, err := runWith(t, testDeps, "", "fragment", "sign", "--key", p.key, "--chain", p.chain, "--feed", reg.Host+"/shop/app", p.write(t, "shop.rego", rego))
	assert.NilError(t, err, stderr)

	out, stderr, err := runWith(t, testDeps, "", "fragment", "attach", "--image", ref, p.write(t, "shop.rego.cose", cose))
	assert.NilError(t, err, stderr)
	referrer := strings.TrimSpace(out)

	im, err := idx.IndexManifest()
	assert.NilError(t, err)
	var amd64 v1.Hash
	for _, m := range im.Manifests {
		if m.Platform.Architecture == "amd64" {
			amd64 = m.Digest
		}
	}
	d, err := name.NewDigest(reg.Ref("shop/app@" + amd64.String()))
	assert.NilError(t, err)
	refs, err := remote.Referrers(d, remote.WithContext(context.Background()))
	assert.NilError(t, err)
	rm, err := refs.IndexManifest()
	assert.NilError(t, err)
	assert.Equal(t, len(rm.Manifests), 1)
	assert.Equal(t, reg.Ref("shop/app@"+rm.Manifests[0].Digest.String()), referrer)
	assert.Equal(t, rm.Manifests[0].ArtifactType, fragment.ArtifactType)
}
