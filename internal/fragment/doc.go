// Package fragment makes, signs, checks and publishes Confidential ACI
// policy fragments: a Rego module (package <namespace>, svn, containers)
// in a COSE_Sign1 envelope, which a base policy imports by issuer (the
// signing chain's did:x509) and feed, and the guest (hcsshim's GCS) loads
// when it starts a container group.
//
// Generate writes confcom's fragment Rego (internal/ccpolicy renders it).
// Sign makes the envelope sign1util (microsoft/cosesign1go) makes for
// `az confcom acifragmentgen --key --chain`: protected headers alg,
// content type application/unknown+rego, x5chain, and the text labels
// "iss" and "feed". Verify checks what the guest checks before it loads a
// fragment, in the guest's order, and names the first check that fails.
// Import prints the import statement confcom's --generate-import prints.
// Attach pushes a signed fragment as an OCI referrer of an image.
//
// What it does not do:
//   - It does not make SCITT (CWT-claims) envelopes; Verify reads their
//     issuer, feed and svn, but not their receipts.
//   - It does not trust anything by itself: the did:x509 in "iss" pins a CA
//     of the embedded chain, and a base policy's import pins the did. Verify
//     says the envelope is sound and self-consistent, as the guest does;
//     whether the issuer is the one a policy imports is the policy's say.
//   - Signatures are not reproducible: Sign draws from crypto/rand where
//     confcom passes sign1util "-salt zero" (a reader of zeros), so ECDSA
//     and PSS signatures differ from run to run; they verify alike, and
//     the protected header and payload are the same bytes.
package fragment
