#!/usr/bin/env bash
# make bench: build the Debian rootfs once (hack/rootfs.sh: debootstrap, needs
# root and the Debian mirror), then run the harness. Results go to out/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
rootfs=$(bash hack/rootfs.sh)
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time
# The peers, at their pinned versions: one that cannot be built here is
# skipped by the harness, which says so in its figures.
for peer in k8s-digester kbld; do
	bash hack/install-tools.sh "$peer" || echo "bench: $peer could not be built; the bench runs without it" >&2
done
go run ./hack/bench -rootfs "$rootfs" "$@"
