package fragment

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
)

// DidX509 returns the issuer confcom gives a chain (`sign1util did-x509
// -chain CHAIN -policy CN`, cosesign1go MakeDidX509("sha256", 1, …, "CN")):
// did:x509:0:sha256:<base64url of the sha256 of chain[1]>::subject:CN:<the
// leaf's common name, path-escaped>. The chain is leaf first and needs a CA
// after the leaf; the guest resolves the did against the chain it finds in
// the envelope.
func DidX509(chain []*x509.Certificate) (string, error) {
	if len(chain) < 2 {
		return "", fmt.Errorf("%w: the chain has %d certificate(s); a did:x509 pins a CA, so it needs the leaf and at least one CA", ErrKey, len(chain))
	}
	cn := chain[0].Subject.CommonName
	if cn == "" {
		return "", fmt.Errorf("%w: the leaf certificate has no subject CN", ErrKey)
	}
	sum := sha256.Sum256(chain[1].Raw)
	return "did:x509:0:sha256:" + base64.RawURLEncoding.EncodeToString(sum[:]) + "::subject:CN:" + url.PathEscape(cn), nil
}

// ParseChain reads the CERTIFICATE blocks of a PEM file, in order (leaf
// first).
func ParseChain(chainPEM []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	rest := chainPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %w", ErrKey, len(chain)+1, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE in the chain PEM", ErrKey)
	}
	return chain, nil
}

// chainPEM is the chain as PEM, what didx509go's resolver reads.
func chainPEM(chain []*x509.Certificate) string {
	var b strings.Builder
	for _, c := range chain {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return b.String()
}

// ParseChainDER parses an x5chain's DER certificates.
func ParseChainDER(ders [][]byte) ([]*x509.Certificate, error) {
	chain := make([]*x509.Certificate, len(ders))
	for i, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %w", ErrKey, i+1, err)
		}
		chain[i] = c
	}
	return chain, nil
}

// CertPEM is one certificate as PEM.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
