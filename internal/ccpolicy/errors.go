package ccpolicy

import (
	"errors"

	"cocofy.dev/cocofy/internal/guest"
)

// Sentinel errors. Generate wraps them with the workload, the field path and
// the subject, so callers can branch with errors.Is and users still read the
// whole story.
var (
	// ErrNotFound means a ConfigMap or Secret that an env var refers to is
	// not in the input (and Options.WildcardMissingRefs is false), or the
	// object lacks the key.
	ErrNotFound = errors.New("not found in the input")

	// ErrNoImageFacts means the images map has no entry for a container's
	// image, or the entry has no dm-verity root hash for some layer. confcom
	// silently drops such a container; cocofy refuses instead, because a
	// policy without the container would block it at run time.
	// It is guest.ErrNoFacts: one sentinel for both readings of a pod.
	ErrNoImageFacts = guest.ErrNoFacts

	// ErrUnsupported marks input that confcom either rejects or handles in a
	// way cocofy does not reproduce (sidecar images, Localhost seccomp
	// profiles, a stop signal that is not a SIG name, non-string env values).
	ErrUnsupported = errors.New("not supported")

	// ErrInvalid marks a field whose type or value confcom rejects.
	ErrInvalid = errors.New("invalid")

	// ErrInternal marks a state cocofy should never reach: a bug.
	ErrInternal = errors.New("internal error (please report this as a bug)")
)

// MissingObject is a ConfigMap or Secret a pod reads that is not in the
// input. It wraps ErrNotFound.
type MissingObject struct {
	Kind, Name string
	err        error
}

func (e *MissingObject) Error() string { return e.err.Error() }
func (e *MissingObject) Unwrap() error { return e.err }
