// Package fn is cocofy's front door: the root command, the configuration
// type shared by every door, and the KRM function that reads and writes a
// ResourceList (kpt fn render/eval, kustomize exec transformers).
//
// The root command looks at its input: a ResourceList is handled here, and
// a plain YAML stream (Helm's --post-renderer) goes to package postrender.
// Both run the same pipeline.Pipeline built from the same Config.
package fn
