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

	"cocofy.dev/cocofy/pipeline"
)

func newPolicyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "policy",
		Short: "Print the CCE policy attached to each workload, decoded, for review",
		Long: `policy reads resources on stdin (a plain stream or a ResourceList) and prints,
for each workload with a ` + pipeline.AnnotationCCEPolicy + ` annotation,
its name, the policy's sha256 (the SEV-SNP HOST_DATA) and the Rego text with
its JSON pretty-printed.`,
		Example:       `  helm template web ./chart --post-renderer cocofy | cocofy policy`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printPolicies(cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
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

func printPolicies(in io.Reader, out io.Writer) error {
	nodes, err := readAny(in)
	if err != nil {
		return err
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
		fmt.Fprintf(out, "# %s\n# sha256 (HOST_DATA): %x\n%s\n", w.Ref, sha256.Sum256(text), prettyRego(string(text)))
	}
	if found == 0 {
		return fmt.Errorf("no workload in the input has a %s annotation", pipeline.AnnotationCCEPolicy)
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
