# cocofy: make (build), make demo (offline run on the examples), make test.
GO      ?= go
TOOLS   := $(CURDIR)/bin/tools
HELM    := $(TOOLS)/helm
KUSTOMIZE := $(TOOLS)/kustomize
# rego builds in hcsshim's policy enforcer (cocofy verify, and the check of
# every generated policy). Without it both are unavailable.
TAGS    ?= rego
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The tools each target runs: hack/install-tools.sh builds only those (or
# links a fitting one from PATH), after bin/cocofy, so that they reuse the Go
# build cache it filled. kpt is never built: it is used when on PATH.
DEMO_TOOLS := helm kustomize
E2E_TOOLS  := helm helm4 kustomize crane dmverity-vhd

.PHONY: build install tools demo test unit e2e e2e-tools fuzz bench check lock-examples clean

build:
	$(GO) build -tags $(TAGS) -trimpath -ldflags "-X cocofy.dev/cocofy/fn.Version=$(VERSION)" -o bin/cocofy .

# bin/cocofy into $(GOBIN) when set (make's or go env's), else
# ~/.local/bin; INSTALL_DIR=DIR puts it elsewhere. `go install
# cocofy.dev/cocofy` does not work: the module path is not served.
INSTALL_DIR ?= $(or $(GOBIN),$(shell $(GO) env GOBIN),$(HOME)/.local/bin)
install: build
	@mkdir -p "$(INSTALL_DIR)"
	install -m 0755 bin/cocofy "$(INSTALL_DIR)/cocofy"
	@case ":$$PATH:" in *":$(INSTALL_DIR):"*) ;; *) echo "install: $(INSTALL_DIR) is not on PATH; add it, e.g. export PATH=\"$(INSTALL_DIR):\$$PATH\"";; esac

# Every tool (make e2e, bench and lock-examples install only theirs).
tools:
	bash hack/install-tools.sh

# The main job on the bundled examples, through all three doors, with no
# registry access: images come from examples/images.lock.yaml. Writes only
# under out/: the kpt door renders a copy of examples/kpt. Without kpt on
# PATH that door is skipped, with how to get kpt, and the demo still passes.
demo: build
	@bash hack/install-tools.sh $(DEMO_TOOLS)
	@mkdir -p out
	$(HELM) template shop examples/chart/shop --post-renderer bin/cocofy \
		--post-renderer-args --config --post-renderer-args examples/cocofy.yaml > out/helm.yaml
	$(HELM) template shop examples/chart/shop --post-renderer bin/cocofy \
		--post-renderer-args --config --post-renderer-args examples/virtual-node.yaml > out/helm-virtual-node.yaml
	bin/cocofy policy < out/helm-virtual-node.yaml > out/policies.rego
	$(KUSTOMIZE) build --enable-alpha-plugins --enable-exec examples/kustomize > out/kustomize.yaml
	@if command -v kpt >/dev/null; then \
		echo "rm -rf out/kpt && cp -r examples/kpt out/kpt && cd out/kpt && kpt fn render --allow-exec --truncate-output=false"; \
		rm -rf out/kpt && cp -r examples/kpt out/kpt && cd out/kpt && kpt fn render --allow-exec --truncate-output=false; \
	else \
		echo "demo: kpt is not on PATH, so the kpt door was skipped. To run it, install kpt:"; \
		echo "      apt-get install google-cloud-cli-kpt (from Google Cloud's apt repository),"; \
		echo "      or a release binary from https://github.com/kptdev/kpt/releases; then make demo again."; \
	fi
	@echo
	@echo "demo: rendered out/helm.yaml, out/helm-virtual-node.yaml (policies decoded in out/policies.rego),"
	@echo "      out/kustomize.yaml and, with kpt, out/kpt/ (diff -r examples/kpt out/kpt)"

# The e2e tools (helm's build is most of a cold run) are built while the
# unit tests compile and run: two jobs, then e2e and fuzz.
test: check
	$(MAKE) -j2 --output-sync=line unit e2e-tools
	$(MAKE) e2e fuzz

unit:
	$(GO) test -tags $(TAGS) ./...
	# The packages that share compiled state between goroutines (race needs
	# cgo: gcc).
	CGO_ENABLED=1 $(GO) test -race -tags $(TAGS) ./internal/verify ./pipeline
	# A build without the enforcer must say so (these tests need no tag).
	$(GO) test ./pipeline ./internal/verify -run 'TestWithout'


