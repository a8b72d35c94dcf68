package fn_test

import (
	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/pipeline"
)

func pipelineDeps() pipeline.Deps {
	return pipeline.Deps{Resolver: fixed.Resolver{Fail: map[string]error{
		"fail.invalid/app:1": errUnreachable,
	}}, Inspector: fixed.Inspector{}}
}
