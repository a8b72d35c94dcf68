#!/usr/bin/env bash
# Rewrite examples/images.lock.yaml from a live registry holding the demo
# images (see hack/demoimages). Every example's images go into one stream, so
# the lock file covers all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
helm=${HELM:-bin/tools/helm}
{
	"$helm" template shop examples/chart/shop
	for f in examples/kustomize/web.yaml examples/kpt/api.yaml examples/kpt/report.yaml; do
		echo ---
		cat "$f"
	done
} | bin/cocofy --quiet --config hack/lock-config.yaml --lock "${LOCK:-examples/images.lock.yaml}" --lock-mode update >/dev/null
