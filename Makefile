# cocofy: make (build), make demo (offline run on the examples), make test.
GO      ?= go
TOOLS   := $(CURDIR)/bin/tools
HELM    := $(TOOLS)/helm
KUSTOMIZE := $(TOOLS)/kustomize
# rego builds in hcsshim's policy enforcer (cocofy verify, and the check of
# every generated policy). Without it both are unavailable.
TAGS    ?= rego
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build tools demo test unit e2e fuzz bench check lock-examples clean

build:
	$(GO) build -tags $(TAGS) -trimpath -ldflags "-X cocofy.dev/cocofy/fn.Version=$(VERSION)" -o bin/cocofy .

tools:
	bash hack/install-tools.sh

# The main job on the bundled examples, through all three doors, with no
# registry access: images come from examples/images.lock.yaml.
demo: build tools
	@mkdir -p out
	$(HELM) template shop examples/chart/shop --post-renderer bin/cocofy \
		--post-renderer-args --config --post-renderer-args examples/cocofy.yaml > out/helm.yaml
	$(HELM) template shop examples/chart/shop --post-renderer bin/cocofy \
		--post-renderer-args --config --post-renderer-args examples/virtual-node.yaml > out/helm-virtual-node.yaml
	bin/cocofy policy < out/helm-virtual-node.yaml > out/policies.rego
	$(KUSTOMIZE) build --enable-alpha-plugins --enable-exec examples/kustomize > out/kustomize.yaml
	rm -rf out/kpt && cp -r examples/kpt out/kpt
	cd out/kpt && kpt fn render --allow-exec --truncate-output=false
	@echo
	@echo "demo: rendered out/helm.yaml, out/helm-virtual-node.yaml (policies decoded in out/policies.rego),"
	@echo "      out/kustomize.yaml and out/kpt/ (diff -r examples/kpt out/kpt)"

test: check unit e2e fuzz

unit:
	$(GO) test -tags $(TAGS) ./...
	# A build without the enforcer must say so (these tests need no tag).
	$(GO) test ./pipeline ./internal/verify -run 'TestWithout'


e2e: build tools
	COCOFY_BIN=$(CURDIR)/bin/cocofy COCOFY_TOOLS=$(TOOLS) $(GO) test -tags e2e -count=1 ./e2e/...

# A short fuzz pass of each fuzz target.
fuzz:
	bash hack/fuzz.sh 10s

bench: build tools
	bash hack/bench.sh

check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags $(TAGS) ./...
	$(GO) vet -tags e2e ./e2e/...

# Refresh examples/images.lock.yaml from the demo images on a loopback registry.
lock-examples: build tools
	$(TOOLS)/crane registry serve --address 127.0.0.1:5001 & pid=$$!; trap "kill $$pid" EXIT; \
		sleep 1 && $(GO) run ./hack/demoimages && HELM=$(HELM) bash hack/lock-examples.sh

clean:
	rm -rf bin out
