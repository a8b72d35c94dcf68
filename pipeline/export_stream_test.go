package pipeline

// WithBatch returns a copy of p whose runs hold n documents at a time.
func WithBatch(p *Pipeline, n int) *Pipeline {
	q := *p
	q.batch = n
	return &q
}
