package pipeline

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// verifyPlacement checks that the pod runs where the config's target puts
// it: the target's runtimeClassName, or the virtual node's nodeSelector
// and toleration (and, as warnings, the configured virtual-node
// annotations).
func (p *Pipeline) verifyPlacement(w *Workload, rep *Report) {
	if p.opts.Target != TargetVirtualNode {
		want, field := p.opts.RuntimeClass(), w.Field("spec", "runtimeClassName")
		switch got := stringField(w.Spec, "runtimeClassName"); got {
		case want:
		case "":
			rep.Error(w, field, "no runtimeClassName: the pod would run outside the sandbox (target %s needs %q); render the stream with cocofy", p.opts.Target, want)
		default:
			rep.Error(w, field, "is %q, but target %s needs %q: the pod would not run in the VM the config asks for", got, p.opts.Target, want)
		}
		return
	}
	sel, _ := w.Spec.Pipe(yaml.Lookup("nodeSelector"))
	if sel == nil || stringField(sel, VirtualNodeSelectorKey) != VirtualNodeSelectorValue {
		rep.Error(w, w.Field("spec", "nodeSelector", VirtualNodeSelectorKey), "is not %q: the pod would not be placed on a virtual node, and would run on an ordinary node outside any confidential VM; render the stream with cocofy", VirtualNodeSelectorValue)
	}
	if !hasVirtualNodeToleration(w) {
		rep.Error(w, w.Field("spec", "tolerations"), "no toleration for %s: the virtual node's taint keeps the pod off it; render the stream with cocofy", VirtualNodeTolerationKey)
	}
	annos := w.Template.GetAnnotations()
	for _, a := range p.virtualNodeAnnotations() {
		if a.value != "" && annos[a.key] != a.value {
			rep.Warn(w, w.Field("metadata", "annotations", a.key), "is %q, but the config says %q", annos[a.key], a.value)
		}
	}
}

func hasVirtualNodeToleration(w *Workload) bool {
	tols, _ := w.Spec.Pipe(yaml.Lookup("tolerations"))
	if tols == nil || tols.YNode().Kind != yaml.SequenceNode {
		return false
	}
	for _, t := range tols.Content() {
		if t.Kind == yaml.MappingNode && stringField(yaml.NewRNode(t), "key") == VirtualNodeTolerationKey {
			return true
		}
	}
	return false
}

// verifyPins checks that every image is pinned by digest, when the config
// pins images.
func (p *Pipeline) verifyPins(w *Workload, rep *Report) {
	if !p.opts.PinImages() {
		return
	}
	cs, err := w.AllContainers()
	if err != nil {
		rep.Error(w, "", "%v", err)
		return
	}
	for _, c := range cs {
		ref, ok := c.Image()
		if !ok || !strings.Contains(ref, "@sha256:") {
			rep.Error(w, c.Field("image"), "%q is not pinned by digest (repo@sha256:…): the image a tag names can change under the pod; render the stream with cocofy", ref)
		}
	}
}

// verifyResources checks that requests equal limits (cpu and memory) in
// every container, when the config makes them equal: the pod's VM is sized
// from its limits.
func (p *Pipeline) verifyResources(w *Workload, rep *Report) {
	if !p.opts.EqualizeResources() {
		return
	}
	cs, err := w.ContainersIn(Containers, InitContainers)
	if err != nil {
		rep.Error(w, "", "%v", err)
		return
	}
	for _, c := range cs {
		for _, res := range equalized {
			p.verifyQuantity(w, c, res, rep)
		}
	}
}

func (p *Pipeline) verifyQuantity(w *Workload, c Container, res string, rep *Report) {
	limit, _ := c.Node.Pipe(yaml.Lookup("resources", "limits", res))
	request, _ := c.Node.Pipe(yaml.Lookup("resources", "requests", res))
	lField := c.Field("resources", "limits", res)
	switch {
	case limit == nil && request == nil:
		sev := framework.Warning
		if p.opts.Resources.Missing == MissingError {
			sev = framework.Error
		}
		rep.Add(sev, refPtr(w), lField, "no %s limit or request: the VM gets the runtime's default size", res)
	case limit == nil:
		rep.Error(w, lField, "missing, while requests.%s is %s: requests must equal limits (the VM is sized from limits); render the stream with cocofy", res, request.YNode().Value)
	case request == nil:
		rep.Error(w, c.Field("resources", "requests", res), "missing, while limits.%s is %s: requests must equal limits; render the stream with cocofy", res, limit.YNode().Value)
	case !sameQuantity(limit.YNode().Value, request.YNode().Value):
		rep.Error(w, c.Field("resources", "requests", res), "is %s but limits.%s is %s: requests must equal limits (the VM is sized from limits); render the stream with cocofy", request.YNode().Value, res, limit.YNode().Value)
	}
}

func sameQuantity(a, b string) bool {
	qa, errA := resource.ParseQuantity(a)
	qb, errB := resource.ParseQuantity(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return qa.Cmp(qb) == 0
}
