package fn

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
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
its JSON pretty-printed. Env values that equal a value of a Secret in the
input are shown as <redacted> unless --show-secrets is given; the sha256
is always that of the real policy.

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

// secretValues returns the values of every Secret in nodes.
func secretValues(nodes []*yaml.RNode) map[string]bool {
	out := map[string]bool{}
	for _, v := range podspec.ObjectsFrom(nodes).SecretValues() {
		out[v] = true
	}
	return out
}

var envPattern = regexp.MustCompile(`(?m)^(\s*"pattern": )("(?:[^"\\]|\\.)*")(,?)$`)

// redact replaces env rule values that equal a Secret value.
func redact(text string, secrets map[string]bool) string {
	if len(secrets) == 0 {
		return text
	}
	return envPattern.ReplaceAllStringFunc(text, func(line string) string {
		m := envPattern.FindStringSubmatch(line)
		var pattern string
		if json.Unmarshal([]byte(m[2]), &pattern) != nil {
			return line
		}
		name, value, ok := strings.Cut(pattern, "=")
		if !ok || !secrets[value] {
			return line
		}
		return m[1] + `"` + name + `=<redacted>"` + m[3]
	})
}
