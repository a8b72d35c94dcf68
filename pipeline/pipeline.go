package pipeline

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/cache"
	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/verify"
)

// Deps are the outside services the stages use. Tests inject fixed ones.
type Deps struct {
	// Resolver pins image references; required when Options.PinImages().
	Resolver image.Resolver
	// Inspector gives image facts for the CCE policy; required for target
	// virtual-node.
	Inspector image.Inspector
	// Fragments finds the policy fragments attached to images, for
	// policy.imageFragments; nil looks for none (each image's layers are
	// hashed, and an info result says why).
	Fragments image.FragmentSource
	// Checks remembers enforcer replays that passed (kind CheckCacheKind);
	// nil replays every time. cache.Dir implements it.
	Checks Cache
}

// Cache keeps small JSON values by kind and digest key: cocofy's one cache
// interface.
type Cache = cache.Store

// Pipeline runs cocofy's stages in order: select workloads, place them
// (runtimeClassName or virtual node), make requests equal limits, check
// them for the target, pin images, and attach the CCE policy. A Verifier
// runs verify's stages instead. Run and RunStream run them.
type Pipeline struct {
	opts   Options
	deps   Deps
	stages stages
	// samePods holds the policies computed in this run (see compute and
	// memoized); nil outside a run.
	samePods *policyMemo
	// batch is how many documents a run holds at a time (streamBatch).
	batch int
	// verifier replays pods with hcsshim's framework, compiled once for
	// this pipeline's runs.
	verifier *verify.Verifier
	// resourceList is set for the items of a KRM ResourceList (see
	// ForResourceList).
	resourceList bool
}

// ForResourceList returns a copy of p for the items of a KRM
// ResourceList (kpt, kustomize): the Kptfile and objects annotated
// config.kubernetes.io/local-config: "true" are left alone, as kpt and
// kustomize leave them out of what they output. In a plain stream (Helm,
// a pipe to kubectl) they are applied, so p reads them like any other.
func (p *Pipeline) ForResourceList() *Pipeline {
	q := *p
	q.resourceList = true
	return &q
}

// LocalConfig reports an object that ForResourceList leaves alone.
func LocalConfig(n *yaml.RNode) bool {
	return n.YNode().Kind == yaml.MappingNode && isLocalConfig(n)
}

// New returns a Pipeline for opts, with the defaults of Options.Default
// applied; opts that do not validate are an error naming every bad field.
func New(opts Options, deps Deps) (*Pipeline, error) {
	opts.Default()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.PinImages() && deps.Resolver == nil {
		return nil, fmt.Errorf("image pinning is on but no resolver was configured")
	}
	return &Pipeline{opts: opts, deps: deps, stages: renderStages(opts), batch: streamBatch, verifier: verify.New()}, nil
}

// renderStages are Run's: place, resources and checks on each selected
// workload, then pinning, then the CCE policies.
func renderStages(o Options) stages {
	st := stages{
		each: func(p *Pipeline, w *Workload, rep *Report) bool {
			p.validate(w, rep)
			if p.opts.Target == TargetVirtualNode && !p.onVirtualNode(w, rep) {
				return false // a DaemonSet: pinned only
			}
			p.place(w, rep)
			p.resources(w, rep)
			p.check(w, rep)
			return true
		},
		pin: o.PinImages(),
	}
	if o.AttachPolicy() {
		st.objects, st.policy = true, (*streamRun).attach
	}
	return st
}

// Filter makes a Pipeline a kio.Filter for Go callers: it runs with a
// background context and returns the results as the error on failure.
// It reads nodes as a plain stream; for a ResourceList's items (a kyaml
// framework processor) use ForResourceList().Filter.
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

