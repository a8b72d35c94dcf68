package fn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/atomicfile"
	"cocofy.dev/cocofy/internal/verify"
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

On a terminal, stderr shows warnings, errors and a summary (-v: every
result); otherwise every result of a successful plain-stream run, and the
warnings and errors of a failed one (-q: warnings and errors only).
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

// newVerifyCommand is `cocofy verify`: the same input, config and doors as
// the transform, but it only checks.
func newVerifyCommand(deps DepsFunc) *cobra.Command {
	o := &rootOptions{verify: true}
	cmd := &cobra.Command{
		Use:   "verify [-f FILE]... [FILE]...",
		Short: "Check the CCE policy of every workload with hcsshim's enforcer, and for drift",
		Long: `verify reads resources like cocofy does (a plain stream or a ResourceList,
on stdin or from files, with the same config) and writes them back
unchanged, with results. For each workload with a
` + pipeline.AnnotationCCEPolicy + ` annotation it
replays what the Confidential ACI guest does to start the pod (mount each
layer, mount the overlay, create each container with the command, env,
mounts, user and capabilities of the pod spec) with hcsshim's own Rego
enforcer, and reports every container the guest would deny or change, with
the framework's reason. It also recomputes the policy from the spec and
reports the fields that drifted. Allow-all and debug policies are warnings
(--strict makes them fail the run). Any error exits 1 with no stdout.

Use it as a kpt validator (exec: "cocofy verify"), or pipe a render into it.
Not as a kustomize validator: kustomize's validators: field rejects exec
functions that round-trip the resources, even unchanged, so pipe
kustomize build into cocofy verify instead.`,
		Example: `  helm template web ./chart --post-renderer cocofy | cocofy verify --config cocofy.yaml > /dev/null
  kustomize build --enable-alpha-plugins --enable-exec overlay | cocofy verify --config overlay/cocofy.yaml > /dev/null
  cocofy verify --strict --results results.yaml -f rendered/`,
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args, deps)
		},
	}
	o.addFlags(cmd)
	return cmd
}

// newInputPolicyCommand is `cocofy policy`, reading files like the others.
func newInputPolicyCommand() *cobra.Command {
	in := &inputOptions{}
	cmd := newPolicyCommand()
	cmd.Use = "policy [-f FILE]... [FILE]..."
	cmd.Args = cobra.ArbitraryArgs
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		data, err := in.read(cmd, args)
		if err != nil {
			return err
		}
		cmd.SetIn(bytes.NewReader(data))
		return nil
	}
	in.addFlags(cmd)
	return cmd
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
	o.print(stderr, rep, err != nil || done.isRL, tty)
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
	if tty && !o.quiet {
		fmt.Fprintln(stderr, o.summary(cmd, rep, done))
	}
	h4.done(path, nil, count(rep, framework.Warning))
	_, err = done.out.WriteTo(stdout)
	return err
}

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

// strictMode names what makes warnings fail the run (--strict or
// $COCOFY_STRICT=1, true or yes), or is "".
func (o *rootOptions) strictMode() (string, error) {
	if o.strict {
		return "--strict", nil
	}
	on, err := envBool(EnvStrict)
	if !on || err != nil {
		return "", err
	}
	return "$" + EnvStrict + "=" + os.Getenv(EnvStrict), nil
}

// print writes the results to stderr: on a terminal warnings and errors
// (the summary comes after); elsewhere, as Helm 3 shows a failed
// post-renderer's stderr, every result of a successful plain-stream run
// and the warnings and errors of a failed one (or of a ResourceList, which
// carries its results). -q keeps warnings and errors, -v every result.
func (o *rootOptions) print(stderr io.Writer, rep *pipeline.Report, noInfo, tty bool) {
	infos := o.verbose || !o.quiet && !tty && !noInfo
	for _, res := range rep.Results {
		if (res.Severity == framework.Info || res.Severity == "") && !infos {
			continue
		}
		fmt.Fprintln(stderr, pipeline.Line(res))
	}
}

