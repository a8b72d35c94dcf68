package fragment_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/fragment"
	"cocofy.dev/cocofy/internal/testing/testca"
)

const rego = "package contoso\n\nsvn := \"3\"\nframework_version := \"0.2.3\"\n\nfragments := []\n\ncontainers := []\n"

func sign(t *testing.T, chain *testca.Chain, payload string, opts fragment.SignOptions) []byte {
	t.Helper()
	out, err := fragment.Sign([]byte(payload), chain.KeyPEM, chain.ChainPEM, opts)
	assert.NilError(t, err)
	return out
}

// confcom's own sample: the chain, signature and did:x509 are sound, and
// DidX509 gives the issuer sign1util gave it; but it has no feed, which
// the guest refuses.
func TestConfcomSample(t *testing.T) {
	raw, err := os.ReadFile("testdata/confcom-sample.rego.cose")
	assert.NilError(t, err)
	var msg cose.Sign1Message
	assert.NilError(t, msg.UnmarshalCBOR(raw))
	var chain [][]byte
	for _, d := range msg.Headers.Protected[cose.HeaderLabelX5Chain].([]any) {
		chain = append(chain, d.([]byte))
	}
	certs, err := fragment.ParseChainDER(chain)
	assert.NilError(t, err)
	did, err := fragment.DidX509(certs)
	assert.NilError(t, err)
	assert.Equal(t, did, msg.Headers.Protected["iss"])
	assert.Equal(t, did, "did:x509:0:sha256:q2YUkwrO2Ufcq66-CXKS9CA-XZMqFMbFom99GjaR2eI::subject:CN:Contoso")

	// Sign's protected header for the same chain and issuer is sign1util's,
	// byte for byte.
	mine, err := fragment.ProtectedHeader(cose.AlgorithmES384, certs, did, "").MarshalCBOR()
	assert.NilError(t, err)
	theirs, err := cbor.Marshal(msg.Headers.RawProtected)
	assert.NilError(t, err)
	assert.DeepEqual(t, mine, theirs)

	_, err = fragment.Verify(context.Background(), raw, fragment.VerifyOptions{})
	assert.ErrorIs(t, err, fragment.ErrNoFeed)
	assert.ErrorContains(t, err, `no feed ("feed" protected header)`)
}

func TestSignVerify(t *testing.T) {
	chain := testca.New(t, "Contoso Fragments", testca.P384)
	raw := sign(t, chain, rego, fragment.SignOptions{Feed: "example.com/app"})
	f, err := fragment.Verify(context.Background(), raw, fragment.VerifyOptions{MinimumSVN: "3"})
	assert.NilError(t, err)
	did, err := fragment.DidX509(chain.Certs)
	assert.NilError(t, err)
	assert.Equal(t, f.Issuer, did)
	assert.Assert(t, strings.HasSuffix(did, "::subject:CN:Contoso%20Fragments"), did)
	assert.Equal(t, f.Feed, "example.com/app")
	assert.Equal(t, f.ContentType, fragment.ContentType)
	assert.Equal(t, f.Algorithm, "ES384")
	assert.Equal(t, f.Namespace, "contoso")
	assert.Equal(t, f.SVN, "3")
	assert.Equal(t, string(f.Payload), rego)
	assert.NilError(t, f.CheckMinimumSVN("3"))
	assert.ErrorIs(t, f.CheckMinimumSVN("10"), fragment.ErrSVN)

	var msg cose.Sign1Message
	assert.NilError(t, msg.UnmarshalCBOR(raw))
	assert.Equal(t, len(msg.Headers.Protected), 5)
	assert.Equal(t, len(msg.Headers.Unprotected), 0)
	assert.Equal(t, len(msg.Headers.Protected[cose.HeaderLabelX5Chain].([]any)), 3)
}

func TestAlgorithms(t *testing.T) {
	for alg, kind := range map[string]string{"ES256": testca.P256, "ES512": testca.P521, "PS384": testca.RSA, "EdDSA": testca.Ed} {
		t.Run(alg, func(t *testing.T) {
			chain := testca.New(t, "Contoso", kind)
			raw := sign(t, chain, rego, fragment.SignOptions{Algorithm: alg, Feed: "example.com/app"})
			f, err := fragment.Verify(context.Background(), raw, fragment.VerifyOptions{})
			assert.NilError(t, err)
			assert.Equal(t, f.Algorithm, alg)
		})
	}
	chain := testca.New(t, "Contoso", testca.P256)
	_, err := fragment.Sign([]byte(rego), chain.KeyPEM, chain.ChainPEM, fragment.SignOptions{})
	assert.ErrorIs(t, err, fragment.ErrKey) // ES384 needs P-384
	_, err = fragment.Sign([]byte(rego), chain.KeyPEM, chain.ChainPEM, fragment.SignOptions{Algorithm: "HS256"})
	assert.ErrorIs(t, err, fragment.ErrAlgorithm)
	other := testca.New(t, "Contoso", testca.P256)
	_, err = fragment.Sign([]byte(rego), other.KeyPEM, chain.ChainPEM, fragment.SignOptions{Algorithm: "ES256"})
	assert.ErrorIs(t, err, fragment.ErrKey) // not the leaf's key
}

