package fn

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/podspec"
	"cocofy.dev/cocofy/pipeline"
)

func newPolicyCommand() *cobra.Command {
	var showSecrets bool
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Print the CCE policy attached to each workload, decoded, for review",
		Long: `policy reads resources on stdin (a plain stream or a ResourceList) and prints,
for each workload with a ` + pipeline.AnnotationCCEPolicy + ` annotation,
its name, the policy's sha256 (the SEV-SNP HOST_DATA) and the Rego text with
its JSON pretty-printed. Every value of a Secret in the input is shown as
<redacted> wherever it appears (a whole env value, part of one, a command
argument) unless --show-secrets is given; the sha256 is always that of the
real policy.

A stream without policies is no error (exit 0, as for cocofy verify, whose
config says whether policies are needed): policy says so on stderr and
prints nothing.`,
		Example:       `  helm template web ./chart --post-renderer cocofy | cocofy policy`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printPolicies(cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), showSecrets)
		},
	}
	cmd.Flags().BoolVar(&showSecrets, "show-secrets", false, "print env values that come from Secrets")
	return cmd
}

// readAny reads a ResourceList or a plain stream.
func readAny(in io.Reader) ([]*yaml.RNode, error) {
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	rw := &kio.ByteReadWriter{Reader: bytes.NewReader(data)}
	nodes, err := rw.Read()
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	return nodes, nil
}

// printPolicies prints the policies in; none is not an error, only a note
// on stderr: whether a stream needs policies is its config's business,
// which cocofy verify checks.
func printPolicies(in io.Reader, out, stderr io.Writer, showSecrets bool) error {
	nodes, err := readAny(in)
	if err != nil {
		return err
	}
	secrets := map[string]bool{}
	if !showSecrets {
		secrets = secretValues(nodes)
	}
	rep := &pipeline.Report{}
	found := 0
	for _, w := range pipeline.FindWorkloads(nodes, nil, rep) {
		b64 := w.Template.GetAnnotations()[pipeline.AnnotationCCEPolicy]
		if b64 == "" {
			continue
		}
		found++
		text, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return fmt.Errorf("%s: %s: not base64: %w", w.Ref, w.Field("metadata", "annotations", pipeline.AnnotationCCEPolicy), err)
		}
		fmt.Fprintf(out, "# %s\n# sha256 (HOST_DATA): %x\n%s\n", w.Ref, sha256.Sum256(text), redact(prettyRego(string(text)), secrets))
	}
	if found == 0 {
		fmt.Fprintf(stderr, "info: no workload in the input has a %s annotation; nothing to print\n", pipeline.AnnotationCCEPolicy)
	}
	return nil
}

var regoAssign = regexp.MustCompile(`(?m)^([a-z_]+ := )([\[{].*)$`)

// prettyRego indents the JSON values of one-line `name := <json>` rules.
func prettyRego(text string) string {
	return regoAssign.ReplaceAllStringFunc(text, func(line string) string {
		m := regoAssign.FindStringSubmatch(line)
		var buf bytes.Buffer
		if err := json.Indent(&buf, []byte(m[2]), "", "  "); err != nil {
			return line // not JSON (e.g. a Rego set); print as is
		}
		return m[1] + strings.TrimRight(buf.String(), "\n")
	})
}

// secretValues returns the values of every Secret in nodes, and in the
// items of any object that has items (kubectl applies those).
func secretValues(nodes []*yaml.RNode) map[string]bool {
	all := slices.Clone(nodes)
	for _, n := range nodes {
		if n.YNode().Kind != yaml.MappingNode {
			continue
		}
		if f := n.Field("items"); f != nil && f.Value.YNode().Kind == yaml.SequenceNode {
			for _, it := range f.Value.Content() {
				all = append(all, yaml.NewRNode(it))
			}
		}
	}
	out := map[string]bool{}
	for _, v := range podspec.ObjectsFrom(all).SecretValues() {
		out[v] = true
	}
	return out
}

// jsonString matches a JSON (and Rego) string literal.
var jsonString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// redact replaces every Secret value in the text's string literals with
// <redacted>: a whole env value, a part of one (postgres://u:$(PW)@db),
// an argument of a command or an exec process, as written or quoted for
// an re2 rule. Only literals that hold a value are written again.
func redact(text string, secrets map[string]bool) string {
	if len(secrets) == 0 {
		return text
	}
	var forms []string
	for v := range secrets {
		forms = append(forms, v, regexp.QuoteMeta(v))
	}
	// Longest first, so that a value inside another is not cut in two.
	slices.SortFunc(forms, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	return jsonString.ReplaceAllStringFunc(text, func(lit string) string {
		var s string
		if json.Unmarshal([]byte(lit), &s) != nil {
			return lit
		}
		r := s
		for _, f := range forms {
			r = strings.ReplaceAll(r, f, "<redacted>")
		}
		if r == s {
			return lit
		}
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if enc.Encode(r) != nil {
			return `"<redacted>"`
		}
		return strings.TrimSuffix(b.String(), "\n")
	})
}
