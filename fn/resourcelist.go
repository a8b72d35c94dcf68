package fn

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/yamlstream"
	"cocofy.dev/cocofy/pipeline"
)

// readResourceList reads in as a ResourceList when it is one: a single
// document (empty ones aside) of kind ResourceList. It returns the items
// and a ByteReadWriter that writes them back wrapped, with the input's
// functionConfig and results. For anything else it returns isRL false and
// no error: the input is a plain stream, read by the postrender package.
//
// The ResourceList is checked as a whole before anything reads it:
// duplicate keys (kyaml would read the first of two items keys), aliases
// past their limit, and items that are not a list of objects (kyaml would
// take a map's keys and values for items) are errors naming the field,
// added to rep.
func readResourceList(in []byte, rep *pipeline.Report) (rw *kio.ByteReadWriter, items []*yaml.RNode, isRL bool, err error) {
	rw = &kio.ByteReadWriter{KeepReaderAnnotations: true}
	if !bytes.Contains(in, []byte(kio.ResourceListKind)) {
		// Cannot be one; a kind spelled with escapes is refused later.
		return rw, nil, false, nil
	}
	docs, err := (&kio.ByteReader{Reader: bytes.NewReader(in), DisableUnwrapping: true, OmitReaderAnnotations: true}).Read()
	if err != nil || len(docs) != 1 || docs[0].YNode().Kind != yaml.MappingNode || docs[0].GetKind() != kio.ResourceListKind || jsonStream(in) {
		// A plain stream; a ResourceList among other documents is
		// refused by the pipeline.
		return rw, nil, false, nil
	}
	rl := docs[0]
	if !pipeline.CheckYAML([]*yaml.RNode{rl}, rep) {
		return nil, nil, true, pipeline.ErrFailed
	}
	rw.WrappingKind, rw.WrappingAPIVersion = kio.ResourceListKind, rl.GetApiVersion()
	if f := rl.Field("functionConfig"); f != nil && !yaml.IsMissingOrNull(f.Value) {
		rw.FunctionConfig = f.Value
	}
	if f := rl.Field("results"); f != nil && !yaml.IsMissingOrNull(f.Value) {
		rw.Results = f.Value
	}
	if f := rl.Field("items"); f != nil {
		for _, it := range f.Value.Content() { // a sequence: CheckYAML made sure
			items = append(items, yaml.NewRNode(it))
		}
	}
	return rw, items, true, nil
}

// jsonStream reports input that starts with { and holds more than one
// object: kubectl reads it as a stream of JSON objects, kio as one
// document. It is read as a plain stream, which refuses it.
func jsonStream(in []byte) bool {
	trimmed := bytes.TrimLeft(in, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{' && yamlstream.Single(in) != nil
}

// runResourceList runs the pipeline over a ResourceList's items and writes
// the ResourceList, with results, to out. It returns the run's results,
// which the caller prints (kpt shows a failed function's stderr; kustomize
// ignores results). On error it writes nothing to out.
func runResourceList(ctx context.Context, p *pipeline.Pipeline, rw *kio.ByteReadWriter, items []*yaml.RNode, out io.Writer) (*pipeline.Report, error) {
	annos, err := kio.PreprocessResourcesForInternalAnnotationMigration(items)
	if err != nil {
		return nil, fmt.Errorf("reading ResourceList: %w", err)
	}
	rep, err := p.ForResourceList().Run(ctx, items)
	if err != nil {
		return rep, err
	}
	if err := kio.ReconcileInternalAnnotations(items, annos); err != nil {
		return rep, fmt.Errorf("writing ResourceList: %w", err)
	}
	if len(rep.Results) > 0 {
		b, err := yaml.Marshal(rep.Results)
		if err != nil {
			return rep, fmt.Errorf("writing results: %w", err)
		}
		if rw.Results, err = yaml.Parse(string(b)); err != nil {
			return rep, fmt.Errorf("writing results: %w", err)
		}
	}
	rw.Writer = out
	if err := rw.Write(items); err != nil {
		return rep, fmt.Errorf("writing ResourceList: %w", err)
	}
	return rep, nil
}
