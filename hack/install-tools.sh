#!/usr/bin/env bash
# hack/install-tools.sh [TOOL...]: put the tools that the demo, the e2e tests,
# the benchmarks or lock-examples drive into bin/tools, only those named
# (default: all of helm helm4 kustomize crane dmverity-vhd; the benchmark's
# peers k8s-digester and kbld only when named, by make bench).
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
#
# The benchmark's peers are built at their pinned versions, never taken from
# PATH. When `go install mod@version` is refused (a replace directive in the
# tool's go.mod, say), the exact version is fetched with `go mod download`
# and built with -mod=mod. The module proxy this project reaches refuses
# carvel.dev/kbld at every version (403): then kbld is built from a checkout
# of its tag named by COCOFY_KBLD_SRC (git checkout v0.42.0 of
# carvel-dev/kbld; its dependencies still come from the proxy), or not at
# all, and make bench says so and skips it.
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
	[k8s-digester]=github.com/google/k8s-digester@v0.1.16
	[kbld]=carvel.dev/kbld/cmd/kbld@v0.42.0
)
all=(helm helm4 kustomize crane dmverity-vhd)
peers=(k8s-digester kbld)

# modroot MOD@VERSION: the module path of a package path, for the peers.
modroot() {
	case $1 in
	carvel.dev/kbld/*) echo carvel.dev/kbld ;;
	*) echo "${1%@*}" ;;
	esac
}

# build_fallback NAME DIR: build a peer that go install refused, from the
# exact version from go mod download, else from its COCOFY_<NAME>_SRC
# checkout, into DIR.
build_fallback() {
	local name=$1 out=$2 mod=${module[$1]} root ver pkg src work
	ver=${mod##*@}
	pkg=${mod%@*}
	root=$(modroot "$mod")
	work=$(mktemp -d)
	if src=$(go mod download -json "$root@$ver" 2>/dev/null | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') && [[ -n $src ]]; then
		echo "install-tools: $name: go install refused; building $root@$ver from go mod download with -mod=mod" >&2
	else
		local var=COCOFY_${name^^}_SRC
		var=${var//-/_}
		src=${!var:-}
		if [[ -z $src ]]; then
			echo "install-tools: $name: the Go module proxy serves no $root@$ver; set $var to a checkout of its $ver tag" >&2
			rm -rf "$work"
			return 1
		fi
		if [[ -d $src/.git ]] && [[ $(git -C "$src" describe --tags --exact-match 2>/dev/null) != "$ver" ]]; then
			echo "install-tools: $name: $src is not at tag $ver" >&2
			rm -rf "$work"
			return 1
		fi
		echo "install-tools: $name: building $root@$ver from $src ($var) with -mod=mod" >&2
	fi
	cp -r "$src/." "$work"
	chmod -R u+w "$work"
	(cd "$work" && GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -ldflags "-s -w" -o "$out/$name" "./${pkg#"$root"}")
	rm -rf "$work"
}

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
	dmverity-vhd | k8s-digester | kbld) ;;
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
	if [[ " ${peers[*]} " == *" $name "* ]]; then
		GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "$mod" 2>"$tmp.err" ||
			{ sed 's/^/install-tools: /' "$tmp.err" >&2; rm -f "$tmp"/*; build_fallback "$name" "$tmp"; } ||
			{ rm -rf "$tmp" "$tmp.err"; return 1; }
		rm -f "$tmp.err"
	else
		GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "$mod"
	fi
	mv "$tmp"/* "$dest/$name"
	rmdir "$tmp"
	echo "$mod" >"$marker"
	echo "install-tools: built $name in $((SECONDS - start))s" >&2
}

(($#)) || set -- "${all[@]}"
for name in "$@"; do
	[[ -n ${module[$name]:-} ]] || { echo "install-tools: unknown tool $name (known: ${all[*]} ${peers[*]})" >&2; exit 2; }
	install "$name"
done