// checkObject reports a stream entry (document index) that is not a
// Kubernetes object.
func checkObject(n *yaml.RNode, index int, rep *Report) {
	if n.YNode().Kind != yaml.MappingNode {
		rep.Add(framework.Error, nil, "", "document %d: not a Kubernetes object (a map with apiVersion and kind)", index+1)
		return
	}
	var missing []string
	for _, f := range []string{"apiVersion", "kind"} {
		if stringField(n, f) == "" {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		ref := refOf(n)
		rep.Add(framework.Error, &ref, strings.Join(missing, ", "), "document %d: not a Kubernetes object: %s missing", index+1, strings.Join(missing, " and "))
	}
}

// Limits on what YAML aliases may add to an input once expanded: at most
// aliasFactor times the input's size, but always aliasMin and never more
// than aliasMax. Sizes count each node as nodeCost bytes (about what a
// parsed node takes in memory) plus its value, so that a billion small
// nodes count as much as a billion bytes.
const (
	aliasFactor = 10
	aliasMin    = 1 << 20
	aliasMax    = 64 << 20
	nodeCost    = 160
	sizeCap     = 1 << 62
)

// CheckYAML reports, as errors in rep, what would let cocofy read nodes
// differently from Kubernetes or without bound: a key given twice in a
// mapping (cocofy reads the first value, other readers the last), a YAML
// alias that contains itself, aliases that would expand the input past
// its limit (ten times its size, at least 1 MiB, at most 64 MiB), items
// that are not a list of objects, an item with items of its own, a key
// with an explicit tag (!!binary, !!int, !custom: Kubernetes' reader
// decodes a !!binary key to another key) and a !!binary value. An
// object of any kind with a top-level items field is a list, as kubectl
// and Helm read it (see FindWorkloads). Each error names the
// document, the object (kind, namespace and name) and the field. It
// expands nothing, and reports whether the nodes may be read.
func CheckYAML(nodes []*yaml.RNode, rep *Report) bool {
	_, ok := checkYAML(nodes, rep)
	return ok
}

// yamlDoc is what checkYAML learns about one document.
type yamlDoc struct {
	index int
	root  *yaml.Node
	ref   *Ref
	// literal is the document's size with aliases not expanded.
	literal int64
	// aliases are the document's alias nodes, in document order.
	aliases []*yaml.Node
	// expand is set when the document has aliases or merge keys.
	expand bool
}

func checkYAML(nodes []*yaml.RNode, rep *Report) ([]*yamlDoc, bool) {
	ok := true
	docs := make([]*yamlDoc, 0, len(nodes))
	var literal int64
	for i, n := range nodes {
		d := &yamlDoc{index: i, root: n.YNode(), ref: objectRef(n.YNode())}
		w := &yamlWalker{d: d, rep: rep, ok: true}
		w.walkDoc()
		ok = ok && w.ok
		literal = satAdd(literal, d.literal)
		docs = append(docs, d)
	}
	if !ok {
		return nil, false
	}
	budget := aliasBudget(literal)
	s := newSizer()
	var extra int64
	for _, d := range docs {
		for _, a := range d.aliases {
			added, err := s.added(a)
			if err != nil {
				l := d.locate(a)
				rep.Add(framework.Error, l.ref, l.path, "%s: YAML alias *%s %v", l.where, a.Value, err)
				return nil, false
			}
			extra = satAdd(extra, added)
			if extra > budget {
				l := d.locate(a)
				rep.Add(framework.Error, l.ref, l.path,
					"%s: YAML aliases (counted up to this *%s) would expand the input by more than %d MiB, its limit: %s",
					l.where, a.Value, budget>>20, aliasRule)
				return nil, false
			}
		}
	}
	return docs, true
}

// aliasBudget is how much aliases may add to an input of literal bytes.
func aliasBudget(literal int64) int64 {
	return min(max(aliasFactor*min(literal, sizeCap/aliasFactor), aliasMin), aliasMax)
}

// aliasRule says the alias limit in messages.
var aliasRule = fmt.Sprintf("aliases may add %d times the input's size, at least %d MiB and at most %d MiB; nothing was expanded", aliasFactor, aliasMin>>20, aliasMax>>20)

// location names a node for a message: its object, where that object is
// in the input, and the node's field path in the object.
type location struct {
	ref         *Ref
	where, path string
}

// locate finds where alias node a is in the document.
func (d *yamlDoc) locate(a *yaml.Node) location {
	w := &yamlWalker{d: d, find: a}
	w.walkDoc()
	if w.found == nil {
		return location{ref: d.ref, where: fmt.Sprintf("document %d", d.index+1)}
	}
	return *w.found
}

// yamlWalker walks one document: it adds up its literal size, records its
// aliases, and reports duplicate keys, bad merge keys and List items that
// are not a list of objects. With find set it only looks for that node.
// The field path is kept as a stack and spelled out only for a message.
type yamlWalker struct {
	d   *yamlDoc
	rep *Report
	ok  bool
	// ref and where name the object being walked: the document, or an
	// item of a List in it.
	ref   *Ref
	where string
	path  []pathElem

	// obj is the object being walked (the document's root, or an item
	// of its items) and inItems says it is an item: its own items are
	// read as kubectl reads them (see walkMap).
	obj     *yaml.Node
	inItems bool
	// inKey is set while a mapping key is walked.
	inKey bool

	find  *yaml.Node
	found *location
}

// pathElem is a mapping key, or an entry of a sequence: [name=x] for an
// entry with a name, else [index].
type pathElem struct {
	key     string
	isEntry bool
	entry   *yaml.Node
	index   int
}

func (w *yamlWalker) walkDoc() {
	w.ref, w.where = w.d.ref, describe(fmt.Sprintf("document %d", w.d.index+1), w.d.root)
	w.obj, w.inItems = w.d.root, false
	w.walk(w.d.root)
}

// fieldPath spells out the current path, e.g. spec.containers[name=app].image.
func (w *yamlWalker) fieldPath() string {
	var b strings.Builder
	for _, e := range w.path {
		if e.isEntry {
			b.WriteString(selector(e.entry, e.index))
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.key)
	}
	return b.String()
}

// fail reports an error at the current path (never while looking for a node).
func (w *yamlWalker) fail(format string, args ...any) {
	w.ok = false
	if w.find == nil {
		w.rep.Add(framework.Error, w.ref, w.fieldPath(), "%s: "+format, append([]any{w.where}, args...)...)
	}
}

func (w *yamlWalker) walk(n *yaml.Node) {
	if n == nil || w.found != nil {
		return
	}
	if w.find == nil {
		w.d.literal = satAdd(w.d.literal, nodeCost+int64(len(n.Value)))
	}
	if n.Kind == yaml.ScalarNode && n.Tag == binaryTag && w.find == nil && !w.inKey {
		// The value is not shown: it may be a Secret's.
		w.fail("the value has the tag !!binary: Kubernetes' YAML reader decodes its base64, cocofy reads the text; write it as plain text")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			w.walk(c)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			w.path = append(w.path, pathElem{isEntry: true, entry: c, index: i})
			w.walk(c)
			w.path = w.path[:len(w.path)-1]
		}
	case yaml.AliasNode:
		if w.find == n {
			w.found = &location{ref: w.ref, where: w.where, path: w.fieldPath()}
		}
		if w.find == nil {
			w.d.expand = true
			w.d.aliases = append(w.d.aliases, n)
		}
	case yaml.MappingNode:
		w.walkMap(n)
	}
}

