# cocofy as a container KRM function (kpt fn render / kustomize container
# functions). Build: docker build -t ghcr.io/cocofy/cocofy:dev .
#
# The function needs registry access to pin images and hash layers unless a
# lock file is used (spec.images.lockMode: use); run it with network and
# credentials only when you need them (see README "Authentication").
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -tags rego -trimpath -ldflags="-s -w" -o /out/cocofy .

# distroless static, non-root (uid 65532). Pin this to a digest in your
# release pipeline, e.g. with cocofy itself.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cocofy /usr/local/bin/cocofy
USER 65532:65532
ENV XDG_CACHE_HOME=/tmp/cache
ENTRYPOINT ["/usr/local/bin/cocofy"]
