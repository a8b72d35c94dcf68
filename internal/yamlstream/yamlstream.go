// Package yamlstream reads and writes a plain multi-document YAML stream one
// document at a time, byte for byte as kyaml's kio.ByteReader (with
// PreserveSeqIndent and DisableUnwrapping) and kio.ByteWriter (as
// postrender.Write drives it) do for the whole stream at once, so that a
// document's nodes can be dropped as soon as it is written.
//
// kio.ByteWriter encodes a whole stream with one yaml.v3 Encoder, which
// keeps every event it ever emitted (its event queue is never truncated),
// and first deep-copies every node: writing a stream took several times
// the memory of its nodes. Here every document gets an Encoder of its own.
package yamlstream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// separator is kio's document separator: any line that starts with ---.
var separator = regexp.MustCompile(`\n---.*\n`)

// ErrSeveral is the error of a document that holds more than one object
// with no --- between them: concatenated JSON objects ({...}{...}), or
// YAML after an end marker (...). kio reads only the first, while kubectl
// and Helm read a stream that starts with { as a stream of JSON objects
// and apply every one.
var ErrSeveral = errors.New("more than one object with no --- between them (such as JSON objects one after another): " +
	"kubectl and Helm would apply every one, and cocofy reads one object per document; put --- between them")

// Reader decodes the documents of a stream in order.
type Reader struct {
	data []byte
	pos  int
	done bool
	// index counts the documents returned, as kio's index annotation.
	index int
	// annotations persist from one document to the next, as kio's
	// ByteReader.SetAnnotations does (a document without sequences keeps
	// the seqindent annotation of the one before).
	annotations map[string]string
	// Annotate adds kio's reader annotations (index, legacy index,
	// seqindent). Off, documents are decoded as ByteReader with
	// OmitReaderAnnotations decodes them.
	annotate bool
	// raw is the text of the document Next returned last.
	raw []byte
}

// Raw returns the text of the document Next returned last, as it was in
// the stream between its separators (the first document's text keeps a
// leading ---), with line ends as LF. It shares the stream's memory.
func (r *Reader) Raw() []byte { return r.raw }

// NewReader returns a Reader over data that annotates documents as
// kio.ByteReader{PreserveSeqIndent: true, DisableUnwrapping: true} does.
// data is not copied and must not change.
func NewReader(data []byte) *Reader {
	if bytes.Contains(data, []byte("\r\n")) {
		data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	}
	return &Reader{data: data, annotations: map[string]string{}, annotate: true}
}

// chunk returns the next chunk of text between separators, as kio splits
// the stream, or false at the end; r.raw is set to its bytes.
func (r *Reader) chunk() (string, bool, error) {
	if r.done {
		return "", false, nil
	}
	if len(r.data) == 0 {
		r.done = true
		return "", false, nil
	}
	loc := separator.FindIndex(r.data[r.pos:])
	if loc == nil {
		r.done = true
		r.raw = r.data[r.pos:]
		return string(r.raw), true, nil
	}
	start, end := r.pos+loc[0], r.pos+loc[1]
	sep := r.data[start:end]
	if after := bytes.TrimSpace(sep[4:]); len(after) > 0 && after[0] != '#' {
		return "", false, fmt.Errorf("invalid document separator: %s", bytes.TrimSpace(sep))
	}
	// kio adds back the newline its split ate.
	r.raw = r.data[r.pos : start+1]
	s := string(r.raw)
	r.pos = end
	return s, true, nil
}

