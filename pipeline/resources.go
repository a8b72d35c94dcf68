package pipeline

import (
	"fmt"
	"math"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Resources cocofy makes equal; extended resources already must be.
var equalized = []string{"cpu", "memory"}

// resources makes requests equal limits in every container and init
// container, then reports the VM size the target will give the pod.
func (p *Pipeline) resources(w *Workload, rep *Report) {
	cs, err := w.ContainersIn(Containers, InitContainers)
	if err != nil {
		rep.Error(w, "", "%v", err)
		return
	}
	if p.opts.EqualizeResources() {
		for _, c := range cs {
			for _, res := range equalized {
				p.equalize(w, c, res, rep)
			}
		}
	}
	p.reportVMSize(w, cs, rep)
}

func (p *Pipeline) equalize(w *Workload, c Container, res string, rep *Report) {
	limit, request := valueAt(c.Node, "resources", "limits", res), valueAt(c.Node, "resources", "requests", res)
	lField, rField := c.Field("resources", "limits", res), c.Field("resources", "requests", res)
	switch {
	case limit != nil && request != nil:
		if limit.YNode().Value != request.YNode().Value {
			old := request.YNode().Value
			p.copyQuantity(w, c, limit, "requests", res, rep)
			rep.Info(w, rField, "changed %s to %s to equal the limit", old, limit.YNode().Value)
		}
	case limit != nil:
		p.copyQuantity(w, c, limit, "requests", res, rep)
		rep.Info(w, rField, "set to %s to equal the limit", limit.YNode().Value)
	case request != nil:
		p.copyQuantity(w, c, request, "limits", res, rep)
		rep.Info(w, lField, "set to %s from the request", request.YNode().Value)
	default:
		p.missing(w, c, res, rep)
	}
}

// copyQuantity writes a copy of the quantity node q (keeping its style) to
// resources.<into>.<res> of the container.
func (p *Pipeline) copyQuantity(w *Workload, c Container, q *yaml.RNode, into, res string, rep *Report) {
	m, err := lookupCreate(c.Node, yaml.MappingNode, "resources", into)
	if err == nil {
		err = m.PipeE(yaml.SetField(res, q.Copy()))
	}
	if err != nil {
		rep.Error(w, c.Field("resources", into, res), "%v", err)
		return
	}
	w.claim(c.Field("resources", into, res), q.YNode().Value)
}

func (p *Pipeline) missing(w *Workload, c Container, res string, rep *Report) {
	field := c.Field("resources", "limits", res)
	r := p.opts.Resources
	switch r.Missing {
	case MissingError:
		rep.Error(w, field, "no %s limit or request; set one (the VM is sized from limits)", res)
	case MissingDefault:
		def := r.DefaultCPU
		if res == "memory" {
			def = r.DefaultMemory
		}
		if def == "" {
			rep.Warn(w, field, "no %s limit or request, and no default %s configured", res, res)
			return
		}
		q := yaml.NewStringRNode(def)
		p.copyQuantity(w, c, q, "limits", res, rep)
		p.copyQuantity(w, c, q, "requests", res, rep)
		rep.Info(w, field, "set %s limit and request to the default %s", res, def)
	default:
		rep.Warn(w, field, "no %s limit or request: the VM gets the runtime's default size", res)
	}
}

// podTotals sums the cpu and memory limits of regular containers and of
// init containers. Unparsable quantities are reported.
type podTotals struct {
	cpu, memory       resource.Quantity
	initMemory        resource.Quantity
	hasCPU, hasMemory bool
}

func (p *Pipeline) totals(w *Workload, cs []Container, rep *Report) (podTotals, bool) {
	var t podTotals
	ok := true
	for _, c := range cs {
		for _, res := range equalized {
			n := valueAt(c.Node, "resources", "limits", res)
			if n == nil {
				continue
			}
			q, err := resource.ParseQuantity(n.YNode().Value)
			if err != nil {
				rep.Error(w, c.Field("resources", "limits", res), "invalid quantity %q: %v", n.YNode().Value, err)
				ok = false
				continue
			}
			switch {
			case c.List == InitContainers && res == "memory":
				t.initMemory.Add(q)
			case c.List == InitContainers:
			case res == "cpu":
				t.cpu.Add(q)
				t.hasCPU = true
			default:
				t.memory.Add(q)
				t.hasMemory = true
			}
		}
	}
	return t, ok
}

// reportVMSize says, as an info result, how big a VM the target will start
// for this pod (seeds 001 and 002; spec/targets.md §1.4 and §3.1).
func (p *Pipeline) reportVMSize(w *Workload, cs []Container, rep *Report) {
	t, ok := p.totals(w, cs, rep)
	if !ok {
		return
	}
	field := w.Field("spec", Containers)
	switch rc := p.opts.RuntimeClass(); {
	case p.opts.Target == TargetContrast:
		overhead := p.opts.Resources.PodOverheadMemory
		if overhead == "" {
			overhead = "682Mi"
		}
		o, err := resource.ParseQuantity(overhead)
		if err != nil {
			rep.Error(w, "", "resources.podOverheadMemory: invalid quantity %q: %v", overhead, err)
			return
		}
		mem := t.memory.DeepCopy()
		mem.Add(o)
		rep.Info(w, field, "Contrast VM: %s memory (%s container limits + %s RuntimeClass overhead), %d vCPUs (ceil(%s)+1)",
			mib(mem), mib(t.memory), mib(o), ceilCPU(t.cpu)+1, t.cpu.String())
		if t.initMemory.Cmp(t.memory) > 0 {
			rep.Warn(w, w.Field("spec", InitContainers),
				"init containers' memory limits (%s) exceed the containers' (%s); Contrast does not count init containers, so raise a container's limit",
				mib(t.initMemory), mib(t.memory))
		}
	case rc == RuntimeClassPodSandboxPreview:
		mem := resource.MustParse("2Gi")
		mem.Add(t.memory)
		rep.Info(w, field, "Pod Sandboxing (preview) VM: %s memory (2Gi + limits), %d vCPUs (1 + limits)", mib(mem), 1+ceilCPU(t.cpu))
	case p.opts.Target == TargetPodSandbox:
		mem, vcpu := t.memory.DeepCopy(), ceilCPU(t.cpu)
		if !t.hasMemory {
			mem = resource.MustParse("512Mi")
		}
		if !t.hasCPU {
			vcpu = 1
		}
		rep.Info(w, field, "Pod Sandboxing VM: %s memory (pod memory limit; 512Mi when unset), %d vCPUs (pod cpu limit rounded up; 1 when unset)", mib(mem), vcpu)
		if t.hasMemory && t.memory.Cmp(resource.MustParse("128Mi")) < 0 {
			rep.Warn(w, field, "pod memory limit %s is below the 128Mi Pod Sandboxing supports", mib(t.memory))
		}
	}
}

func ceilCPU(q resource.Quantity) int64 {
	return int64(math.Ceil(float64(q.MilliValue()) / 1000))
}

func mib(q resource.Quantity) string {
	v := q.Value()
	if v%(1<<20) == 0 {
		return fmt.Sprintf("%dMi", v>>20)
	}
	return q.String()
}
