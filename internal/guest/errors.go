package guest

import "errors"

// Sentinel errors of [Receive].
var (
	// ErrNoFacts means images has no entry, or no layer root hashes, for an
	// image of the pod.
	ErrNoFacts = errors.New("no image facts")

	// ErrUnsupported marks a pod field whose effect on the container cannot
	// be known offline, e.g. a Localhost seccomp profile.
	ErrUnsupported = errors.New("unsupported")
)
