#!/usr/bin/env bash
# hack/install-tools.sh [TOOL...]: put the tools that the demo, the e2e tests,
# the benchmarks or lock-examples drive into bin/tools, only those named
# (default: all of helm helm4 kustomize crane dmverity-vhd).
#
# A tool already on PATH whose version fits is linked there instead of built
# (helm: `helm version --short` v3.9 or later; helm4: v4; kustomize:
# `kustomize version` v5; crane: v0.20 or later); COCOFY_TOOLS_FROM_PATH=0
# always builds the pinned versions below. dmverity-vhd is always built: the
# tests compare cocofy with exactly hcsshim v0.12.9's.
#
# Builds come from the Go module proxy only, with -trimpath -ldflags "-s -w"
# (no symbol table or DWARF: a faster link, same code), into the Go build
# cache that `make build` fills too. Versions are the newest that build with
# Go 1.26 here. kpt is not built: it comes from apt (google-cloud-cli-kpt) or
# kpt's release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="$PWD/bin/tools"
mkdir -p "$dest"

# name -> module@version
declare -A module=(
	[helm]=helm.sh/helm/v3/cmd/helm@v3.22.0
	[helm4]=helm.sh/helm/v4/cmd/helm@v4.3.1
	[kustomize]=sigs.k8s.io/kustomize/kustomize/v5@v5.8.2
	[crane]=github.com/google/go-containerregistry/cmd/crane@v0.22.1
	[dmverity-vhd]=github.com/Microsoft/hcsshim/cmd/dmverity-vhd@v0.12.9
)
all=(helm helm4 kustomize crane dmverity-vhd)

# fits NAME BINARY: whether BINARY is a version of NAME that the tests and
# the demo accept.
fits() {
	local v
	case $1 in
	helm) v=$("$2" version --short 2>/dev/null) && [[ $v =~ ^v3\.([0-9]+) ]] && ((BASH_REMATCH[1] >= 9)) ;;
	helm4) v=$("$2" version --short 2>/dev/null) && [[ $v =~ ^v4\. ]] ;;
	kustomize) v=$("$2" version 2>/dev/null) && [[ $v =~ ^v5\. ]] ;;
	crane) v=$("$2" version 2>/dev/null) && [[ $v =~ ^v0\.([0-9]+) ]] && ((BASH_REMATCH[1] >= 20)) ;;
	*) return 1 ;;
	esac
}

# candidates NAME: the names to look for on PATH.
candidates() {
	case $1 in
	helm) echo helm3 helm ;;
	helm4) echo helm4 helm ;;
	dmverity-vhd) ;;
	*) echo "$1" ;;
	esac
}

# from_path NAME: link a fitting tool from PATH (outside bin/tools).
from_path() {
	local name=$1 c p
	[[ ${COCOFY_TOOLS_FROM_PATH:-1} == 0 ]] && return 1
	for c in $(candidates "$name"); do
		p=$(command -v "$c" 2>/dev/null) || continue
		p=$(readlink -f "$p")
		[[ $p == "$dest"/* ]] && continue
		if fits "$name" "$p"; then
			ln -sfn "$p" "$dest/$name"
			echo "path $p" >"$dest/.$name.version"
			echo "install-tools: $name: using $p from PATH" >&2
			return 0
		fi
	done
	return 1
}

install() { # name
	local name=$1 mod=${module[$1]} marker="$dest/.$1.version"
	if [[ -x "$dest/$name" && -f $marker ]]; then
		case $(cat "$marker") in
		"$mod") return ;;
		"path "*) fits "$name" "$dest/$name" && [[ ${COCOFY_TOOLS_FROM_PATH:-1} != 0 ]] && return ;;
		esac
	fi
	rm -f "$dest/$name" "$marker"
	from_path "$name" && return
	echo "install-tools: building $name from $mod" >&2
	local tmp start=$SECONDS
	tmp=$(mktemp -d)
	GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "$mod"
	mv "$tmp"/* "$dest/$name"
	rmdir "$tmp"
	echo "$mod" >"$marker"
	echo "install-tools: built $name in $((SECONDS - start))s" >&2
}

(($#)) || set -- "${all[@]}"
for name in "$@"; do
	[[ -n ${module[$name]:-} ]] || { echo "install-tools: unknown tool $name (known: ${all[*]})" >&2; exit 2; }
	install "$name"
done
