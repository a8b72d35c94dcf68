#!/usr/bin/env bash
# A short pass of every fuzz target: hack/fuzz.sh [duration per target].
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-10s}
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $target ($time)"
		go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$time"
	done
done
