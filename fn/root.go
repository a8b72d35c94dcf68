package fn

// The root command: flags, the run of the transform (and of verify), and
// the guard that turns a panic into an error.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"

	"cocofy.dev/cocofy/pipeline"
)

// EnvConfig names a config file when no --config flag is given; Helm 4
// plugins cannot pass arguments of their own.
const EnvConfig = "COCOFY_CONFIG"

// Deps are the pipeline's services plus what to do after a successful run.
type Deps struct {
	pipeline.Deps
	// Commit runs after a successful run, before output is written (e.g. it
	// writes an updated lock file). May be nil.
	Commit func() error
}

// EnvProgress set to 1 (true, yes) turns progress lines on, like --progress, for
// callers that cannot pass flags (Helm 4 plugins, kpt).
const EnvProgress = "COCOFY_PROGRESS"

// EnvResults names a file for the run's results, like --results, for
// callers that hide stderr and cannot pass flags (Helm 4 plugins,
// kustomize).
const EnvResults = "COCOFY_RESULTS"

// EnvStrict set to 1, true or yes fails a run that reported any warning,
// like --strict; 0, false or no do not.
const EnvStrict = "COCOFY_STRICT"

// isTerminal reports whether w is a character device (a terminal) other
// than the null device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(st, null)
}

// stderrIsTerminal decides how much goes to stderr. Tests replace it.
var stderrIsTerminal = isTerminal

// DepsFunc builds Deps from a config. Tests inject fixed resolvers here.
// progress receives progress lines on long work (layer hashing): stderr
// when it is a terminal or --progress is given, else io.Discard. stderr is
// the command's, for warnings (e.g. about the cache).
type DepsFunc func(ctx context.Context, c *Config, progress, stderr io.Writer) (Deps, error)

type rootOptions struct {
	// inputHook is called with the size of a plain stream before it is
	// run (WithInputHook).
	inputHook   func(size int) (restore func())
	configPath  string
	quiet       bool
	verbose     bool
	progress    bool
	strict      bool
	resultsPath string
	verify      bool // check only (cocofy verify)
	lock        string
	lockMode    string
	input       inputOptions
}

// Option changes how NewCommand's command runs.
type Option func(*rootOptions)

// WithInputHook has the command call hook with the size of a plain stream
// before running it, and the function hook returns after (cocofy's main
// lowers the garbage collector's target for large streams).
func WithInputHook(hook func(size int) (restore func())) Option {
	return func(o *rootOptions) { o.inputHook = hook }
}

// NewCommand returns cocofy's root command: with no subcommand it reads
// resources on stdin (or from files) and writes them, changed, on stdout.
func NewCommand(deps DepsFunc, opts ...Option) *cobra.Command {
	o := &rootOptions{}
	for _, opt := range opts {
		opt(o)
	}
	cmd := &cobra.Command{
		Use:   "cocofy [-f FILE]... [FILE]...",
		Short: "Make Kubernetes workloads run as confidential or sandboxed containers on Azure",
		Long: `cocofy reads Kubernetes resources on stdin (or from files and folders given
with -f or as arguments) and writes them on stdout with images pinned to
digests, the target's runtimeClassName or virtual-node placement, requests
equal to limits, and (for virtual nodes) the Confidential ACI security
policy attached.

A ResourceList in (kpt, kustomize) gives a ResourceList out; a plain YAML
stream in (Helm --post-renderer) gives a plain stream out. On any error it
exits 1 and writes nothing to stdout.

stderr shows warnings, errors and, after a successful plain stream, a
one-line summary; -v every result (with the values of long corrections),
-q warnings and errors only.
kustomize shows no stderr on success, Helm 4 never: use --results FILE
($` + EnvResults + `) to keep the results, and --strict ($` + EnvStrict + `=1) to
fail on warnings. Under Helm 4 cocofy writes to the terminal itself, and
every run's results to $XDG_STATE_HOME/cocofy/last-results.yaml.`,
		Example: `  helm template web ./chart --post-renderer cocofy --post-renderer-args --config --post-renderer-args cocofy.yaml
  helm template web ./chart | cocofy --strict --config cocofy.yaml
  cocofy -f manifests/ --config cocofy.yaml --results results.yaml
  kustomize build --enable-alpha-plugins --enable-exec examples/kustomize
  kpt fn eval pkg --exec cocofy --fn-config cocofy.yaml`,
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args, deps)
		},
	}
	cmd.SetVersionTemplate("{{.Version}}\n")
	cmd.SuggestionsMinimumDistance = 2
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.AddCommand(newInputPolicyCommand(), newVerifyCommand(deps), newVersionCommand())
	cmd.AddCommand(newFragmentCommand(deps))
	o.addFlags(cmd)
	guard(cmd)
	return cmd
}

