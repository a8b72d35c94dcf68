package fn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/yamlstream"
	"cocofy.dev/cocofy/pipeline"
	"cocofy.dev/cocofy/postrender"
)

// streamOutput is a plain stream's output, written one document at a time:
// each document's text, in stream order, once the pipeline is done with
// it. Documents are encoded by a goroutine of their own, beside the
// pipeline's work on the next ones. The first document is kept as nodes
// until a second one comes: a stream of one document is written by
// postrender.Write itself (kio writes a lone document from a .json file as
// JSON).
type streamOutput struct {
	// docs are the documents' texts, in chunk.
	docs  [][]byte
	first *yaml.RNode
	n     int
	// chunk holds the texts back to back, so that a document costs its
	// length; scratch is where one is encoded.
	chunk   []byte
	scratch bytes.Buffer

	queue chan queued
	done  chan error
	// raws are the documents' texts as they came, by index: a document
	// the pipeline did not change is written as it came, byte for byte.
	raws [][]byte
}

type queued struct {
	index int
	node  *yaml.RNode
	raw   []byte // the document as it came, when unchanged
}

// chunkSize is the size of the chunks the texts are copied into.
const chunkSize = 1 << 20

func newStreamOutput() *streamOutput {
	queue := make(chan queued, 64)
	o := &streamOutput{queue: queue, done: make(chan error, 1)}
	go func() {
		var err error
		for q := range queue {
			switch {
			case err != nil:
			case q.raw != nil:
				o.keepRaw(q.index, q.raw)
			default:
				err = o.encode(q.index, q.node)
			}
		}
		o.done <- err
	}()
	return o
}

// Put queues a document for encoding (pipeline.Sink); one the pipeline
// did not change is written as it came.
func (o *streamOutput) Put(index int, n *yaml.RNode, keep, changed bool) error {
	o.n++
	if !changed && index < len(o.raws) {
		o.queue <- queued{index: index, raw: o.raws[index]}
		o.raws[index] = nil
		return nil
	}
	if keep {
		n = n.Copy() // encoding removes the reader's annotations
	}
	if index == 0 {
		o.first = n
		return nil
	}
	o.queue <- queued{index: index, node: n}
	return nil
}

// wait waits for every queued document to be encoded.
func (o *streamOutput) wait() error {
	if o.queue == nil {
		return nil
	}
	close(o.queue)
	o.queue = nil
	return <-o.done
}

func (o *streamOutput) encode(index int, n *yaml.RNode) error {
	o.scratch.Reset()
	if err := yamlstream.Encode(&o.scratch, n, index == 0); err != nil {
		return fmtWriteError(err)
	}
	o.keep(index, o.scratch.Bytes())
	return nil
}

// keepRaw keeps a document's text as it came, with the separator the
// encoder writes before every document but the first; a separator line at
// the start of the text (the first document's, or one after an empty
// document) goes, as empty documents go from the encoder's output.
func (o *streamOutput) keepRaw(index int, raw []byte) {
	o.scratch.Reset()
	if index > 0 {
		o.scratch.WriteString("---\n")
	}
	for bytes.HasPrefix(raw, []byte("---")) {
		// A separator line of the document's own: the stream's first
		// document's, or one after an empty document.
		_, rest, ok := bytes.Cut(raw, []byte("\n"))
		if !ok {
			break
		}
		raw = rest
	}
	o.scratch.Write(raw)
	if !bytes.HasSuffix(raw, []byte("\n")) {
		o.scratch.WriteByte('\n')
	}
	o.keep(index, o.scratch.Bytes())
}

// keep copies a document's text into the chunk.
func (o *streamOutput) keep(index int, text []byte) {
	for len(o.docs) <= index {
		o.docs = append(o.docs, nil)
	}
	if len(text) > cap(o.chunk)-len(o.chunk) {
		o.chunk = make([]byte, 0, max(chunkSize, len(text)))
	}
	start := len(o.chunk)
	o.chunk = append(o.chunk, text...)
	o.docs[index] = o.chunk[start:len(o.chunk):len(o.chunk)]
	if o.scratch.Cap() > chunkSize {
		o.scratch = bytes.Buffer{} // one large document's buffer is not kept
	}
}

// WriteTo writes the stream to w, after wait.
func (o *streamOutput) WriteTo(w io.Writer) (int64, error) {
	if o.n == 1 && o.first != nil {
		var b bytes.Buffer
		if err := postrender.Write(&b, []*yaml.RNode{o.first}); err != nil {
			return 0, err
		}
		return b.WriteTo(w)
	}
	if o.first != nil {
		if err := o.encode(0, o.first); err != nil {
			return 0, err
		}
		o.first = nil
	}
	var total int64
	for i, d := range o.docs {
		n, err := w.Write(d)
		total += int64(n)
		if err != nil {
			return total, err
		}
		o.docs[i] = nil
	}
	return total, nil
}

func fmtWriteError(err error) error {
	return fmt.Errorf("writing YAML stream: %w", err)
}

// readAhead is how many documents are decoded ahead of the pipeline.
const readAhead = 64

// runStream runs p over the plain stream in, one document at a time (see
// pipeline.RunStream), and returns the output, to be written after
// success, and the results (also on failure). Documents are decoded by a
// goroutine of their own, ahead of the pipeline; in gives the same error
// messages as postrender.Read.
func runStream(ctx context.Context, p *pipeline.Pipeline, in []byte, hook func(size int) (restore func())) (*streamOutput, *pipeline.Report, int, error) {
	type decoded struct {
		n   *yaml.RNode
		raw []byte
		err error
	}
	docs := make(chan decoded, readAhead)
	stop := make(chan struct{})
	go func() {
		defer close(docs)
		r := yamlstream.NewReader(in)
		for {
			n, err := r.Next()
			select {
			case docs <- decoded{n, r.Raw(), err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer close(stop)
	o := newStreamOutput()
	next := func() (*yaml.RNode, error) {
		d, ok := <-docs
		if !ok {
			return nil, io.EOF
		}
		if d.err != nil && !errors.Is(d.err, io.EOF) {
			// postrender.Read names the document that fails.
			if _, perr := postrender.Read(bytes.NewReader(in)); perr != nil {
				return nil, perr
			}
		}
		if d.err == nil {
			o.raws = append(o.raws, d.raw)
		}
		return d.n, d.err
	}
	if hook != nil {
		defer hook(len(in))()
	}
	rep, workloads, err := p.RunStream(ctx, next, o)
	if werr := o.wait(); err == nil {
		err = werr
	}
	if err != nil {
		return nil, rep, workloads, err
	}
	if o.n == 0 {
		return nil, nil, 0, postrender.ErrEmpty
	}
	return o, rep, workloads, nil
}