// results is the results file: --results, else $COCOFY_RESULTS, else
// under Helm 4 LastResultsPath (implicit: not asked for).
func (o *rootOptions) results(h4 *helm4Door) (path string, implicit bool) {
	if o.resultsPath != "" {
		return o.resultsPath, false
	}
	if path := os.Getenv(EnvResults); path != "" || h4 == nil {
		return path, false
	}
	return h4.results, true
}

// ResultList is the results file: kpt's FunctionResultList (kpt fn render
// --results-dir writes the same), with one item for this run.
type ResultList struct {
	APIVersion string           `yaml:"apiVersion"`
	Kind       string           `yaml:"kind"`
	Metadata   Metadata         `yaml:"metadata"`
	ExitCode   int              `yaml:"exitCode"`
	Items      []FunctionResult `yaml:"items"`
}

// FunctionResult is one function's run in a ResultList.
type FunctionResult struct {
	// Exec is the command, e.g. "cocofy verify".
	Exec     string            `yaml:"exec,omitempty"`
	ExitCode int               `yaml:"exitCode"`
	Results  framework.Results `yaml:"results,omitempty"`
}

// writeResults writes rep as a ResultList to path, atomically. A failed
// run's error, when the results do not already say it, is the last result.
func writeResults(path, exec string, rep *pipeline.Report, runErr error) error {
	results := slices.Clone(rep.Results)
	code := 0
	if runErr != nil {
		code = 1
		if !errors.Is(runErr, pipeline.ErrFailed) || !rep.HasErrors() {
			results = append(results, &framework.Result{Severity: framework.Error, Message: runErr.Error()})
		}
	}
	list := ResultList{
		APIVersion: "kpt.dev/v1", Kind: "FunctionResultList",
		Metadata: Metadata{Name: "fnresults"},
		ExitCode: code,
		Items:    []FunctionResult{{Exec: exec, ExitCode: code, Results: results}},
	}
	b, err := yaml.Marshal(list)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}

// summary is the one line a terminal gets after a successful run, e.g.
// "cocofy: 7 workloads: 3 pinned, 2 policies attached, 1 warning (see --results or -v)".
func (o *rootOptions) summary(cmd *cobra.Command, rep *pipeline.Report, done *transformed) string {
	workloads := done.workloads
	if done.nodes != nil {
		var applied []*yaml.RNode
		for _, n := range done.nodes {
			if !pipeline.LocalConfig(n) {
				applied = append(applied, n)
			}
		}
		workloads = len(pipeline.FindWorkloads(applied, done.workloadPaths, &pipeline.Report{}))
	}
	// Workloads with a result of each kind, by the results' messages.
	kinds := []struct {
		prefixes []string
		one, n   string
	}{
		{[]string{"pinned ", "verified the digest of "}, "pinned", "pinned"},
		{[]string{"attached a CCE policy", "replaced the CCE policy", "CCE policy is up to date"}, "policy attached", "policies attached"},
		{[]string{"verified: the enforcer allows"}, "policy verified", "policies verified"},
	}
	var parts []string
	for _, k := range kinds {
		seen := map[yaml.ResourceIdentifier]bool{}
		for _, res := range rep.Results {
			if res.ResourceRef != nil && slices.ContainsFunc(k.prefixes, func(p string) bool { return strings.HasPrefix(res.Message, p) }) {
				seen[*res.ResourceRef] = true
			}
		}
		if len(seen) > 0 {
			parts = append(parts, plural(len(seen), k.one, k.n))
		}
	}
	if n := count(rep, framework.Warning); n > 0 {
		w := plural(n, "warning", "warnings")
		if !o.verbose {
			w += " (see --results or -v)"
		}
		parts = append(parts, w)
	}
	s := cmd.CommandPath() + ": " + plural(workloads, "workload", "workloads")
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	return s
}