// guard turns a panic in cmd or one of its subcommands into an error, so
// that no command prints a Go stack trace: the user sees one error line
// and exit code 1. Panics in goroutines are recovered where they run.
func guard(cmd *cobra.Command) {
	cmd.PreRunE = noPanic(cmd.PreRunE)
	cmd.RunE = noPanic(cmd.RunE)
	for _, sub := range cmd.Commands() {
		guard(sub)
	}
}

func noPanic(f func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	if f == nil {
		return nil
	}
	return func(cmd *cobra.Command, args []string) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("internal error (a bug in cocofy, please report it): %v", r)
			}
		}()
		return f(cmd, args)
	}
}

func (o *rootOptions) addFlags(cmd *cobra.Command) {
	o.input.addFlags(cmd)
	cmd.Flags().StringVar(&o.configPath, "config", "", "config file (kind Cocofy); else the ResourceList's functionConfig, else $"+EnvConfig+"; one is required")
	cmd.Flags().StringVar(&o.lock, "lock", "", "image lock file (overrides spec.images.lockFile)")
	cmd.Flags().StringVar(&o.lockMode, "lock-mode", "", "auto, use (no network) or update (overrides spec.images.lockMode)")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print only warnings and errors on stderr")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "print every result on stderr, also on a terminal and after a failure")
	cmd.Flags().BoolVar(&o.progress, "progress", false, "print layer hashing progress on stderr even when it is not a terminal (also $"+EnvProgress+"=1)")
	cmd.Flags().StringVar(&o.resultsPath, "results", "", "write the run's results to this file as a kpt FunctionResultList, also when it fails (also $"+EnvResults+")")
	cmd.Flags().BoolVar(&o.strict, "strict", false, "fail (exit 1, no output) when any warning is reported (also $"+EnvStrict+"=1, true or yes)")
	cmd.MarkFlagsMutuallyExclusive("quiet", "verbose")
}

// run is one run of the transform or of verify: it reads the input,
// runs the pipeline, prints the results, writes the results file when
// asked, and writes the output only when everything succeeded.
func (o *rootOptions) run(cmd *cobra.Command, args []string, deps DepsFunc) error {
	ctx, stdout := cmd.Context(), cmd.OutOrStdout()
	h4 := newHelm4Door() // nil outside Helm 4
	defer h4.close()
	cmd.SetErr(h4.stderr(cmd.ErrOrStderr())) // progress and lock file lines too
	stderr := cmd.ErrOrStderr()
	tty := stderrIsTerminal(stderr)
	rep := &pipeline.Report{}
	strict, err := o.strictMode()
	var done *transformed
	if err == nil {
		done, err = o.transform(ctx, cmd, args, deps, tty, rep)
	}
	if n := count(rep, framework.Warning); err == nil && strict != "" && n > 0 {
		err = fmt.Errorf("%s: %s reported; no output was written", strict, plural(n, "warning", "warnings"))
	}
	o.print(stderr, rep)
	if err == nil && done.commit != nil {
		err = done.commit()
	}
	path, implicit := o.results(h4)
	if path != "" {
		switch werr := writeResults(path, cmd.CommandPath(), rep, err); {
		case werr != nil && implicit:
			path = "" // Helm 4's file is a help, not a duty
		case werr != nil:
			err = errors.Join(err, fmt.Errorf("--results: %w", werr))
		}
	}
	if err != nil {
		h4.done(path, err, 0)
		return err
	}
	if !o.quiet && !done.isRL {
		fmt.Fprintln(stderr, o.summary(cmd, rep, done))
	}
	h4.done(path, nil, count(rep, framework.Warning))
	_, err = done.out.WriteTo(stdout)
	return err
}
