package layerhash

import "errors"

// Errors that callers may test with errors.Is. The returned errors carry
// details (digests, sizes, the limit that was hit) around these.
var (
	// ErrDigestMismatch means the blob read does not have the layer's
	// digest: it was corrupted, truncated or replaced.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrNotTar means the (decompressed) layer is not a tar archive.
	ErrNotTar = errors.New("not a tar archive")
	// ErrLimit means the layer decompresses to more than Limits allow,
	// as a decompression bomb would.
	ErrLimit = errors.New("decompression limit exceeded")
)
