#!/usr/bin/env bash
# hack/rootfs.sh DIR: a Debian bookworm minbase rootfs in DIR (about 200 MB),
# for the realistic layer of the e2e tests and the benchmarks. Needs root and
# the Debian mirror; does nothing when DIR already holds one.
set -euo pipefail
dir=${1:?usage: hack/rootfs.sh DIR}
[[ -d $dir/usr/bin ]] && exit 0
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
command -v debootstrap >/dev/null || { $sudo apt-get update -qq || true; $sudo apt-get install -y -qq debootstrap; }
mkdir -p "$(dirname "$dir")"
log=$(mktemp)
if ! $sudo debootstrap --variant=minbase bookworm "$dir" http://deb.debian.org/debian >"$log" 2>&1; then
	tail -20 "$log" >&2
	echo "hack/rootfs.sh: debootstrap failed (full log: $log)" >&2
	exit 1
fi