e2e-tools: build
	bash hack/install-tools.sh $(E2E_TOOLS)

e2e: e2e-tools
	COCOFY_BIN=$(CURDIR)/bin/cocofy COCOFY_TOOLS=$(TOOLS) $(GO) test -tags e2e -count=1 ./e2e/...

# A short fuzz pass of each fuzz target.
fuzz:
	TAGS=$(TAGS) bash hack/fuzz.sh 10s

bench: build
	bash hack/install-tools.sh dmverity-vhd
	bash hack/bench.sh

check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	@test $$(wc -l < README.md) -le 250 || { echo "README.md is over 250 lines: move the detail to docs/"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags $(TAGS) ./...
	$(GO) vet -tags e2e ./e2e/...

# Refresh examples/images.lock.yaml from the demo images on a loopback
# registry of its own (crane, on a free port).
lock-examples: build
	bash hack/install-tools.sh helm crane
	HELM=$(HELM) CRANE=$(TOOLS)/crane bash hack/lock-examples.sh --serve

clean:
	rm -rf bin out

# Release files in dist/: cocofy for linux and darwin on amd64 and arm64
# (darwin without hcsshim's enforcer, which is Linux-only), the Helm 4 plugin
# archive and SHA256SUMS. See hack/dist.sh.
.PHONY: dist
dist:
	GO=$(GO) VERSION=$(VERSION) bash hack/dist.sh

# The kpt container function's image (linux/amd64, runs as 65532, built in
# Go: no Docker) as an OCI layout in dist/image, from dist/cocofy-linux-amd64
# built as make dist builds it. Reproducible (file and created times are the
# last commit's, or SOURCE_DATE_EPOCH). Push it yourself: crane push
# dist/image REF, or go run ./hack/image -push REF (the same digest). See
# hack/image and examples/kpt-container.
.PHONY: image
image:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -tags rego -trimpath \
		-ldflags "-s -w -X cocofy.dev/cocofy/fn.Version=$(VERSION)" -o dist/cocofy-linux-amd64 .
	$(GO) run ./hack/image -binary dist/cocofy-linux-amd64 -version $(VERSION) -layout dist/image

# The Argo CD plugin sidecar's image (examples/argocd), built in Go like
# make image, no Docker: ARGOCD_BASE, a base with sh named by digest (e.g.
# debian:bookworm-slim@sha256:…, from crane digest), plus one layer with
# cocofy and a static helm 3 (HELM_VERSION, from the Go module proxy), as an
# OCI layout in dist/argocd-image; runs as 999, no entrypoint (Argo CD gives
# argocd-cmp-server). Needs a linux/amd64 machine (helm is go-installed for
# it). Push it yourself (crane push dist/argocd-image REF) and map the name
# cocofy-argocd-cmp to REF@sha256:… (kustomize images:, or the chart values).
# With COCOFY_RELEASES (where releases are published) it takes the
# cocofy-linux-amd64 of release COCOFY_VERSION instead of building one,
# checked against the release's SHA256SUMS (hack/fetch-release.sh);
# ARGOCD_COCOFY=FILE takes a binary you have.
HELM_VERSION ?= v3.22.0
COCOFY_VERSION ?= v0.1.0
ifneq ($(COCOFY_RELEASES),)
ARGOCD_COCOFY ?= dist/release/cocofy-linux-amd64
endif
.PHONY: argocd-image
argocd-image:
	@test -n "$(ARGOCD_BASE)" || { echo "argocd-image: give ARGOCD_BASE=REPO@sha256:… (a base with sh, e.g. debian:bookworm-slim, by digest)"; exit 2; }
ifeq ($(ARGOCD_COCOFY),)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -tags rego -trimpath \
		-ldflags "-s -w -X cocofy.dev/cocofy/fn.Version=$(VERSION)" -o dist/cocofy-linux-amd64 .
else ifeq ($(ARGOCD_COCOFY),dist/release/cocofy-linux-amd64)
	bash hack/fetch-release.sh $(COCOFY_VERSION) linux-amd64 dist/release
endif
	CGO_ENABLED=0 GOBIN=$(CURDIR)/dist/argocd $(GO) install -trimpath -ldflags "-s -w" helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	$(GO) run ./hack/image -binary $(or $(ARGOCD_COCOFY),dist/cocofy-linux-amd64) \
		-argocd-cmp "$(ARGOCD_BASE)" -helm dist/argocd/helm -layout dist/argocd-image
