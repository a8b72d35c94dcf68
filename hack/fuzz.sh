#!/usr/bin/env bash
# A short pass of every fuzz target: hack/fuzz.sh [duration per target].
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-10s}
# The tags of make test: FuzzPolicyReference (internal/verify) needs
# hcsshim's Rego enforcer.
tags=${TAGS:-rego}
for pkg in $(go list -tags "$tags" ./...); do
	for target in $(go test -tags "$tags" -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $target ($time)"
		go test -tags "$tags" "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$time"
	done
done
