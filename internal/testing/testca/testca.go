// Package testca makes throw-away certificate chains (root, intermediate,
// leaf) for tests that sign and verify policy fragments.
package testca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"time"
)

// TB is the part of testing.TB the package uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Chain is a leaf certificate, its intermediate CA and root CA, and the
// leaf's private key.
type Chain struct {
	// Certs is leaf, intermediate, root.
	Certs []*x509.Certificate
	// Key is the leaf's private key.
	Key crypto.Signer
	// KeyPEM is Key as PKCS#8 PEM; ChainPEM is Certs as PEM, leaf first.
	KeyPEM, ChainPEM []byte
}

// Key kinds for New's leaf; the CAs always use P-384.
const (
	P256 = "P-256"
	P384 = "P-384"
	P521 = "P-521"
	RSA  = "RSA"
	Ed   = "Ed25519"
)

// New makes a chain whose leaf has subject CN cn and a key of the given
// kind (P384 when empty).
func New(t TB, cn, kind string) *Chain {
	t.Helper()
	rootKey := newKey(t, P384)
	root := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "Test Root CA"}, IsCA: true}, nil, rootKey, rootKey)
	midKey := newKey(t, P384)
	mid := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "Test Intermediate CA"}, IsCA: true}, root, midKey, rootKey)
	leafKey := newKey(t, kind)
	leaf := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}}, mid, leafKey, midKey)
	der, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatalf("testca: %v", err)
	}
	c := &Chain{Certs: []*x509.Certificate{leaf, mid, root}, Key: leafKey}
	c.KeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, cert := range c.Certs {
		c.ChainPEM = append(c.ChainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
	}
	return c
}

func newKey(t TB, kind string) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case P256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "", P384:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case P521:
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case RSA:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case Ed:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("testca: unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatalf("testca: %v", err)
	}
	return k
}

// issue signs tmpl with the issuer's key (self-signed when parent is nil).
func issue(t TB, tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatalf("testca: %v", err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if tmpl.IsCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		// Parents outlive children: didx509go verifies at the leaf's NotAfter.
		tmpl.NotAfter = tmpl.NotAfter.Add(time.Hour)
		if parent == nil {
			tmpl.NotAfter = tmpl.NotAfter.Add(time.Hour)
		}
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("testca: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testca: %v", err)
	}
	return cert
}
