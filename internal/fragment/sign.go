package fragment

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/veraison/go-cose"
)

// ContentType is the content type confcom signs fragments with.
const ContentType = "application/unknown+rego"

// DefaultAlgorithm is confcom's default --algo.
const DefaultAlgorithm = "ES384"

// Algorithms are the signing algorithms confcom offers (config.py
// SUPPORTED_ALGOS), as sign1util names them.
func Algorithms() []string {
	return []string{"PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// SignOptions are sign1util create's switches.
type SignOptions struct {
	// Algorithm is one of Algorithms. By default ES384.
	Algorithm string
	// Feed goes into the "feed" protected header; the guest refuses a
	// fragment without one. Empty leaves the header out, as sign1util does.
	Feed string
	// Issuer goes into the "iss" protected header. By default the chain's
	// did:x509 (DidX509), as confcom computes it.
	Issuer string
}

// Sign returns the COSE_Sign1 envelope sign1util makes for confcom
// (cosesign1go CreateCoseSign1): payload attached; protected headers alg,
// content type ContentType, x5chain (the chain's certificates, DER, leaf
// first), "iss" and "feed" as text labels; no unprotected headers. The key
// (PEM: EC, PKCS#8 or PKCS#1) must be the leaf certificate's.
func Sign(payload, keyPEM, chainPEMData []byte, opts SignOptions) ([]byte, error) {
	alg, err := algorithm(opts.Algorithm)
	if err != nil {
		return nil, err
	}
	chain, err := ParseChain(chainPEMData)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if err := keyFits(key, chain[0], alg); err != nil {
		return nil, err
	}
	issuer := opts.Issuer
	if issuer == "" {
		if issuer, err = DidX509(chain); err != nil {
			return nil, err
		}
	}
	signer, err := cose.NewSigner(alg, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	headers := cose.Headers{Protected: protectedHeader(alg, chain, issuer, opts.Feed)}
	out, err := cose.Sign1(rand.Reader, signer, headers, payload, nil)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return out, nil
}

// protectedHeader is cosesign1go CreateCoseSign1's: alg, content type,
// x5chain (DER, leaf first), then "iss" and "feed" when not empty.
func protectedHeader(alg cose.Algorithm, chain []*x509.Certificate, issuer, feed string) cose.ProtectedHeader {
	der := make([]any, len(chain))
	for i, c := range chain {
		der[i] = c.Raw
	}
	h := cose.ProtectedHeader{
		cose.HeaderLabelAlgorithm:   alg,
		cose.HeaderLabelContentType: ContentType,
		cose.HeaderLabelX5Chain:     der,
	}
	if issuer != "" {
		h["iss"] = issuer
	}
	if feed != "" {
		h["feed"] = feed
	}
	return h
}

func algorithm(name string) (cose.Algorithm, error) {
	if name == "" {
		name = DefaultAlgorithm
	}
	algs := map[string]cose.Algorithm{
		"PS256": cose.AlgorithmPS256, "PS384": cose.AlgorithmPS384, "PS512": cose.AlgorithmPS512,
		"ES256": cose.AlgorithmES256, "ES384": cose.AlgorithmES384, "ES512": cose.AlgorithmES512,
		"EdDSA": cose.AlgorithmEdDSA,
	}
	alg, ok := algs[name]
	if !ok {
		return 0, fmt.Errorf("%w %q (want one of %s)", ErrAlgorithm, name, strings.Join(Algorithms(), ", "))
	}
	return alg, nil
}

// parseKey reads a private key PEM as sign1util does: EC, then PKCS#8,
// then PKCS#1.
func parseKey(keyPEM []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block in the key file", ErrKey)
	}
	var key any
	var errs []error
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		key = k
	} else if k, err2 := x509.ParsePKCS8PrivateKey(block.Bytes); err2 == nil {
		key = k
	} else if k, err3 := x509.ParsePKCS1PrivateKey(block.Bytes); err3 == nil {
		key = k
	} else {
		errs = append(errs, err, err2, err3)
	}
	if key == nil {
		return nil, fmt.Errorf("%w: the key is not EC, PKCS#8 or PKCS#1: %w", ErrKey, errors.Join(errs...))
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: a %T cannot sign", ErrKey, key)
	}
	return s, nil
}

// keyFits refuses a key that is not the leaf's, or whose curve is not
// the algorithm's: the guest could not verify the envelope.
func keyFits(key crypto.Signer, leaf *x509.Certificate, alg cose.Algorithm) error {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return fmt.Errorf("%w: the key is not the public key of the chain's first certificate (%s)", ErrKey, leaf.Subject)
	}
	curves := map[cose.Algorithm]elliptic.Curve{
		cose.AlgorithmES256: elliptic.P256(), cose.AlgorithmES384: elliptic.P384(), cose.AlgorithmES512: elliptic.P521(),
	}
	if want, ok := curves[alg]; ok {
		ec, isEC := key.Public().(*ecdsa.PublicKey)
		if !isEC || ec.Curve != want {
			return fmt.Errorf("%w: %s needs a %s key", ErrKey, alg, want.Params().Name)
		}
	}
	return nil // go-cose checks the key type of PS* and EdDSA
}
