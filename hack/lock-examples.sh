#!/usr/bin/env bash
# Rewrite examples/images.lock.yaml (or $LOCK) from a live registry holding
# the demo images (see hack/demoimages). Every example's images go into one
# stream, so the lock file covers all of them.
#
# The examples name their images localhost:5001/...; the registry that holds
# them may listen anywhere: REGISTRY=localhost:PORT (default localhost:5001)
# is asked instead, and the lock file still names localhost:5001. Digests do
# not depend on the registry's address.
#
# hack/lock-examples.sh --serve starts its own registry first (crane registry
# serve on a free loopback port, $CRANE or bin/tools/crane), pushes the demo
# images to it, and stops it at the end: nothing needs to listen on 5001.
set -euo pipefail
cd "$(dirname "$0")/.."
helm=${HELM:-bin/tools/helm}
lock=${LOCK:-examples/images.lock.yaml}
named=localhost:5001
work=$(mktemp -d)
pid=""
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT

if [[ ${1:-} == --serve ]]; then
	log=$work/crane.log
	"${CRANE:-bin/tools/crane}" registry serve --address 127.0.0.1:0 2>"$log" &
	pid=$!
	# crane reports the port its own listener got: whatever answers there is
	# this crane, not something else that happened to listen on a fixed port.
	for _ in $(seq 100); do
		port=$(sed -n 's/.*serving on port \([0-9][0-9]*\).*/\1/p' "$log")
		[[ -n $port ]] && break
		kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
		sleep 0.1
	done
	[[ -n ${port:-} ]] || { echo "lock-examples: crane did not start: $(cat "$log")" >&2; exit 1; }
	export REGISTRY=localhost:$port
	go run ./hack/demoimages -registry "$REGISTRY"
fi
registry=${REGISTRY:-$named}

# The references as the registry knows them, and back.
to_registry() { sed "s#$named/#$registry/#g"; }
to_named() { sed "s#$registry/#$named/#g"; }

[[ -f $lock ]] && to_registry <"$lock" >"$work/lock.yaml"
{
	"$helm" template shop examples/chart/shop
	for f in examples/kustomize/web.yaml examples/kpt/api.yaml examples/kpt/report.yaml; do
		echo ---
		cat "$f"
	done
} | to_registry | bin/cocofy --quiet --config hack/lock-config.yaml --lock "$work/lock.yaml" --lock-mode update >/dev/null
to_named <"$work/lock.yaml" >"$work/named.yaml"
cp "$work/named.yaml" "$lock"
