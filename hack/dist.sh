#!/usr/bin/env bash
# hack/dist.sh [plugin]: release files into dist/ (make dist):
#
#   cocofy-{linux,darwin}-{amd64,arm64}  static binaries (CGO_ENABLED=0,
#                                        -tags rego, -trimpath, the version
#                                        in fn.Version, no symbol table)
#   cocofy-<version>.tgz                 the Helm 4 plugin (cocofy/plugin.yaml):
#                                        helm plugin install --verify=false <it>
#   SHA256SUMS                           sha256sum -c SHA256SUMS
#
# With "plugin", only the plugin archive (the e2e tests install it).
#
# hcsshim's enforcer (cocofy verify, and the check of each generated CCE
# policy) builds on Linux only: the darwin binaries are built without it and
# say so on every policy they write. The archives are reproducible: fixed
# owner, mode order and mtime (the last commit's, or SOURCE_DATE_EPOCH).
#
# VERSION (default: git describe) is the binaries' version; when it is semver
# (v1.2.3, 1.2.3-rc.1) it is the plugin's too, else the plugin keeps the
# version in postrender/cocofy/plugin.yaml. DIST (default dist) is the output
# folder, emptied first. Needs GNU tar (--sort, --mtime) and sha256sum.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
DIST=${DIST:-dist}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
platforms=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64)

plugin() {
	local src=postrender/cocofy version
	version=$(sed -n 's/^version: *//p' "$src/plugin.yaml")
	if [[ $VERSION =~ ^v?([0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?)$ ]]; then
		version=${BASH_REMATCH[1]}
	fi
	local stage
	stage=$(mktemp -d)
	trap 'rm -rf "$stage"' RETURN
	mkdir "$stage/cocofy"
	sed "s/^version: .*/version: $version/" "$src/plugin.yaml" > "$stage/cocofy/plugin.yaml"
	# Helm 4 installs <name>-<version>.tgz as plugin folder <name>, from the
	# archive's top folder of that name.
	local out="$DIST/cocofy-$version.tgz"
	tar --sort=name --owner=0 --group=0 --numeric-owner --mode=u+rwX,go+rX,go-w \
		--mtime="@$SOURCE_DATE_EPOCH" -C "$stage" -cf - cocofy | gzip -n -9 > "$out"
	echo "$out"
}

if [[ ${1:-} == plugin ]]; then
	mkdir -p "$DIST"
	plugin
	exit 0
fi
[[ $# -eq 0 ]] || { echo "usage: $0 [plugin]" >&2; exit 2; }

rm -rf "$DIST"
mkdir -p "$DIST"
for p in "${platforms[@]}"; do
	os=${p%/*} arch=${p#*/}
	start=$SECONDS
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch $GO build -tags rego -trimpath \
		-ldflags "-s -w -X cocofy.dev/cocofy/fn.Version=$VERSION" -o "$DIST/cocofy-$os-$arch" .
	# internal/verify/uvm.go is the enforcer (linux && rego), uvm_stub.go the
	# stand-in that makes `cocofy version` and every policy say it is missing.
	files=$(CGO_ENABLED=0 GOOS=$os GOARCH=$arch $GO list -tags rego -f '{{join .GoFiles " "}}' ./internal/verify)
	case " $files " in
	*" uvm.go "*) enforcer="enforcer built in" ;;
	*) enforcer="enforcer NOT built in (hcsshim's enforcer is Linux-only)" ;;
	esac
	echo "$DIST/cocofy-$os-$arch: $enforcer ($((SECONDS - start))s)"
done
plugin
(cd "$DIST" && sha256sum -- cocofy-* > SHA256SUMS)
echo "$DIST/SHA256SUMS"

# The host's binary runs: it reports the version it was given.
host="$DIST/cocofy-$($GO env GOOS)-$($GO env GOARCH)"
if [[ -x $host ]]; then
	"$host" version 2>/dev/null | grep -qF -- "$VERSION" || { echo "dist: $host does not report version $VERSION" >&2; exit 1; }
fi
