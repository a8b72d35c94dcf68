package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/image"
)

// Deps are the outside services the stages use. Tests inject fixed ones.
type Deps struct {
	// Resolver pins image references; required when Options.PinImages().
	Resolver image.Resolver
	// Inspector gives image facts for the CCE policy; required for target
	// virtual-node.
	Inspector image.Inspector
	// Checks remembers enforcer replays that passed (kind CheckCacheKind);
	// nil replays every time. internal/cache.Dir implements it.
	Checks Cache
}

// Cache keeps small JSON values by kind and digest key.
type Cache interface {
	Get(kind, key string, v any) bool
	Put(kind, key string, v any) error
}

// Pipeline runs cocofy's stages in order: select workloads, place them
// (runtimeClassName or virtual node), make requests equal limits, check
// them for the target, pin images, and attach the CCE policy.
type Pipeline struct {
	opts Options
	deps Deps
	// verifyOnly makes Run check policies instead of changing anything.
	verifyOnly bool
}

// New returns a Pipeline. opts must already be defaulted and validated.
func New(opts Options, deps Deps) (*Pipeline, error) {
	if opts.PinImages() && deps.Resolver == nil {
		return nil, fmt.Errorf("image pinning is on but no resolver was configured")
	}
	return &Pipeline{opts: opts, deps: deps}, nil
}

// Run edits nodes in place and returns what it did. When any result is an
// error it returns ErrFailed; the nodes may then be half edited and must
// not be written.
func (p *Pipeline) Run(ctx context.Context, nodes []*yaml.RNode) (*Report, error) {
	if p.verifyOnly {
		return p.verifyAll(ctx, nodes)
	}
	rep := &Report{}
	checkObjects(nodes, rep)
	workloads := FindWorkloads(nodes, p.opts.WorkloadPaths, rep)
	var selected []*Workload
	for i := range workloads {
		w := &workloads[i]
		ok, err := p.opts.Select.matches(w)
		if err != nil {
			return rep, fmt.Errorf("select.labelSelector: %w", err)
		}
		if ok {
			selected = append(selected, w)
		}
	}
	for _, w := range selected {
		p.validate(w, rep)
		p.place(w, rep)
		p.resources(w, rep)
		p.check(w, rep)
	}
	// Pin even after earlier errors, so that every problem is reported at once.
	if p.opts.PinImages() {
		if err := p.pin(ctx, selected, rep); err != nil {
			return rep, err
		}
	}
	if p.opts.Target == TargetVirtualNode && !rep.HasErrors() {
		if err := p.attachPolicies(ctx, nodes, selected, rep); err != nil {
			return rep, err
		}
	}
	if rep.HasErrors() {
		return rep, ErrFailed
	}
	return rep, nil
}

// Filter makes a Pipeline a kio.Filter for Go callers: it runs with a
// background context and returns the results as the error on failure.
func (p *Pipeline) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	rep, err := p.Run(context.Background(), nodes)
	if err != nil {
		if rep.HasErrors() {
			return nil, rep.Results
		}
		return nil, err
	}
	return nodes, nil
}

var _ kio.Filter = (*Pipeline)(nil)

func (s Selector) matches(w *Workload) (bool, error) {
	if len(s.Kinds) > 0 && !slices.Contains(s.Kinds, w.Ref.Kind) {
		return false, nil
	}
	if len(s.Names) > 0 && !slices.Contains(s.Names, w.Ref.Name) {
		return false, nil
	}
	if len(s.Namespaces) > 0 && !slices.Contains(s.Namespaces, w.Ref.Namespace) {
		return false, nil
	}
	if s.LabelSelector != "" {
		return w.Resource.MatchesLabelSelector(s.LabelSelector)
	}
	return true, nil
}

// checkObjects reports stream entries that are not Kubernetes objects.
func checkObjects(nodes []*yaml.RNode, rep *Report) {
	for i, n := range nodes {
		if n.YNode().Kind != yaml.MappingNode {
			rep.Add(framework.Error, nil, "", "document %d: not a Kubernetes object (a map with apiVersion and kind)", i+1)
			continue
		}
		var missing []string
		for _, f := range []string{"apiVersion", "kind"} {
			if stringField(n, f) == "" {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			ref := refOf(n)
			rep.Add(framework.Error, &ref, strings.Join(missing, ", "), "document %d: not a Kubernetes object: %s missing", i+1, strings.Join(missing, " and "))
		}
	}
}
