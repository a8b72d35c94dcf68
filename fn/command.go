package fn

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/kio"

	"cocofy.dev/cocofy/pipeline"
	"cocofy.dev/cocofy/postrender"
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

// EnvProgress set to 1 turns progress lines on, like --progress, for
// callers that cannot pass flags (Helm 4 plugins, kpt).
const EnvProgress = "COCOFY_PROGRESS"

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// DepsFunc builds Deps from a config. Tests inject fixed resolvers here.
// progress receives progress lines on long work (layer hashing): stderr
// when it is a terminal or --progress is given, else io.Discard.
type DepsFunc func(ctx context.Context, c *Config, progress io.Writer) (Deps, error)

type rootOptions struct {
	configPath string
	quiet      bool
	progress   bool
	verify     bool // check only (cocofy verify)
	lock       string
	lockMode   string
}

// NewCommand returns cocofy's root command: with no subcommand it reads
// resources on stdin and writes them, changed, on stdout.
func NewCommand(deps DepsFunc) *cobra.Command {
	o := &rootOptions{}
	cmd := &cobra.Command{
		Use:   "cocofy",
		Short: "Make Kubernetes workloads run as confidential or sandboxed containers on Azure",
		Long: `cocofy reads Kubernetes resources on stdin and writes them on stdout with
images pinned to digests, the target's runtimeClassName or virtual-node
placement, requests equal to limits, and (for virtual nodes) the Confidential
ACI security policy attached.

A ResourceList in (kpt, kustomize) gives a ResourceList out; a plain YAML
stream in (Helm --post-renderer) gives a plain stream out. On any error it
exits 1 and writes nothing to stdout.`,
		Example: `  helm template web ./chart --post-renderer cocofy --post-renderer-args --config --post-renderer-args cocofy.yaml
  kustomize build --enable-alpha-plugins --enable-exec examples/kustomize
  kpt fn eval pkg --exec cocofy --fn-config cocofy.yaml`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), deps)
		},
	}
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.AddCommand(newPolicyCommand(), newVerifyCommand(deps), newVersionCommand())
	o.addFlags(cmd)
	return cmd
}

// newVerifyCommand is `cocofy verify`: the same input, config and doors as
// the transform, but it only checks.
func newVerifyCommand(deps DepsFunc) *cobra.Command {
	o := &rootOptions{verify: true}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the CCE policy of every workload with hcsshim's enforcer, and for drift",
		Long: `verify reads resources like cocofy does (a plain stream or a ResourceList,
with the same config) and writes them back unchanged, with results. For each
workload with a ` + pipeline.AnnotationCCEPolicy + ` annotation it
replays what the Confidential ACI guest does to start the pod (mount each
layer, mount the overlay, create each container with the command, env,
mounts, user and capabilities of the pod spec) with hcsshim's own Rego
enforcer, and reports every container the guest would deny or change, with
the framework's reason. It also recomputes the policy from the spec and
reports the fields that drifted. Allow-all and debug policies are warnings.
Any error exits 1 with no stdout.

Use it as a kpt validator (exec: "cocofy verify") or a kustomize validator
(exec args [verify]).`,
		Example:       `  helm template web ./chart --post-renderer cocofy | cocofy verify --config cocofy.yaml > /dev/null`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), deps)
		},
	}
	o.addFlags(cmd)
	return cmd
}

func (o *rootOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.configPath, "config", "", "config file (kind Cocofy); default: the ResourceList's functionConfig, then $"+EnvConfig+", then built-in defaults")
	cmd.Flags().StringVar(&o.lock, "lock", "", "image lock file (overrides spec.images.lockFile)")
	cmd.Flags().StringVar(&o.lockMode, "lock-mode", "", "auto, use (no network) or update (overrides spec.images.lockMode)")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print only warnings and errors on stderr")
	cmd.Flags().BoolVar(&o.progress, "progress", false, "print layer hashing progress on stderr even when it is not a terminal (also $"+EnvProgress+"=1)")
}

func (o *rootOptions) run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, deps DepsFunc) error {
	in, err := io.ReadAll(stdin)
	if err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	rw, items, isRL, err := readResourceList(in, stderr)
	if err != nil {
		return err
	}
	cfg, err := o.config(rw, isRL)
	if err != nil {
		return err
	}
	if err := o.override(cfg); err != nil {
		return err
	}
	if o.verify {
		// Only virtual-node pods carry policies; verify needs their image
		// facts with layer root hashes whatever the config's target.
		// Pods must carry policies when the config says they get them.
		attach := cfg.Spec.Target == pipeline.TargetVirtualNode && (cfg.Spec.Policy.Attach == nil || *cfg.Spec.Policy.Attach)
		cfg.Spec.Target, cfg.Spec.Policy.Attach = pipeline.TargetVirtualNode, &attach
	}
	progress := io.Discard
	if !o.quiet && (o.progress || os.Getenv(EnvProgress) == "1" || isTerminal(stderr)) {
		progress = stderr
	}
	d, err := deps(ctx, cfg, progress)
	if err != nil {
		return err
	}
	p, err := pipeline.New(cfg.Spec, d.Deps)
	if err != nil {
		return err
	}
	if o.verify {
		p, d.Commit = p.Verifier(), nil
	}
	out := &bytes.Buffer{}
	if isRL {
		err = runResourceList(ctx, p, rw, items, out, stderr)
	} else {
		r := &postrender.Renderer{Pipeline: p, Context: ctx, Log: stderr, Quiet: o.quiet}
		var res *bytes.Buffer
		if res, err = r.Run(bytes.NewBuffer(in)); err == nil {
			out = res
		}
	}
	if err != nil {
		return err
	}
	if d.Commit != nil {
		if err := d.Commit(); err != nil {
			return err
		}
	}
	_, err = out.WriteTo(stdout)
	return err
}

// override applies the --lock and --lock-mode flags to cfg.
func (o *rootOptions) override(cfg *Config) error {
	if o.lock == "" && o.lockMode == "" {
		return nil
	}
	if o.lock != "" {
		cfg.Spec.Images.LockFile = o.lock
		cfg.dir = ""
	}
	if o.lockMode != "" {
		cfg.Spec.Images.LockMode = o.lockMode
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid flags: %w", err)
	}
	return nil
}

// config picks the config: --config, then the functionConfig, then
// $COCOFY_CONFIG, then defaults.
func (o *rootOptions) config(rw *kio.ByteReadWriter, isRL bool) (*Config, error) {
	if o.configPath != "" {
		return LoadConfigFile(o.configPath)
	}
	if isRL && rw.FunctionConfig != nil {
		s, err := rw.FunctionConfig.String()
		if err != nil {
			return nil, fmt.Errorf("reading functionConfig: %w", err)
		}
		c, err := ParseConfig([]byte(s), "")
		if err != nil {
			return nil, fmt.Errorf("functionConfig: %w", err)
		}
		return c, nil
	}
	if path := os.Getenv(EnvConfig); path != "" {
		return LoadConfigFile(path)
	}
	return DefaultConfig(), nil
}

// Version is set at build time with -ldflags "-X cocofy.dev/cocofy/fn.Version=v0.1.0".
var Version = "dev"

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print cocofy's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "cocofy", Version)
		},
	}
}
