package fragment

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	didx509resolver "github.com/Microsoft/didx509go/pkg/did-x509-resolver"
	"github.com/veraison/go-cose"
)

// Fragment is a signed fragment that Verify accepted.
type Fragment struct {
	// Issuer and Feed are what a base policy's import names.
	Issuer, Feed string
	// ContentType is the protected content type (confcom's is
	// application/unknown+rego; the guest does not check it).
	ContentType string
	// Algorithm is the signing algorithm, e.g. ES384.
	Algorithm string
	// Namespace is the Rego package; SVN is data.<Namespace>.svn.
	Namespace, SVN string
	// Payload is the fragment's Rego.
	Payload []byte
	// Chain is the x5chain, leaf first.
	Chain []*x509.Certificate
}

// VerifyOptions are what the importing policy asks of a fragment.
type VerifyOptions struct {
	// MinimumSVN (digits), when set, is the import's minimum_svn: a
	// fragment whose svn is lower is refused.
	MinimumSVN string
}

// Verify checks a signed fragment the way the guest does before it loads
// it (hcsshim SecurityOptions.InjectFragment, then LoadFragment), in that
// order, and returns the first failure wrapped around its sentinel:
// the envelope (ErrEnvelope), the chain verified against its own last
// certificate (ErrChain), the leaf's signature (ErrSignature), iss and
// feed present (ErrNoIssuer, ErrNoFeed), iss resolving as a did:x509
// against the chain (ErrIssuer), the first line "package <ns>"
// (ErrPackage) with ns not reserved (ErrReservedNamespace), and an svn,
// equal to the envelope's CWT svn if any and not below opts.MinimumSVN
// (ErrSVN).
func Verify(ctx context.Context, raw []byte, opts VerifyOptions) (*Fragment, error) {
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEnvelope, err)
	}
	alg, err := msg.Headers.Protected.Algorithm()
	if err != nil {
		return nil, fmt.Errorf("%w: alg: %w", ErrEnvelope, err)
	}
	chain, err := x5chain(msg.Headers.Protected)
	if err != nil {
		return nil, err
	}
	if len(chain) > 1 {
		// As cosesign1go: any chain that verifies up to its own root; the
		// did:x509 in iss is what pins it.
		if _, err := didx509resolver.VerifyCertificateChain(chain, chain[len(chain)-1:], false); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrChain, err)
		}
	}
	verifier, err := cose.NewVerifier(alg, chain[0].PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %s with the leaf's key: %w", ErrSignature, alg, err)
	}
	if err := msg.Verify(nil, verifier); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	f := &Fragment{Algorithm: alg.String(), Payload: msg.Payload, Chain: chain}
	f.ContentType, _ = msg.Headers.Protected[cose.HeaderLabelContentType].(string)
	headerSVN, err := f.readClaims(msg.Headers.Protected)
	if err != nil {
		return nil, err
	}
	if _, err := didx509resolver.Resolve(chainPEM(chain), f.Issuer, true); err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrIssuer, f.Issuer, err)
	}
	if f.Namespace, err = Namespace(f.Payload); err != nil {
		return nil, err
	}
	if f.SVN, err = SVN(ctx, f.Namespace, f.Payload); err != nil {
		return nil, err
	}
	return f, checkSVN(f.SVN, headerSVN, opts.MinimumSVN)
}

// CheckMinimumSVN is Verify's svn check against an import's minimum_svn
// (digits), for a fragment Verify accepted: an error wrapping ErrSVN when
// its svn is lower.
func (f *Fragment) CheckMinimumSVN(minimum string) error {
	return checkSVN(f.SVN, "", minimum)
}

// x5chain parses the protected x5chain: one DER certificate or a list,
// leaf first, at most 100 (cosesign1go's limit).
func x5chain(h cose.ProtectedHeader) ([]*x509.Certificate, error) {
	var ders []any
	switch v := h[cose.HeaderLabelX5Chain].(type) {
	case []byte:
		ders = []any{v}
	case []any:
		ders = v
	case nil:
		return nil, fmt.Errorf("%w: no x5chain", ErrEnvelope)
	default:
		return nil, fmt.Errorf("%w: x5chain is a %T", ErrEnvelope, v)
	}
	if len(ders) == 0 || len(ders) > 100 {
		return nil, fmt.Errorf("%w: %d certificates in x5chain", ErrEnvelope, len(ders))
	}
	chain := make([]*x509.Certificate, len(ders))
	for i, d := range ders {
		b, ok := d.([]byte)
		if !ok {
			return nil, fmt.Errorf("%w: x5chain[%d] is a %T", ErrEnvelope, i, d)
		}
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, fmt.Errorf("%w: x5chain[%d]: %w", ErrEnvelope, i, err)
		}
		chain[i] = c
	}
	return chain, nil
}

// readClaims sets Issuer and Feed from the CWT claims (label 15: 1 and 2)
// when the envelope has them, else from the "iss" and "feed" labels, and
// returns the CWT "svn" claim if any. Both must be present.
func (f *Fragment) readClaims(h cose.ProtectedHeader) (svn string, err error) {
	if cwt, ok := h[int64(15)]; ok {
		claims, ok := cwt.(map[any]any)
		if !ok {
			return "", fmt.Errorf("%w: CWT claims are a %T", ErrEnvelope, cwt)
		}
		f.Issuer, _ = claims[int64(1)].(string)
		f.Feed, _ = claims[int64(2)].(string)
		svn = fmt.Sprint(claims["svn"])
		if claims["svn"] == nil {
			svn = ""
		}
	} else {
		f.Issuer, _ = h["iss"].(string)
		f.Feed, _ = h["feed"].(string)
	}
	var errs []error
	if f.Issuer == "" {
		errs = append(errs, ErrNoIssuer)
	}
	if f.Feed == "" {
		errs = append(errs, ErrNoFeed)
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("%w (the guest needs both iss and feed)", errors.Join(errs...))
	}
	return svn, nil
}

// checkSVN compares whole numbers written in digits.
func checkSVN(svn, headerSVN, minimum string) error {
	if headerSVN != "" && trimZeros(headerSVN) != trimZeros(svn) {
		return fmt.Errorf("%w: the envelope's svn %s is not the fragment's %s", ErrSVN, headerSVN, svn)
	}
	if minimum != "" && less(svn, minimum) {
		return fmt.Errorf("%w: svn %s is below the minimum %s", ErrSVN, svn, minimum)
	}
	return nil
}

func trimZeros(s string) string {
	if t := strings.TrimLeft(s, "0"); t != "" {
		return t
	}
	return "0"
}

func less(a, b string) bool {
	a, b = trimZeros(a), trimZeros(b)
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
