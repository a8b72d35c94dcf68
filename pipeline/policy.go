package pipeline

import (
	"context"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// attachPolicies computes and attaches the CCE policy of each selected
// workload (target virtual-node).
func (p *Pipeline) attachPolicies(ctx context.Context, nodes []*yaml.RNode, ws []*Workload, rep *Report) error {
	return nil
}
