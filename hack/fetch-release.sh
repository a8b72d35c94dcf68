#!/usr/bin/env bash
# hack/fetch-release.sh VERSION PLATFORM DIR: download cocofy-PLATFORM
# (linux-amd64, darwin-arm64, ...) of release VERSION from
# $COCOFY_RELEASES/VERSION/ into DIR, with the release's SHA256SUMS, and
# check it against them, as the README's Install section does; print the
# binary's path. A binary that does not match fails, and is removed.
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 VERSION PLATFORM DIR" >&2; exit 2; }
version=$1 platform=$2 dir=$3
: "${COCOFY_RELEASES:?where cocofy releases are published, e.g. https://HOST/cocofy/releases/download}"
mkdir -p "$dir"
cd "$dir"
curl -fsSLO "$COCOFY_RELEASES/$version/cocofy-$platform"
curl -fsSLO "$COCOFY_RELEASES/$version/SHA256SUMS"
if ! grep " cocofy-$platform\$" SHA256SUMS | sha256sum -c - >&2; then
	rm -f "cocofy-$platform"
	echo "fetch-release: cocofy-$platform of $version does not match its SHA256SUMS" >&2
	exit 1
fi
chmod 0755 "cocofy-$platform"
echo "$PWD/cocofy-$platform"