// Next returns the next non-empty document, or nil and io.EOF at the end.
// An error is not kio's message: callers that need it read the stream
// with kio again.
func (r *Reader) Next() (*yaml.RNode, error) {
	for {
		s, ok, err := r.chunk()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, io.EOF
		}
		node := &yaml.Node{}
		dec := yaml.NewDecoder(strings.NewReader(s))
		err = dec.Decode(node)
		if err == io.EOF {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("MalformedYAMLError: %w", err)
		}
		if !atEnd(dec) {
			return nil, fmt.Errorf("document %d: %w", r.index+1, ErrSeveral)
		}
		if yaml.IsYNodeEmptyDoc(node) {
			continue
		}
		n := yaml.NewRNode(node)
		if yaml.IsMissingOrNull(n) {
			continue
		}
		if _, err := n.GetMeta(); err != yaml.ErrMissingMetadata && err != nil {
			return nil, err
		}
		if r.annotate {
			if err := r.addAnnotations(n, s); err != nil {
				return nil, err
			}
		}
		r.index++
		return n, nil
	}
}

// atEnd reports whether dec has nothing left but comments and empty
// space. Anything else, even text YAML cannot read, is refused: kio
// would drop it without a word.
func atEnd(dec *yaml.Decoder) bool {
	var extra yaml.Node
	return dec.Decode(&extra) == io.EOF
}

// Single returns ErrSeveral, naming the document, when a document of the
// stream data holds more than one object (see ErrSeveral), and nil
// otherwise, including when data is not YAML.
func Single(data []byte) error {
	r := NewReader(data)
	r.annotate = false
	for {
		_, err := r.Next()
		if errors.Is(err, ErrSeveral) {
			return err
		}
		if err != nil {
			return nil
		}
	}
}

func (r *Reader) addAnnotations(n *yaml.RNode, original string) error {
	if err := kioutil.CopyLegacyAnnotations(n); err != nil {
		return err
	}
	idx := fmt.Sprintf("%d", r.index)
	r.annotations[kioutil.IndexAnnotation] = idx
	r.annotations[kioutil.LegacyIndexAnnotation] = idx
	if style := yaml.DeriveSeqIndentStyle(original); style != "" {
		r.annotations[kioutil.SeqIndentAnnotation] = style
	}
	keys := make([]string, 0, len(r.annotations))
	for k := range r.annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := n.Pipe(yaml.SetAnnotation(k, r.annotations[k])); err != nil {
			return err
		}
	}
	return nil
}

// Encode writes one document as kio.ByteWriter writes it in a plain stream
// (postrender.Write): without kio's reader annotations and cocofy's
// internal.config.kubernetes.io/* ones, with the sequence indentation the
// reader recorded, and "---" before every document but the first. It
// removes the annotations from n itself: callers that keep n pass a copy.
//
// A stream of one document whose path annotation names a .json file is
// written as JSON by kio.ByteWriter: use it for a single document.
func Encode(out *bytes.Buffer, n *yaml.RNode, first bool) error {
	seqIndent := n.GetAnnotations()[kioutil.SeqIndentAnnotation]
	clear := []string{kioutil.IndexAnnotation, kioutil.LegacyIndexAnnotation, kioutil.SeqIndentAnnotation}
	for k := range n.GetAnnotations() {
		if strings.HasPrefix(k, "internal.config.kubernetes.io/") {
			clear = append(clear, k)
		}
	}
	for _, k := range clear {
		if _, err := n.Pipe(yaml.ClearAnnotation(k)); err != nil {
			return err
		}
	}
	if err := yaml.ClearEmptyAnnotations(n); err != nil {
		return err
	}
	if !first {
		out.WriteString("---\n")
	}
	enc := yaml.NewEncoder(out)
	if seqIndent == string(yaml.WideSequenceStyle) {
		enc.DefaultSeqIndent()
	} else {
		enc.CompactSeqIndent()
	}
	if err := enc.Encode(unwrapBareSequence(n.Document())); err != nil {
		return err
	}
	return enc.Close()
}

// unwrapBareSequence is kio's upWrapBareSequenceNode.
func unwrapBareSequence(node *yaml.Node) *yaml.Node {
	seq, err := yaml.NewRNode(node).Pipe(yaml.Lookup(yaml.BareSeqNodeWrappingKey))
	if err == nil && !seq.IsNilOrEmpty() {
		return seq.YNode()
	}
	return node
}
