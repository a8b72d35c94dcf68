#!/usr/bin/env bash
# make bench: build the Debian rootfs once (hack/rootfs.sh: debootstrap, needs
# root and the Debian mirror), then run the harness. Results go to out/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
rootfs=${COCOFY_ROOTFS:-out/rootfs}
bash hack/rootfs.sh "$rootfs"
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time
go run ./hack/bench -rootfs "$rootfs" "$@"
