package fragment

import "errors"

// Sentinel errors: each names one check the guest makes (Verify) or one
// input Sign or Generate refuses. Callers branch with errors.Is.
var (
	// ErrEnvelope: the file is not a COSE_Sign1 message, or its protected
	// header lacks alg or x5chain, or has them in the wrong type.
	ErrEnvelope = errors.New("not a COSE_Sign1 fragment envelope")
	// ErrChain: the x5chain does not verify (each certificate signed by the
	// next, the last one as root).
	ErrChain = errors.New("certificate chain does not verify")
	// ErrSignature: the signature is not the leaf key's over the content.
	ErrSignature = errors.New("signature does not verify")
	// ErrNoIssuer and ErrNoFeed: the guest needs both iss and feed.
	ErrNoIssuer = errors.New(`no issuer ("iss" protected header)`)
	ErrNoFeed   = errors.New(`no feed ("feed" protected header)`)
	// ErrIssuer: the issuer does not resolve against the chain as a
	// did:x509 (wrong CA fingerprint, leaf subject or EKU).
	ErrIssuer = errors.New("issuer does not resolve against the chain as a did:x509")
	// ErrPackage: the first line is not "package <identifier>".
	ErrPackage = errors.New(`first line is not "package <namespace>"`)
	// ErrReservedNamespace: a namespace the guest or confcom refuses.
	ErrReservedNamespace = errors.New("reserved namespace")
	// ErrSVN: no svn, an svn that is not a number, or one below the minimum.
	ErrSVN = errors.New("bad svn")
	// ErrRego: the payload is not Rego the guest's OPA parses.
	ErrRego = errors.New("not valid Rego")
	// ErrKey: the key or chain cannot be used to sign.
	ErrKey = errors.New("unusable key or chain")
	// ErrAlgorithm: not one of Algorithms.
	ErrAlgorithm = errors.New("unsupported algorithm")
)
