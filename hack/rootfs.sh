#!/usr/bin/env bash
# hack/rootfs.sh [DIR]: a Debian bookworm minbase rootfs in DIR (about 200
# MB), for the realistic layer of the e2e tests and the benchmarks, and its
# path on stdout. DIR defaults to $COCOFY_ROOTFS, else a folder of the
# user's cache ($XDG_CACHE_HOME or ~/.cache, cocofy-dev/rootfs-bookworm),
# so that every clone on a machine shares one. Needs root (or sudo) and the
# Debian mirror the first time; does nothing when DIR already holds one. It
# is made in a folder beside DIR and renamed when complete, so that an
# interrupted run leaves no half rootfs behind.
set -euo pipefail
dir=${1:-${COCOFY_ROOTFS:-${XDG_CACHE_HOME:-$HOME/.cache}/cocofy-dev/rootfs-bookworm}}
if [[ -d $dir/usr/bin ]]; then
	echo "$dir"
	exit 0
fi
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
command -v debootstrap >/dev/null || { $sudo apt-get update -qq || true; $sudo apt-get install -y -qq debootstrap >&2; }
mkdir -p "$(dirname "$dir")"
tmp="$dir.partial.$$"
log=$(mktemp)
trap '$sudo rm -rf "$tmp"' EXIT
if ! $sudo debootstrap --variant=minbase bookworm "$tmp" http://deb.debian.org/debian >"$log" 2>&1; then
	tail -20 "$log" >&2
	echo "hack/rootfs.sh: debootstrap failed (full log: $log)" >&2
	exit 1
fi
$sudo mv "$tmp" "$dir"
echo "$dir"