func (w *yamlWalker) walkMap(n *yaml.Node) {
	obj := n == w.obj
	var seen map[string]bool // for large maps; small ones are scanned
	if w.find == nil && len(n.Content) > 32 {
		seen = make(map[string]bool, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := keyString(k)
		w.path = append(w.path, pathElem{key: key})
		if w.find == nil {
			w.checkKeyTag(k)
			if k.Tag == yaml.MergeTag {
				w.d.expand = true
				if !mergeable(v) {
					w.fail("a merge key needs a map, an alias of a map, or a list of those; got %s", kindName(v))
				}
			}
			dup := false
			if seen != nil {
				dup, seen[key] = seen[key], true
			} else {
				dup = hasKey(n.Content[:i], key)
			}
			if dup {
				w.fail("duplicate key %q: cocofy reads the first value, other YAML readers may read the last; remove one", key)
			}
		}
		w.inKey = true
		w.walk(k)
		w.inKey = false
		switch {
		case obj && key == "items" && !w.inItems:
			w.walkItems(v, n)
		case obj && key == "items" && v.Kind == yaml.SequenceNode:
			w.fail("an item of a list cannot have items of its own: kubectl and Helm refuse a list inside a list; give its items at the top level")
		default:
			w.walk(v)
		}
		w.path = w.path[:len(w.path)-1]
	}
}

// checkKeyTag reports a key with an explicit tag other than !!str and the
// merge key's: Kubernetes' YAML reader decodes a !!binary key (so
// "!!binary aW1hZ2U=" is its image), and no Kubernetes field is spelled
// with another tag. A plain key is checked by checkPlainKey.
func (w *yamlWalker) checkKeyTag(k *yaml.Node) {
	if k.Kind != yaml.ScalarNode {
		return
	}
	if k.Style == 0 {
		w.checkPlainKey(k)
		return
	}
	if k.Style&yaml.TaggedStyle == 0 || k.Tag == yaml.NodeTagString || k.Tag == yaml.MergeTag {
		return
	}
	if k.Tag == binaryTag {
		decoded := "text that is not base64"
		if b, err := base64.StdEncoding.DecodeString(k.Value); err == nil {
			decoded = strconv.Quote(string(b))
		}
		w.fail("key %q has the tag !!binary: Kubernetes' YAML reader decodes it (to %s), cocofy reads the text; write keys as plain text", k.Value, decoded)
		return
	}
	w.fail("key %q has the tag %s: a key must be plain text, a tag may make YAML readers read another key", k.Value, k.Tag)
}

// checkPlainKey reports a plain key that Kubernetes' YAML reader
// (sigs.k8s.io/yaml, YAML 1.1) reads otherwise than cocofy (YAML 1.2): y,
// yes, on (and n, no, off) are the key "true" ("false") there, and a null
// key is an error there.
func (w *yamlWalker) checkPlainKey(k *yaml.Node) {
	switch {
	case k.Tag == yaml.NodeTagNull:
		w.fail("a null key (%q): Kubernetes' YAML reader refuses it; quote it if it is a name", k.Value)
	case k.Tag == yaml.NodeTagString && yaml11Bool(k.Value) != "":
		w.fail("key %s is the key %q to Kubernetes' YAML reader (YAML 1.1 reads it as a boolean), %q to cocofy; quote it", k.Value, yaml11Bool(k.Value), k.Value)
	}
}

// yaml11Bool is "true" or "false" for the words YAML 1.1 reads as booleans
// and YAML 1.2 as strings, else "".
func yaml11Bool(s string) string {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
		return "true"
	case "n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return "false"
	}
	return ""
}

