package pipeline_test

import (
	"sync"

	"cocofy.dev/cocofy/internal/image"
)

type imagePin = image.Pin

var countMu sync.Mutex
