package pipeline

// SetStreamBatch sets how many documents RunStream holds at a time, and
// returns a function that restores it.
func SetStreamBatch(n int) func() {
	old := streamBatch
	streamBatch = n
	return func() { streamBatch = old }
}
