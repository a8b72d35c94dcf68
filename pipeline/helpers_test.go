package pipeline_test

import (
	"sync"

	"cocofy.dev/cocofy/image"
)

type imagePin = image.Pin

var countMu sync.Mutex
