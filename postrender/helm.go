package postrender

import helmpostrender "helm.sh/helm/v3/pkg/postrender"

// Renderer is a Helm 3 SDK post-renderer: a Go program that embeds Helm sets
// it as action.Install.PostRenderer (or Upgrade's) and needs no cocofy
// subprocess. pkg/postrender is an interface and Helm's exec renderer, with
// no Kubernetes client: the cocofy binary does not link Helm's actions.
var _ helmpostrender.PostRenderer = (*Renderer)(nil)
