#!/usr/bin/env bash
# Build the real tools the end-to-end tests drive into bin/tools, from the Go
# module proxy only. Versions are the newest that build with Go 1.26 here.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="$PWD/bin/tools"
mkdir -p "$dest"

install() { # name module@version
	local name=$1 mod=$2
	if [[ -x "$dest/$name" && -f "$dest/.$name.version" && "$(cat "$dest/.$name.version")" == "$mod" ]]; then
		return
	fi
	echo "install-tools: building $name from $mod" >&2
	local tmp
	tmp=$(mktemp -d)
	GOBIN="$tmp" go install "$mod"
	mv "$tmp"/* "$dest/$name"
	rmdir "$tmp"
	echo "$mod" >"$dest/.$name.version"
}

install helm helm.sh/helm/v3/cmd/helm@v3.22.0
install kustomize sigs.k8s.io/kustomize/kustomize/v5@v5.8.2
install crane github.com/google/go-containerregistry/cmd/crane@v0.22.1
install helm4 helm.sh/helm/v4/cmd/helm@v4.3.1
install dmverity-vhd github.com/Microsoft/hcsshim/cmd/dmverity-vhd@v0.12.9
