package fn

// What a run reports: results on stderr, the results file, the summary.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/atomicfile"
	"cocofy.dev/cocofy/pipeline"
)

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

// print writes the warnings and errors to stderr (a successful plain
// stream's summary comes after), and with -v every result, with the
// details of long ones.
func (o *rootOptions) print(stderr io.Writer, rep *pipeline.Report) {
	infos := o.verbose
	for _, res := range rep.Results {
		if (res.Severity == framework.Info || res.Severity == "") && !infos {
			continue
		}
		fmt.Fprintln(stderr, pipeline.Line(res))
		if d := res.Tags["detail"]; d != "" && o.verbose {
			fmt.Fprintln(stderr, "    "+strings.ReplaceAll(d, "\n", "\n    "))
		}
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
