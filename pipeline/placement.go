package pipeline

import (
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// place puts the workload on its target: a runtimeClassName, or the virtual
// node's nodeSelector, toleration and annotations.
func (p *Pipeline) place(w *Workload, rep *Report) {
	if p.opts.Target == TargetVirtualNode {
		p.placeOnVirtualNode(w, rep)
		return
	}
	p.setField(w, rep, w.Spec, w.Field("spec", "runtimeClassName"), "runtimeClassName", p.opts.RuntimeClass())
}

// setField sets a string field of parent to want. An existing different
// value is replaced only with Overwrite; otherwise a warning says it was kept.
func (p *Pipeline) setField(w *Workload, rep *Report, parent *yaml.RNode, field, key, want string) {
	cur := stringField(parent, key)
	switch {
	case cur == want:
		return
	case cur != "" && !p.opts.Overwrite:
		rep.Warn(w, field, "kept existing value %q instead of %q (set spec.overwrite: true to replace it)", cur, want)
		return
	}
	if err := parent.PipeE(setString(key, want)); err != nil {
		rep.Error(w, field, "setting %q: %v", want, err)
		return
	}
	w.claim(field, want)
	if cur == "" {
		rep.Info(w, field, "set to %q", want)
	} else {
		rep.Info(w, field, "replaced %q with %q", cur, want)
	}
}

func (p *Pipeline) placeOnVirtualNode(w *Workload, rep *Report) {
	sel, err := lookupCreate(w.Spec, yaml.MappingNode, "nodeSelector")
	if err != nil {
		rep.Error(w, w.Field("spec", "nodeSelector"), "%v", err)
		return
	}
	p.setField(w, rep, sel, w.Field("spec", "nodeSelector", VirtualNodeSelectorKey), VirtualNodeSelectorKey, VirtualNodeSelectorValue)
	p.addVirtualNodeToleration(w, rep)
	if rc, _ := w.Spec.GetString("runtimeClassName"); rc != "" {
		rep.Warn(w, w.Field("spec", "runtimeClassName"), "virtual nodes do not use runtimeClassName %q; it was left as it is", rc)
	}
	p.setVirtualNodeAnnotations(w, rep)
}

func (p *Pipeline) addVirtualNodeToleration(w *Workload, rep *Report) {
	field := w.Field("spec", "tolerations")
	tols, err := lookupCreate(w.Spec, yaml.SequenceNode, "tolerations")
	if err != nil {
		rep.Error(w, field, "%v", err)
		return
	}
	for _, t := range tols.Content() {
		if key, _ := yaml.NewRNode(t).GetString("key"); key == VirtualNodeTolerationKey {
			return
		}
	}
	tol, err := yaml.Parse("key: " + VirtualNodeTolerationKey + "\noperator: Exists\neffect: NoSchedule\n")
	if err != nil {
		rep.Error(w, field, "%v", err)
		return
	}
	if err := tols.PipeE(yaml.Append(tol.YNode())); err != nil {
		rep.Error(w, field, "%v", err)
		return
	}
	w.claim(field+"["+itoa(len(tols.Content())-1)+"].key", VirtualNodeTolerationKey)
	rep.Info(w, field, "added toleration %s:Exists:NoSchedule", VirtualNodeTolerationKey)
}

// virtualNodeAnnotations are the pod annotations the config asks for on a
// virtual node; an empty value is not set.
func (p *Pipeline) virtualNodeAnnotations() []struct{ key, value string } {
	vn := p.opts.VirtualNode
	return []struct{ key, value string }{
		{AnnotationInjectDNS, boolString(vn.InjectDNS)},
		{AnnotationInjectKubeProxy, boolString(vn.InjectKubeProxy)},
		{AnnotationZones, vn.Zone},
		{AnnotationSubnet, vn.Subnet},
		{AnnotationIdentity, vn.Identity},
		{AnnotationImageCachePod, boolString(vn.ImageCachePod)},
	}
}

func (p *Pipeline) setVirtualNodeAnnotations(w *Workload, rep *Report) {
	want := p.virtualNodeAnnotations()
	var set []struct{ key, value string }
	for _, a := range want {
		if a.value != "" {
			set = append(set, a)
		}
	}
	if len(set) > 0 {
		// Created only when there is something to write: no empty
		// annotations map is left behind.
		meta, err := lookupCreate(w.Template, yaml.MappingNode, "metadata", "annotations")
		if err != nil {
			rep.Error(w, w.Field("metadata", "annotations"), "%v", err)
			return
		}
		for _, a := range set {
			p.setField(w, rep, meta, w.Field("metadata", "annotations", a.key), a.key, a.value)
		}
	}
	if zones := w.Template.GetAnnotations()[AnnotationZones]; strings.ContainsAny(zones, ";,") {
		rep.Error(w, w.Field("metadata", "annotations", AnnotationZones),
			"ACI accepts exactly one zone, got %q", zones)
	}
}

func boolString(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}
