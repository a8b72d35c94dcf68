package fn

import (
	"io"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// CountWholeReads counts the plain streams read whole (not one document at
// a time), until the returned function restores the reader.
func CountWholeReads(n *int) (restore func()) {
	old := readWhole
	readWhole = func(r io.Reader) ([]*yaml.RNode, error) {
		*n++
		return old(r)
	}
	return func() { readWhole = old }
}
