package fn

// cocofy version.

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"cocofy.dev/cocofy/internal/verify"
)

// Version is set at build time with -ldflags "-X cocofy.dev/cocofy/fn.Version=v0.1.0".
var Version = "dev"

// versionString is what --version and the version command print: the
// version (else the module version go install recorded), the Go version
// and platform, and whether hcsshim's enforcer is built in.
func versionString() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	enforcer := "enforcer built in"
	if !verify.Enabled() {
		enforcer = "enforcer not built in: virtual-node policies are not checked and verify fails (build with -tags rego)"
	}
	return fmt.Sprintf("cocofy %s (%s %s/%s, %s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH, enforcer)
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print cocofy's version, its Go version and whether the enforcer is built in",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), versionString())
		},
	}
}
