// Package sdktest holds the tests of cocofy embedded in a Go program
// through Helm's SDK (helm.sh/helm/v3/pkg/action): postrender.Renderer as
// action.Install's PostRenderer, with no cocofy subprocess. They live apart
// from package postrender so that its tests and fuzz target do not build
// Helm's actions and the Kubernetes client.
package sdktest
