package pipeline

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/podspec"
)

// WorkloadPath says where a kind keeps its pod template: the object that has
// the pod's metadata and spec. An empty Template means the object itself is
// the pod.
type WorkloadPath struct {
	// APIVersion, when set, must match the resource's apiVersion exactly.
	APIVersion string `json:"apiVersion,omitempty" yaml:"apiVersion,omitempty"`
	// Kind must match the resource's kind exactly.
	Kind string `json:"kind" yaml:"kind"`
	// Template is the field path to the pod template, e.g. [spec, template].
	Template []string `json:"template,omitempty" yaml:"template,omitempty"`
}

// BuiltinWorkloadPaths returns the Kubernetes kinds that create pods (a
// copy: callers may change it).
func BuiltinWorkloadPaths() []WorkloadPath {
	return slices.Clone(builtinWorkloadPaths)
}

var builtinWorkloadPaths = []WorkloadPath{
	{Kind: "Pod"},
	{Kind: "Deployment", Template: []string{"spec", "template"}},
	{Kind: "StatefulSet", Template: []string{"spec", "template"}},
	{Kind: "DaemonSet", Template: []string{"spec", "template"}},
	{Kind: "ReplicaSet", Template: []string{"spec", "template"}},
	{Kind: "ReplicationController", Template: []string{"spec", "template"}},
	{Kind: "Job", Template: []string{"spec", "template"}},
	{Kind: "CronJob", Template: []string{"spec", "jobTemplate", "spec", "template"}},
}

// Container lists in a pod spec, in the order cocofy visits them.
const (
	Containers          = "containers"
	InitContainers      = "initContainers"
	EphemeralContainers = "ephemeralContainers"
)

// Workload is one pod-creating resource found in the stream.
type Workload struct {
	// Resource is the top-level object (or the item of a List).
	Resource *yaml.RNode
	// Ref names the resource in results and errors.
	Ref Ref
	// TemplatePath is the field path from Resource to Template.
	TemplatePath []string
	// Template holds the pod's metadata and spec; for a Pod it is Resource.
	Template *yaml.RNode
	// Spec is the pod spec.
	Spec *yaml.RNode

	// pod is the pod as the policy stages read it (podOf), decoded once,
	// for the configured namespace podNamespace.
	pod          *podspec.Pod
	podNamespace string
	// claims are the values the stages reported writing (see readBack).
	claims []claim
}

// Ref identifies a resource for people: kind, namespace and name, plus where
// it came from when that is known.
type Ref struct {
	APIVersion, Kind, Namespace, Name string
	// Within is set for items of a List: "<kind>/<name> items[<i>]".
	Within string
}

// String gives "Kind namespace/name", or "Kind name" without a namespace.
func (r Ref) String() string {
	s := r.Kind + " "
	if r.Namespace != "" {
		s += r.Namespace + "/"
	}
	s += r.Name
	if r.Within != "" {
		s += " (in " + r.Within + ")"
	}
	return s
}

func refOf(n *yaml.RNode) Ref {
	return Ref{APIVersion: n.GetApiVersion(), Kind: n.GetKind(), Namespace: n.GetNamespace(), Name: n.GetName()}
}

// Field joins the template path and rel into a dotted field path such as
// "spec.template.spec.containers[name=app].image".
func (w Workload) Field(rel ...string) string {
	return strings.Join(append(append([]string{}, w.TemplatePath...), rel...), ".")
}

// Container is one entry of containers, initContainers or ephemeralContainers.
type Container struct {
	Node *yaml.RNode
	Name string
	// List is Containers, InitContainers or EphemeralContainers.
	List string
	// Path is the field path of the container from the resource root.
	Path string
}

// Field gives the dotted path of a field of the container.
func (c Container) Field(rel ...string) string {
	return strings.Join(append([]string{c.Path}, rel...), ".")
}

// Image returns the container's image reference, and false when its image
// field is missing or not a string (validate reports those; nothing may
// resolve them: `image: 12345` must not become docker.io/library/12345).
func (c Container) Image() (string, bool) {
	f := c.Node.Field("image")
	if f == nil || f.Value == nil {
		return "", false
	}
	y := f.Value.YNode()
	if y.Kind != yaml.ScalarNode || y.Tag != yaml.NodeTagString || y.Value == "" {
		return "", false
	}
	return y.Value, true
}

