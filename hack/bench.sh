#!/usr/bin/env bash
# make bench: build the Debian rootfs once (debootstrap, needs root and the
# Debian mirror), then run the harness. Results go to out/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
rootfs=out/bench/rootfs
if [[ ! -d $rootfs/usr ]]; then
	command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
	mkdir -p out/bench
	debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >out/bench/debootstrap.log
fi
go run ./hack/bench -rootfs "$rootfs" "$@"