func count(rep *pipeline.Report, sev framework.Severity) int {
	n := 0
	for _, res := range rep.Results {
		if res.Severity == sev {
			n++
		}
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// inputOptions are where resources are read from: -f and arguments
// (files, folders of YAML, - for stdin), else stdin.
type inputOptions struct {
	filenames []string
	recursive bool
}

func (in *inputOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&in.filenames, "filename", "f", nil, "file or folder (its *.yaml, *.yml and *.json files) to read, - for stdin; repeatable, also as arguments; default stdin")
	cmd.Flags().BoolVarP(&in.recursive, "recursive", "R", false, "read the folders given with -f or as arguments recursively")
}

// read returns the input: stdin when no file is named, else the named
// files and folders in order, one YAML stream (a single file is read as
// it is, so it may be a ResourceList).
func (in *inputOptions) read(cmd *cobra.Command, args []string) ([]byte, error) {
	names := append(slices.Clone(in.filenames), args...)
	if len(names) == 0 {
		return readStdin(cmd)
	}
	var (
		b     bytes.Buffer
		stdin bool
	)
	add := func(data []byte) {
		if b.Len() > 0 {
			if !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
				b.WriteByte('\n')
			}
			b.WriteString("---\n")
		}
		b.Write(data)
	}
	if len(names) == 1 && names[0] != "-" {
		// One file is the input as it is, not a copy of it.
		files, err := in.files(names[0])
		if err == nil && len(files) == 1 {
			data, err := os.ReadFile(files[0])
			if err != nil {
				return nil, readError(files[0], err)
			}
			return data, nil
		}
	}
	for i, name := range names {
		if name == "-" {
			if stdin {
				return nil, errors.New("stdin (-) can be read only once")
			}
			stdin = true
			data, err := readStdin(cmd)
			if err != nil {
				return nil, err
			}
			add(data)
			continue
		}
		files, err := in.files(name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && i >= len(in.filenames) {
				if s := cmd.SuggestionsFor(name); len(s) > 0 {
					return nil, fmt.Errorf("%w (to run a command: cocofy %s)", err, s[0])
				}
			}
			return nil, err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, readError(f, err)
			}
			add(data)
		}
	}
	return b.Bytes(), nil
}

// readError is "reading NAME: what went wrong", without the system
// call's name.
func readError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("reading %s: %w", pe.Path, pe.Err)
	}
	return fmt.Errorf("reading %s: %w", name, err)
}

func readStdin(cmd *cobra.Command) ([]byte, error) {
	data, err := readAll(cmd.InOrStdin())
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	return data, nil
}

// readAll is io.ReadAll, into a buffer of the file's size when r is a
// regular file (stdin redirected from one): io.ReadAll's growing buffer
// holds up to twice the input at its end.
func readAll(r io.Reader) ([]byte, error) {
	f, ok := r.(*os.File)
	if !ok {
		return io.ReadAll(r)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() <= 0 || st.Size() > 1<<40 {
		return io.ReadAll(r)
	}
	var b bytes.Buffer
	b.Grow(int(st.Size()) + bytes.MinRead) // the last read sees the end
	_, err = b.ReadFrom(f)
	return b.Bytes(), err
}

// files is name when it is a file, else the YAML and JSON files in the
// folder name (sorted; in its subfolders too with -R).
func (in *inputOptions) files(name string) ([]string, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, readError(name, err)
	}
	if !st.IsDir() {
		return []string{name}, nil
	}
	var files []string
	err = filepath.WalkDir(name, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != name && !in.recursive {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, readError(name, err)
	}
	if len(files) == 0 {
		hint := ""
		if !in.recursive {
			hint = " (-R reads its subfolders)"
		}
		return nil, fmt.Errorf("reading %s: the folder has no .yaml, .yml or .json file%s", name, hint)
	}
	return files, nil
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
