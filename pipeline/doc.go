// Package pipeline holds cocofy's shared stages: the edits every door (Helm
// post-renderer, kustomize transformer, kpt function) makes to a stream of
// Kubernetes resources.
//
// A Pipeline is built once from Options and Deps and run over a slice of
// kyaml RNodes. It edits nodes in place, keeping comments and field order,
// and reports every change and problem as a framework.Result that names the
// resource and the field. A run that produced any error-severity result
// returns an error, and callers must then write no output.
//
// The package does not read stdin, write stdout, parse flags or import Helm;
// the adapters in fn and postrender do that.
package pipeline
