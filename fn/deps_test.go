package fn_test

import (
	"context"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/pipeline"
)

// noGroupImage is an image whose /etc/group defines groups 0 and 1000 but
// not 1001, the GID bitnami's charts run as.
const noGroupImage = "registry.example/bitnami/postgresql:17"

func pipelineDeps() pipeline.Deps {
	pinned := noGroupImage + "@" + fixed.Digest(noGroupImage)
	f, err := fixed.Inspector{}.Inspect(context.Background(), pinned, image.DefaultPlatform)
	if err != nil {
		panic(err) // fixed's facts never fail
	}
	f.Layers[0].EtcGroup = &image.EtcGroup{Change: image.EtcGroupWritten, GIDs: []uint32{0, 1000}}
	f.Layers[1].EtcGroup = &image.EtcGroup{Change: image.EtcGroupKept}
	return pipeline.Deps{Resolver: fixed.Resolver{Fail: map[string]error{
		"fail.invalid/app:1": errUnreachable,
	}}, Inspector: fixed.Inspector{Facts: map[string]image.Facts{pinned: f}}}
}