// ContainersIn returns the containers of the given lists, in list order.
func (w Workload) ContainersIn(lists ...string) ([]Container, error) {
	var out []Container
	for _, list := range lists {
		seq := valueAt(w.Spec, list) // a null list is an empty one
		if seq == nil {
			continue
		}
		if seq.YNode().Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%s: must be a list", w.Field("spec", list))
		}
		for i, c := range seq.Content() {
			n := yaml.NewRNode(c)
			name, _ := n.GetString("name")
			sel := fmt.Sprintf("[name=%s]", name)
			if name == "" {
				sel = fmt.Sprintf("[%d]", i)
			}
			out = append(out, Container{Node: n, Name: name, List: list, Path: w.Field("spec", list+sel)})
		}
	}
	return out, nil
}

// AllContainers returns containers, initContainers and ephemeralContainers.
func (w Workload) AllContainers() ([]Container, error) {
	return w.ContainersIn(Containers, InitContainers, EphemeralContainers)
}

// isLocalConfig reports objects that kpt and kustomize hand to functions but
// that are not part of their output: the Kptfile and local-config objects.
// Only the items of a ResourceList are such (see Pipeline.ForResourceList):
// kubectl and Helm apply an object of a plain stream whatever its
// annotations say.
func isLocalConfig(n *yaml.RNode) bool {
	if n.GetKind() == "Kptfile" {
		return true
	}
	return n.GetAnnotations()[AnnotationLocalConfig] == "true"
}

// FindWorkloads returns the pod-creating resources among nodes, descending
// into the items of lists: any object with a top-level items field, of
// any kind (List, PodList, but also a ConfigMap or a Pod), as kubectl's
// and Helm's resource builder reads it (apimachinery's unstructured
// decoder makes a list of any object with items, and the builder applies
// its items, not the object; an item with items of its own is an error
// there). Every object counts, local-config ones too: kpt and kustomize
// drop those from their output, kubectl and Helm apply them (a Pipeline
// for a ResourceList leaves them out before looking). extra
// adds kinds (CRDs) to BuiltinWorkloadPaths() and wins over them. Resources
// of unknown kinds are not workloads. A known kind without its pod
// template or containers is reported as an error.
func FindWorkloads(nodes []*yaml.RNode, extra []WorkloadPath, rep *Report) []Workload {
	paths := append(slices.Clone(extra), builtinWorkloadPaths...)
	var out []Workload
	var visit func(n *yaml.RNode, within string, implied Ref)
	visit = func(n *yaml.RNode, within string, implied Ref) {
		if n.YNode().Kind != yaml.MappingNode {
			return
		}
		ref := refOf(n)
		ref.Within = within
		if ref.Kind == "" && ref.APIVersion == "" {
			// An item of a typed list as the API server sends it: a
			// PodList's items are Pods (apimachinery infers the same).
			ref.Kind, ref.APIVersion = implied.Kind, implied.APIVersion
		}
		if within == "" && isList(ref.Kind, n) {
			visitItems(n, ref, visit, rep)
			return
		}
		if within != "" && n.Field("items") != nil && n.Field("items").Value.YNode().Kind == yaml.SequenceNode {
			rep.Add(framework.Error, &ref, "items", "an item of a list cannot have items of its own: kubectl and Helm refuse a list inside a list; give its items at the top level")
			return
		}
		wp, ok := matchPath(ref, paths)
		if !ok {
			warnLookalike(n, ref, rep)
			return
		}
		w := Workload{Resource: n, Ref: ref, TemplatePath: wp.Template}
		tmpl, err := n.Pipe(yaml.Lookup(wp.Template...))
		if err != nil || tmpl == nil || tmpl.YNode().Kind != yaml.MappingNode {
			rep.Error(&w, strings.Join(wp.Template, "."), "pod template missing or not a map")
			return
		}
		w.Template = tmpl
		spec, err := tmpl.Pipe(yaml.Lookup("spec"))
		if err != nil || spec == nil || spec.YNode().Kind != yaml.MappingNode {
			rep.Error(&w, w.Field("spec"), "pod spec missing or not a map")
			return
		}
		w.Spec = spec
		cs, err := w.ContainersIn(Containers)
		if err != nil {
			rep.Error(&w, "", "%v", err)
			return
		}
		if len(cs) == 0 {
			rep.Error(&w, w.Field("spec", Containers), "a pod needs at least one container")
			return
		}
		out = append(out, w)
	}
	for _, n := range nodes {
		visit(n, "", Ref{})
	}
	return out
}

