package fn

import (
	"context"
	"fmt"
	"io"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/pipeline"
)

// runResourceList runs the pipeline over a ResourceList's items and writes
// the ResourceList, with results, to out. On error it writes nothing to out
// and prints warnings and errors to stderr (kpt shows a failed function's
// stderr; kustomize ignores results).
func runResourceList(ctx context.Context, p *pipeline.Pipeline, rw *kio.ByteReadWriter, items []*yaml.RNode, out, stderr io.Writer) error {
	annos, err := kio.PreprocessResourcesForInternalAnnotationMigration(items)
	if err != nil {
		return fmt.Errorf("reading ResourceList: %w", err)
	}
	rep, runErr := p.Run(ctx, items)
	for _, res := range rep.Results {
		if res.Severity != framework.Info {
			fmt.Fprintln(stderr, pipeline.Line(res))
		}
	}
	if runErr != nil {
		return runErr
	}
	if err := kio.ReconcileInternalAnnotations(items, annos); err != nil {
		return fmt.Errorf("writing ResourceList: %w", err)
	}
	if len(rep.Results) > 0 {
		b, err := yaml.Marshal(rep.Results)
		if err != nil {
			return fmt.Errorf("writing results: %w", err)
		}
		if rw.Results, err = yaml.Parse(string(b)); err != nil {
			return fmt.Errorf("writing results: %w", err)
		}
	}
	rw.Writer = out
	if err := rw.Write(items); err != nil {
		return fmt.Errorf("writing ResourceList: %w", err)
	}
	return nil
}
