//go:build race

package pipeline_test

// raceDetector: the tests run under -race, about ten times slower; the
// exhaustive comparisons keep to the configs and batches that exercise
// the engine's goroutines (the full product runs without -race).
const raceDetector = true