// isList reports a list of objects as kubectl and Helm unpack one: an
// object of any kind with a top-level items field, even null (an empty
// list: the object itself is not applied). A kind List without items is
// an empty list too. A ResourceList is the function protocol's wrapper,
// never a resource: it is refused before workloads are looked for.
func isList(kind string, n *yaml.RNode) bool {
	if kind == kio.ResourceListKind {
		return false
	}
	return kind == "List" || n.Field("items") != nil
}

// visitItems visits the items of list n; items that are not a list of
// objects are an error naming the list and the field. An item with
// neither kind nor apiVersion in a typed list (PodList) is of the list's
// kind without "List", in the list's apiVersion, as kubectl reads it.
func visitItems(n *yaml.RNode, ref Ref, visit func(*yaml.RNode, string, Ref), rep *Report) {
	f := n.Field("items")
	if f == nil || yaml.IsMissingOrNull(f.Value) {
		return
	}
	if f.Value.YNode().Kind != yaml.SequenceNode {
		rep.Add(framework.Error, &ref, "items", "must be a list of objects, got %s", kindName(f.Value.YNode()))
		return
	}
	implied := Ref{Kind: strings.TrimSuffix(ref.Kind, "List"), APIVersion: ref.APIVersion}
	for i, it := range f.Value.Content() {
		if it.Kind != yaml.MappingNode {
			rep.Add(framework.Error, &ref, fmt.Sprintf("items[%d]", i), "a List item must be an object (a map with apiVersion and kind), got %s", kindName(it))
			continue
		}
		item := yaml.NewRNode(it)
		kind, apiVersion := stringField(item, "kind"), stringField(item, "apiVersion")
		if kind == "" && apiVersion == "" {
			kind, apiVersion = implied.Kind, implied.APIVersion
		}
		if kind == "" || apiVersion == "" {
			var missing []string
			for _, f := range []struct{ name, value string }{{"apiVersion", apiVersion}, {"kind", kind}} {
				if f.value == "" {
					missing = append(missing, f.name)
				}
			}
			rep.Add(framework.Error, &ref, fmt.Sprintf("items[%d]", i), "a List item must be an object with apiVersion and kind: %s missing", strings.Join(missing, " and "))
			continue
		}
		visit(item, fmt.Sprintf("%s/%s items[%d]", ref.Kind, ref.Name, i), implied)
	}
}

func matchPath(ref Ref, paths []WorkloadPath) (WorkloadPath, bool) {
	for _, p := range paths {
		if p.Kind == ref.Kind && (p.APIVersion == "" || p.APIVersion == ref.APIVersion) {
			return p, true
		}
	}
	return WorkloadPath{}, false
}

// warnLookalike warns about an object of an unknown kind that has a pod
// template where Kubernetes workloads keep one: its pods would escape
// cocofy unless its kind is added to workloadPaths.
func warnLookalike(n *yaml.RNode, ref Ref, rep *Report) {
	for _, p := range [][]string{{"spec", "template", "spec", "containers"}, {"spec", "jobTemplate", "spec", "template", "spec", "containers"}} {
		if c, _ := n.Pipe(yaml.Lookup(p...)); c != nil {
			tmpl := strings.Join(p[:len(p)-2], ", ")
			rep.Add("warning", &ref, strings.Join(p, "."),
				"kind %s is not a known workload, so its pods were left unchanged; if it creates pods, add {apiVersion: %s, kind: %s, template: [%s]} to spec.workloadPaths",
				ref.Kind, ref.APIVersion, ref.Kind, tmpl)
			return
		}
	}
}

// kindName names a node's kind for messages: "a map", "a string "x"".
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		if n.Alias != nil && n.Alias.Kind != yaml.AliasNode {
			return "an alias of " + kindName(n.Alias)
		}
		return "an alias"
	case yaml.ScalarNode:
		switch n.Tag {
		case yaml.NodeTagNull:
			return "null"
		case yaml.NodeTagString, "":
			return "a string " + strconv.Quote(n.Value)
		}
		t := shortTag(n.Tag)
		if strings.ContainsAny(t[:1], "aeiou") {
			return "an " + t + " " + strconv.Quote(n.Value)
		}
		return "a " + t + " " + strconv.Quote(n.Value)
	}
	return "a document"
}
