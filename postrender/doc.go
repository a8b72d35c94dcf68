// Package postrender is cocofy's Helm adapter: it runs the pipeline over a
// plain multi-document YAML stream, as `helm template/install
// --post-renderer` (Helm 3) or a postrenderer/v1 plugin (Helm 4) hand it.
//
// The output is a plain stream again: Helm's "# Source:" comments and Helm
// 4's postrenderer.helm.sh/postrender-filename annotation are kept, and no
// kyaml bookkeeping annotation (config.kubernetes.io/*,
// internal.config.kubernetes.io/*) leaks into it. Renderer is a Helm 3 SDK
// pkg/postrender.PostRenderer (checked at compile time; that package is all
// of Helm this one imports), so a Go program that embeds Helm sets it as
// action.Install's PostRenderer; the tests in sdktest do so.
package postrender
