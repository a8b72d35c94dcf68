package postrender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/yamlstream"
	"cocofy.dev/cocofy/pipeline"
)

// ErrEmpty is returned for input with no resources: Helm 3 would read an
// empty answer as "delete every resource of the release".
var ErrEmpty = errors.New("the input has no resources; refusing to answer with an empty stream")

// Renderer runs a pipeline over a plain YAML stream.
type Renderer struct {
	// Pipeline does the work.
	Pipeline *pipeline.Pipeline
	// Context is used for registry calls; nil means context.Background().
	Context context.Context
	// Log receives one line per result (Helm shows a post-renderer's stderr
	// when it fails). Nil discards them.
	Log io.Writer
	// Quiet drops info results from Log.
	Quiet bool
}

// Run implements Helm 3's postrender.PostRenderer: it returns the edited
// stream, or an error and no stream.
func (r *Renderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	ctx := r.Context
	if ctx == nil {
		ctx = context.Background()
	}
	nodes, err := Read(in)
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, ErrEmpty
	}
	rep, err := r.Pipeline.Run(ctx, nodes)
	r.log(rep, err != nil)
	if err != nil {
		return nil, err
	}
	out := &bytes.Buffer{}
	if err := Write(out, nodes); err != nil {
		return nil, err
	}
	return out, nil
}

// log prints results; after a failure only warnings and errors, so that the
// error is easy to find in Helm's message.
func (r *Renderer) log(rep *pipeline.Report, failed bool) {
	if r.Log == nil || rep == nil {
		return
	}
	for _, res := range rep.Results {
		if (r.Quiet || failed) && res.Severity == "info" {
			continue
		}
		fmt.Fprintln(r.Log, pipeline.Line(res))
	}
}

// Read parses a plain stream. It never unwraps a List or ResourceList: in a
// plain stream they are resources like any other.
func Read(in io.Reader) ([]*yaml.RNode, error) {
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, fmt.Errorf("reading YAML stream: %w", err)
	}
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(data), PreserveSeqIndent: true, DisableUnwrapping: true}).Read()
	if err != nil {
		return nil, fmt.Errorf("reading YAML stream: %s", whichDocument(data, err))
	}
	if err := yamlstream.Single(data); err != nil {
		return nil, fmt.Errorf("reading YAML stream: %w", err)
	}
	return nodes, nil
}

var separator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// whichDocument names the document (1-based, with its line) that fails to
// parse or is not a map, so a user can find it in a long Helm render.
func whichDocument(data []byte, err error) string {
	starts := []int{0}
	for _, loc := range separator.FindAllIndex(data, -1) {
		starts = append(starts, loc[1])
	}
	for i, start := range starts {
		end := len(data)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		before := bytes.Count(data[:start], []byte("\n"))
		n, perr := yaml.Parse(string(data[start:end]))
		switch {
		case perr != nil && !errors.Is(perr, io.EOF):
			line := before + 1
			if m := yamlLine.FindStringSubmatch(perr.Error()); m != nil {
				rel, _ := strconv.Atoi(m[1])
				line = before + rel
			}
			return fmt.Sprintf("document %d (line %d): %v", i+1, line, perr)
		case perr == nil && n != nil && n.YNode().Kind != yaml.MappingNode:
			return fmt.Sprintf("document %d (line %d): not a Kubernetes object (a map with apiVersion and kind)", i+1, before+1)
		case perr == nil && n != nil:
			if p := metadataProblem(n); p != "" {
				return fmt.Sprintf("document %d (line %d): %s", i+1, before+1, p)
			}
		}
	}
	return err.Error()
}

// metadataProblem names the metadata field of n that kyaml cannot read
// (its message names yaml.v3's node kinds: "expected MappingNode but got
// ScalarNode"), or "".
func metadataProblem(n *yaml.RNode) string {
	meta := n.Field("metadata")
	if meta == nil || yaml.IsMissingOrNull(meta.Value) {
		return ""
	}
	if k := meta.Value.YNode().Kind; k != yaml.MappingNode {
		return "metadata: must be a map, got " + nodeKind(k)
	}
	for _, f := range []struct {
		name string
		kind yaml.Kind
	}{{"name", yaml.ScalarNode}, {"namespace", yaml.ScalarNode}, {"labels", yaml.MappingNode}, {"annotations", yaml.MappingNode}} {
		v := meta.Value.Field(f.name)
		if v == nil || yaml.IsMissingOrNull(v.Value) {
			continue
		}
		if k := v.Value.YNode().Kind; k != f.kind {
			return fmt.Sprintf("metadata.%s: must be %s, got %s", f.name, nodeKind(f.kind), nodeKind(k))
		}
	}
	return ""
}

func nodeKind(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a string"
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// Write encodes nodes as a plain stream, dropping every kyaml bookkeeping
// annotation the reader added.
func Write(out io.Writer, nodes []*yaml.RNode) error {
	seen := map[string]bool{}
	var clear []string
	for _, n := range nodes {
		for k := range n.GetAnnotations() {
			if strings.HasPrefix(k, "internal.config.kubernetes.io/") && !seen[k] {
				seen[k] = true
				clear = append(clear, k)
			}
		}
	}
	sort.Strings(clear)
	w := kio.ByteWriter{Writer: out, ClearAnnotations: clear}
	if err := w.Write(nodes); err != nil {
		return fmt.Errorf("writing YAML stream: %w", err)
	}
	return nil
}