// Each refusal names the check the guest would fail.
func TestVerifyRefuses(t *testing.T) {
	chain := testca.New(t, "Contoso", testca.P384)
	other := testca.New(t, "Contoso", testca.P384)
	good := sign(t, chain, rego, fragment.SignOptions{Feed: "example.com/app"})
	flipped := append([]byte{}, good...)
	i := strings.Index(string(flipped), "containers := ")
	flipped[i] ^= 0x20
	otherDid, err := fragment.DidX509(other.Certs)
	assert.NilError(t, err)
	mixed := &testca.Chain{Key: chain.Key, KeyPEM: chain.KeyPEM}
	for _, c := range []*testca.Chain{chain, other} {
		mixed.ChainPEM = append(mixed.ChainPEM, pemOf(t, c, len(mixed.ChainPEM) == 0)...)
	}
	for name, tc := range map[string]struct {
		raw  []byte
		want error
		min  string
	}{
		"byte flipped":       {flipped, fragment.ErrSignature, ""},
		"not COSE":           {[]byte(rego), fragment.ErrEnvelope, ""},
		"no feed":            {sign(t, chain, rego, fragment.SignOptions{}), fragment.ErrNoFeed, ""},
		"untrusted chain":    {sign(t, chain, rego, fragment.SignOptions{Feed: "f", Issuer: otherDid}), fragment.ErrIssuer, ""},
		"broken chain":       {sign(t, mixed, rego, fragment.SignOptions{Feed: "f", Issuer: otherDid}), fragment.ErrChain, ""},
		"reserved namespace": {sign(t, chain, strings.Replace(rego, "contoso", "framework", 1), fragment.SignOptions{Feed: "f"}), fragment.ErrReservedNamespace, ""},
		"comment first":      {sign(t, chain, "# hi\n"+rego, fragment.SignOptions{Feed: "f"}), fragment.ErrPackage, ""},
		"svn below minimum":  {good, fragment.ErrSVN, "4"},
		"no svn":             {sign(t, chain, strings.Replace(rego, "svn := \"3\"", "", 1), fragment.SignOptions{Feed: "f"}), fragment.ErrSVN, ""},
		"svn not a number":   {sign(t, chain, strings.Replace(rego, "\"3\"", "\"three\"", 1), fragment.SignOptions{Feed: "f"}), fragment.ErrSVN, ""},
		"not Rego":           {sign(t, chain, "package contoso\nsvn := \n", fragment.SignOptions{Feed: "f"}), fragment.ErrRego, ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := fragment.Verify(context.Background(), tc.raw, fragment.VerifyOptions{MinimumSVN: tc.min})
			assert.ErrorIs(t, err, tc.want)
			t.Log(err)
		})
	}
}

// pemOf is the leaf of c (first) or its CAs.
func pemOf(t *testing.T, c *testca.Chain, leaf bool) []byte {
	t.Helper()
	certs := c.Certs[1:]
	if leaf {
		certs = c.Certs[:1]
	}
	var out []byte
	for _, cert := range certs {
		out = append(out, fragment.CertPEM(cert)...)
	}
	return out
}

func TestImportJSON(t *testing.T) {
	chain := testca.New(t, "Contoso", testca.P384)
	f, err := fragment.Verify(context.Background(), sign(t, chain, rego, fragment.SignOptions{Feed: "example.com/app"}), fragment.VerifyOptions{})
	assert.NilError(t, err)
	out, err := fragment.ImportJSON(fragment.ImportOf(f, ""))
	assert.NilError(t, err)
	want := `{
  "fragments": [
    {
      "feed": "example.com/app",
      "includes": [
        "containers",
        "fragments"
      ],
      "issuer": "` + f.Issuer + `",
      "minimum_svn": "3"
    }
  ]
}
`
	assert.Equal(t, string(out), want)
	assert.Equal(t, fragment.ImportOf(f, "1").MinimumSVN, "1")
}

func TestCheckNamespace(t *testing.T) {
	for _, ns := range fragment.ReservedNamespaces() {
		assert.ErrorIs(t, fragment.CheckNamespace(ns), fragment.ErrReservedNamespace)
	}
	assert.ErrorIs(t, fragment.CheckNamespace("my-app"), fragment.ErrPackage)
	assert.NilError(t, fragment.CheckNamespace("contoso_1"))
}
