//go:build race

// Package race tells tests whether they run under the race detector
// (go test -race), several times slower: a test can then keep to a sample
// of its cases, enough for the detector, and run them all without it.
package race

// Enabled: built with -race.
const Enabled = true
