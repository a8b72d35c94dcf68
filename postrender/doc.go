// Package postrender is cocofy's Helm adapter: it runs the pipeline over a
// plain multi-document YAML stream, as `helm template/install
// --post-renderer` (Helm 3) or a postrenderer/v1 plugin (Helm 4) hand it.
//
// The output is a plain stream again: Helm's "# Source:" comments and Helm
// 4's postrenderer.helm.sh/postrender-filename annotation are kept, and no
// kyaml bookkeeping annotation (config.kubernetes.io/*,
// internal.config.kubernetes.io/*) leaks into it. Renderer satisfies Helm 3's
// pkg/postrender.PostRenderer interface without importing Helm.
package postrender
