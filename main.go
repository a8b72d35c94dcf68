// Command cocofy makes Kubernetes workloads run as confidential or sandboxed
// containers on Azure. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"cocofy.dev/cocofy/fn"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := fn.NewCommand(fn.RegistryDeps).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cocofy:", err)
		os.Exit(1)
	}
}
