package pipeline

import (
	"strconv"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// checkContrastClaims warns, for target contrast, about each of a
// StatefulSet's volumeClaimTemplates that is a filesystem claim (volumeMode
// Filesystem, the default): like a Pod's persistentVolumeClaim volume, it
// is not shared with the pod VM but becomes a temporary copy inside it
// (seed 001, "Volumes"). A volumeMode: Block claim is what Contrast supports.
func (p *Pipeline) checkContrastClaims(w *Workload, rep *Report) {
	if p.opts.Target != TargetContrast || w.Ref.Kind != "StatefulSet" {
		return
	}
	claims, err := w.Resource.Pipe(yaml.Lookup("spec", "volumeClaimTemplates"))
	if err != nil || claims == nil || claims.YNode().Kind != yaml.SequenceNode {
		return
	}
	for i, c := range claims.Content() {
		claim := yaml.NewRNode(c)
		mode := "Filesystem"
		if m, err := claim.Pipe(yaml.Lookup("spec", "volumeMode")); err == nil && m != nil && m.YNode().Value != "" {
			mode = m.YNode().Value
		}
		if mode == "Block" {
			continue
		}
		name, _ := claim.Pipe(yaml.Lookup("metadata", "name"))
		subject := "volume claim template"
		if name != nil && name.YNode().Value != "" {
			subject += " " + name.YNode().Value
		}
		rep.Warn(w, "spec.volumeClaimTemplates["+strconv.Itoa(i)+"]",
			"%s (volumeMode: %s) works with Contrast only for volumeMode: Block claims; a filesystem claim becomes a temporary copy inside the VM", subject, mode)
	}
}
