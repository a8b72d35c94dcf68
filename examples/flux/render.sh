#!/usr/bin/env bash
# The CI half of cocofy with Flux: render a chart through cocofy, offline
# from the lock file, and gate the result with cocofy verify. Flux applies
# the output as plain manifests (from a Git path or an OCI artifact); it
# cannot run cocofy itself (see docs/doors.md).
#
#   render.sh CHART RELEASE NAMESPACE CONFIG OUT [HELM_TEMPLATE_ARGS...]
#
# OUT is written only when the render and cocofy verify both pass; on any
# failure the script exits non-zero, prints nothing on stdout and leaves OUT
# as it was. HELM and COCOFY name the binaries (default: helm and cocofy on
# PATH). The workflow in github-actions.yaml calls this script, and so does
# e2e/argocd_test.go (TestFluxRenderAndVerify).
set -euo pipefail

if (($# < 5)); then
	echo "usage: $0 CHART RELEASE NAMESPACE CONFIG OUT [HELM_TEMPLATE_ARGS...]" >&2
	exit 2
fi
chart=$1 release=$2 namespace=$3 config=$4 out=$5
shift 5
helm=${HELM:-helm}
cocofy=${COCOFY:-cocofy}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# helm template, then cocofy on the whole stream: Helm 3's --post-renderer
# skips hooks. --namespace sets .Release.Namespace only (Helm writes no
# metadata.namespace): the Flux Kustomization's targetNamespace sets it, and
# for target virtual-node the config's spec.namespace must name the same
# namespace, since the CCE policy pins fieldRef metadata.namespace.
"$helm" template "$release" "$chart" --namespace "$namespace" "$@" >"$tmp/chart.yaml"
"$cocofy" --quiet --lock-mode use --config "$config" <"$tmp/chart.yaml" >"$tmp/app.yaml"

# The gate: every CCE policy replayed through hcsshim's enforcer and checked
# for drift against the pod spec it was computed from.
"$cocofy" verify --lock-mode use --config "$config" <"$tmp/app.yaml" >/dev/null

mkdir -p "$(dirname "$out")"
cp "$tmp/app.yaml" "$out.tmp"
mv "$out.tmp" "$out"
echo "render.sh: wrote $out" >&2
