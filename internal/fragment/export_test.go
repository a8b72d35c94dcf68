package fragment

// ProtectedHeader exposes the header Sign writes, to compare it with
// sign1util's.
var ProtectedHeader = protectedHeader
