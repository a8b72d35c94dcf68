// Command cocofy makes Kubernetes workloads run as confidential or sandboxed
// containers on Azure. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"cocofy.dev/cocofy/fn"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := fn.NewCommand(fn.RegistryDeps, fn.WithInputHook(collectSooner)).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cocofy:", err)
		os.Exit(1)
	}
}

// gcPercentLarge is the garbage collector's GOGC while a large stream
// runs: what such a run holds until it ends (the input, the output's text,
// the results) is most of its heap, so the default of 100 would let the
// heap grow to twice that before collecting. The input and output texts
// hold no pointers and cost a collection nothing to mark.
const (
	gcPercentLarge = 50
	largeStream    = 8 << 20
)

// collectSooner lowers GOGC for a stream of size bytes when it is large
// and $GOGC is not set, and returns what restores it.
func collectSooner(size int) (restore func()) {
	if size < largeStream || os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(gcPercentLarge)
	return func() { debug.SetGCPercent(old) }
}