// hasKey reports whether the keys and values in content have key.
func hasKey(content []*yaml.Node, key string) bool {
	for i := 0; i+1 < len(content); i += 2 {
		if keyString(content[i]) == key {
			return true
		}
	}
	return false
}

// walkItems walks the items of list: each item is an object of its own.
func (w *yamlWalker) walkItems(items, list *yaml.Node) {
	switch {
	case items.Kind == yaml.SequenceNode:
	case items.Kind == yaml.ScalarNode && items.Tag == yaml.NodeTagNull:
		w.walk(items)
		return
	default:
		w.fail("must be a list of objects, got %s", kindName(items))
		return
	}
	if w.find == nil {
		w.d.literal = satAdd(w.d.literal, nodeCost)
	}
	for i, it := range items.Content {
		w.path = append(w.path, pathElem{isEntry: true, index: i})
		switch {
		case it.Kind != yaml.MappingNode:
			w.fail("a List item must be an object (a map with apiVersion and kind), got %s", kindName(it))
		case stringField(yaml.NewRNode(it), "kind") == kio.ResourceListKind:
			w.fail("a ResourceList cannot be a List item (it is the function protocol's wrapper, not a resource)")
		case !typed(it, list):
			w.fail("a List item must be an object with apiVersion and kind: %s missing", missingTypeMeta(it))
		default:
			ref, where, path, obj, in := w.ref, w.where, w.path, w.obj, w.inItems
			w.ref = objectRef(it)
			w.where = describe(fmt.Sprintf("%s, %s[%d]", where, fieldOf(path), i), it)
			// A ResourceList's items are the stream's objects, not items.
			w.path, w.obj, w.inItems = nil, it, stringField(yaml.NewRNode(list), "kind") != kio.ResourceListKind
			w.walk(it)
			w.ref, w.where, w.path, w.obj, w.inItems = ref, where, path, obj, in
		}
		w.path = w.path[:len(w.path)-1]
	}
}

// typed reports whether a List item has an apiVersion and a kind, or
// neither in a typed list (a PodList's items are Pods, as kubectl reads
// them).
func typed(item, list *yaml.Node) bool {
	rn := yaml.NewRNode(item)
	kind, apiVersion := stringField(rn, "kind"), stringField(rn, "apiVersion")
	if kind == "" && apiVersion == "" {
		return stringField(yaml.NewRNode(list), "kind") != "List"
	}
	return kind != "" && apiVersion != ""
}

