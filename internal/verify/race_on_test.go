//go:build race

package verify_test

// raceDetector: the tests run under -race, several times slower; the
// differential test keeps a sample of its variants (all of them run
// without -race), enough for the detector to watch the shared frames.
const raceDetector = true
