package fn

// The transform: the input read, the config chosen, the pipeline run.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/pipeline"
)

// transformed is a successful run, before anything is written.
type transformed struct {
	out io.WriterTo
	// nodes are the resources when they were read whole, else nil and
	// workloads counts the workloads.
	nodes     []*yaml.RNode
	workloads int
	isRL      bool
	// commit writes the updated lock file; may be nil.
	commit        func() error
	workloadPaths []pipeline.WorkloadPath
}

// transform reads the input and runs the pipeline over it, adding its
// results to rep.
func (o *rootOptions) transform(ctx context.Context, cmd *cobra.Command, args []string, deps DepsFunc, tty bool, rep *pipeline.Report) (*transformed, error) {
	in, err := o.input.read(cmd, args)
	if err != nil {
		return nil, err
	}
	stderr := cmd.ErrOrStderr()
	rw, items, isRL, err := readResourceList(in, rep)
	if err != nil {
		return nil, err
	}
	cfg, err := o.config(rw, isRL)
	if err != nil {
		return nil, err
	}
	if err := o.override(cfg); err != nil {
		return nil, err
	}
	progress := io.Discard
	envProgress, _ := envBool(EnvProgress) // a typo only costs progress lines
	if !o.quiet && (o.progress || envProgress || tty) {
		progress = stderr
	}
	d, err := deps(ctx, cfg, progress, stderr)
	if err != nil {
		return nil, err
	}
	p, err := pipeline.New(cfg.Spec, d.Deps)
	if err != nil {
		return nil, err
	}
	if o.verify {
		p, d.Commit = p.Verifier(), nil
	}
	done := &transformed{isRL: isRL, commit: d.Commit, workloadPaths: cfg.Spec.WorkloadPaths}
	var runRep *pipeline.Report
	if isRL {
		done.nodes = items
		out := &bytes.Buffer{}
		runRep, err = runResourceList(ctx, p, rw, items, out)
		done.out = out
	} else {
		// A plain stream is run one document at a time; its output is
		// the documents' texts, written out only after success.
		var stream *streamOutput
		stream, runRep, done.workloads, err = runStream(ctx, p, in, o.inputHook)
		done.out = stream
	}
	if runRep != nil {
		rep.Results = append(rep.Results, runRep.Results...)
	}
	if err != nil {
		return nil, err
	}
	return done, nil
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
// $COCOFY_CONFIG; without any it is an error (noConfigError).
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
	return nil, noConfigError()
}