// missingTypeMeta names what an object lacks of apiVersion and kind.
func missingTypeMeta(n *yaml.Node) string {
	rn := yaml.NewRNode(n)
	var missing []string
	for _, f := range []string{"apiVersion", "kind"} {
		if stringField(rn, f) == "" {
			missing = append(missing, f)
		}
	}
	return strings.Join(missing, " and ")
}

// fieldOf spells out a path without its last element.
func fieldOf(path []pathElem) string {
	return (&yamlWalker{path: path[:len(path)-1]}).fieldPath()
}

// mergeable reports a merge key's value that Kubernetes' YAML reader
// accepts: a map, an alias of a map, or a list of those.
func mergeable(v *yaml.Node) bool {
	isMap := func(n *yaml.Node) bool {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		return n.Kind == yaml.MappingNode
	}
	if v.Kind != yaml.SequenceNode {
		return isMap(v)
	}
	for _, c := range v.Content {
		if !isMap(c) {
			return false
		}
	}
	return true
}

// sizer computes the size of nodes with their aliases expanded.
type sizer struct {
	memo     map[*yaml.Node]int64
	visiting map[*yaml.Node]bool
}

func newSizer() *sizer {
	return &sizer{memo: map[*yaml.Node]int64{}, visiting: map[*yaml.Node]bool{}}
}

// added is what alias node a adds to its document once expanded: the size
// of what it refers to, less the alias itself.
func (s *sizer) added(a *yaml.Node) (int64, error) {
	size, err := s.size(a.Alias)
	return max(0, size-nodeCost-int64(len(a.Value))), err
}

var errAliasLoop = errors.New("refers to a node that contains it")

func (s *sizer) size(n *yaml.Node) (int64, error) {
	if n == nil {
		return 0, nil
	}
	if n.Kind == yaml.AliasNode {
		return s.size(n.Alias)
	}
	if len(n.Content) == 0 {
		return nodeCost + int64(len(n.Value)), nil
	}
	if v, ok := s.memo[n]; ok {
		return v, nil
	}
	if s.visiting[n] {
		return 0, errAliasLoop
	}
	s.visiting[n] = true
	total := int64(nodeCost)
	for _, c := range n.Content {
		cs, err := s.size(c)
		if err != nil {
			return 0, err
		}
		total = satAdd(total, cs)
	}
	delete(s.visiting, n)
	s.memo[n] = total
	return total, nil
}

func satAdd(a, b int64) int64 {
	if a > sizeCap-b {
		return sizeCap
	}
	return a + b
}

// binaryTag is YAML's tag for base64-encoded bytes.
const binaryTag = "!!binary"

// objectRef names an object for results: nil when it has no kind and name.
func objectRef(n *yaml.Node) *Ref {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	rn := yaml.NewRNode(n)
	if stringField(rn, "kind") == "" {
		return nil
	}
	ref := refOf(rn)
	if ref.Name == "" {
		return nil
	}
	return &ref
}

// describe gives where, plus the object's kind when it has no name.
// Documents are counted as kyaml reads them: empty ones are left out.
func describe(where string, n *yaml.Node) string {
	if objectRef(n) != nil || n.Kind != yaml.MappingNode {
		return where
	}
	if kind := stringField(yaml.NewRNode(n), "kind"); kind != "" {
		return where + " (" + kind + ")"
	}
	return where
}

// keyString gives a mapping key as readers compare keys; an alias key is
// compared by what it refers to.
func keyString(k *yaml.Node) string {
	if k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind == yaml.ScalarNode {
		return k.Value
	}
	return fmt.Sprintf("<%s key at line %d>", kindName(k), k.Line)
}

// selector gives a list entry's path element: [name=x] for an entry with a
// name, as results name containers, else [i].
func selector(n *yaml.Node, i int) string {
	if n != nil && n.Kind == yaml.MappingNode {
		if name := stringField(yaml.NewRNode(n), "name"); name != "" {
			return "[name=" + name + "]"
		}
	}
	return "[" + itoa(i) + "]"
}
