package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/podspec"
)

// streamBatch is how many documents a run holds at a time: image
// references of a batch are resolved together (16 at a time), so a batch
// should hold a chart's worth of workloads.
const streamBatch = 256

// Sink receives RunStream's documents. Put is called once per document
// with its index in the stream (the documents Next returned, from 0), in
// index order except for documents held until the end of the stream (a
// virtual-node workload whose policy reads the stream's ConfigMaps or
// Secrets). keep says the pipeline still reads n after Put returns: Put
// must not change it. changed says the stages wrote into n; a document
// they did not change may be written as it came. Once a run has an error, Put is no longer called;
// what a failed run handed over before must be dropped, never written.
type Sink interface {
	Put(index int, n *yaml.RNode, keep, changed bool) error
}

// Run edits nodes in place and returns what it did. When any result is an
// error it returns ErrFailed; the nodes may then be half edited and must
// not be written. Each node is checked as YAML (see CheckYAML) and its
// aliases and merge keys expanded before any stage looks at it, so that
// every stage reads the objects Kubernetes will; a ResourceList among them
// is refused. Run is RunStream over nodes.
func (p *Pipeline) Run(ctx context.Context, nodes []*yaml.RNode) (*Report, error) {
	i := 0
	next := func() (*yaml.RNode, error) {
		if i == len(nodes) {
			return nil, io.EOF
		}
		i++
		return nodes[i-1], nil
	}
	rep, _, err := p.RunStream(ctx, next, nil)
	return rep, err
}

// RunStream runs the pipeline's stages over a stream read one document at
// a time: next returns the documents in order, then io.EOF. Each document
// is checked, its workloads changed and handed to sink (which may be nil)
// as soon as the stages allow, and then no longer referenced, so that
// memory holds a batch of documents (and the stream's ConfigMaps and
// Secrets for virtual-node policies), not the stream. Every door runs
// through it: the results do not depend on how the stream is batched. It
// returns the results, in the order of the stages, how many workloads the
// stream has, and ErrFailed when any result is an error. A next error is
// returned as it is.
func (p *Pipeline) RunStream(ctx context.Context, next func() (*yaml.RNode, error), sink Sink) (*Report, int, error) {
	s := &streamRun{p: p.memoized(), ctx: ctx, sink: sink, strs: &interner{}}
	s.opts = s.p.policyOptions()
	for {
		n, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if err := s.add(n); err != nil {
			return nil, 0, err
		}
		if len(s.batch) >= s.p.batch {
			if err := s.flush(); err != nil {
				return nil, 0, err
			}
		}
	}
	s.checkAliases()
	s.reportSelect()
	if s.selected == 0 && s.p.stages.none != "" {
		rep := s.newReport()
		rep.Add(framework.Info, nil, "", "%s", s.p.stages.none)
		s.collect(phaseFind, math.MaxInt32, rep)
	}
	if err := s.flush(); err != nil {
		return nil, 0, err
	}
	if err := s.finish(); err != nil {
		return nil, 0, err
	}
	rep := s.report()
	if rep.HasErrors() {
		return rep, s.workloads, ErrFailed
	}
	return rep, s.workloads, nil
}

// Phases of a run, in the order it reports them.
const (
	phaseFind = iota
	phaseStages
	phasePin
	phaseGenerate
	phaseCheck
	phaseGroups
	phaseWrite
	phaseReadBack
)

// keyed is a result with where the run reports it: in its phase, by order
// (the document, or the selected workload), then as added.
type keyed struct {
	phase int8
	order int32
	res   *framework.Result
}

// stages are what a run does to the selected workloads: render's
// (Pipeline.Run) or verify's (Pipeline.Verifier). The run reads, batches,
// holds and hands on documents the same way for both.
type stages struct {
	// each runs on a selected workload as it is read; it reports whether
	// the workload goes on to the policy stage.
	each func(p *Pipeline, w *Workload, rep *Report) bool
	// pin pins each batch's images.
	pin bool
	// objects says the policy stage reads the stream's ConfigMaps and
	// Secrets: documents whose pods read them wait for the end.
	objects bool
	// policy runs on the workloads of a batch that each sent on and that
	// have no error of their own.
	policy func(s *streamRun, sws []*streamWorkload)
	// none, when set, is said when the stream has no selected workload.
	none string
}

type streamRun struct {
	p    *Pipeline
	ctx  context.Context
	sink Sink
	opts ccpolicy.Options

	docs      int // documents read
	workloads int
	selected  int // selected workloads so far

	// literal and extra add up the documents' sizes and what their
	// aliases add, as checkYAML does for the whole stream; pending are the
	// documents that wait until the budget allows their aliases.
	literal, extra int64
	pending        []pendingDoc

	batch   []*streamDoc
	held    []*streamDoc // documents whose policies wait for the end
	objects podspec.Objects
	checked bool // the enforcer's global warning was considered
	failed  bool // an error was reported: nothing more goes to the sink

	results []keyed
	strs    *interner
	sel     *selectTracker // see selects
}

func (s *streamRun) newReport() *Report { return &Report{intern: s.strs} }

type streamDoc struct {
	index int
	node  *yaml.RNode
	keep  bool // a ConfigMap or Secret: policies read it until the end
	ws    []*streamWorkload
}

type streamWorkload struct {
	w      *Workload
	order  int  // index among the selected workloads
	policy bool // goes on to the policy stage
	failed bool // has an error of its own
	pol    ccpolicy.Policy
	ok     bool
}

// collect adds a report's results under a phase and order, and reports
// whether it had an error.
func (s *streamRun) collect(phase, order int, rep *Report) bool {
	failed := false
	for _, r := range rep.Results {
		if r.Severity == framework.Error {
			failed = true
		}
		s.results = append(s.results, keyed{int8(phase), int32(order), r})
	}
	s.failed = s.failed || failed
	return failed
}

func (s *streamRun) report() *Report {
	slices.SortStableFunc(s.results, func(a, b keyed) int {
		if a.phase != b.phase {
			return int(a.phase) - int(b.phase)
		}
		return int(a.order) - int(b.order)
	})
	rep := &Report{Results: make(framework.Results, len(s.results))}
	for i, k := range s.results {
		rep.Results[i] = k.res
	}
	s.results = nil
	return rep
}

// add reads one document: its YAML checks, then, once the stream's
// aliases are known to be within its budget, the rest (see read).
func (s *streamRun) add(n *yaml.RNode) error {
	index := s.docs
	s.docs++
	rep := s.newReport()
	defer s.collect(phaseFind, index, rep)
	if n.YNode().Kind == yaml.MappingNode && stringField(n, "kind") == kio.ResourceListKind {
		rep.Add(framework.Error, nil, "", "document %d is a ResourceList, and a ResourceList must be the whole input (as kpt and kustomize send it): "+
			"here other documents, or a --- after it, make the input a YAML stream, in which its items would not be read", index+1)
		return nil
	}
	extra := s.extra
	d, ok := s.checkYAML(n, index, rep)
	if !ok {
		return nil
	}
	s.pending = append(s.pending, pendingDoc{n: n, d: d, extraBefore: extra})
	if s.extra > aliasBudget(s.literal) {
		return nil // the documents to come may raise the budget
	}
	pending := s.pending
	s.pending = nil
	for _, pd := range pending {
		if err := s.read(pd.n, pd.d); err != nil {
			return err
		}
	}
	return nil
}

// pendingDoc is a document whose aliases, with the stream's so far, add
// more than the stream read so far allows: it waits, not expanded, for
// the documents to come.
type pendingDoc struct {
	n           *yaml.RNode
	d           *yamlDoc
	extraBefore int64
}

// read expands a checked document's aliases and merge keys, then finds
// its workloads and runs the first stages on those selected.
func (s *streamRun) read(n *yaml.RNode, d *yamlDoc) error {
	doc := &streamDoc{index: d.index, node: n}
	s.batch = append(s.batch, doc)
	rep := s.newReport()
	defer s.collect(phaseFind, d.index, rep)
	if d.expand {
		if err := n.DeAnchor(); err != nil {
			rep.Add(framework.Error, d.ref, "", "document %d: expanding YAML aliases and merge keys: %v", d.index+1, err)
			return nil
		}
	}
	checkObject(n, d.index, rep)
	if s.p.resourceList && LocalConfig(n) {
		return nil // not part of kpt's or kustomize's output
	}
	found := FindWorkloads([]*yaml.RNode{n}, s.p.opts.WorkloadPaths, rep)
	if len(found) > 0 {
		// A hook that runs pods may make what other pods read; its
		// ServiceAccount or Role names it too, but makes nothing.
		s.p.samePods.addHook(n)
	}
	s.workloads += len(found)
	if s.p.stages.objects && s.objects.Add(applied(n)...) {
		doc.keep = true
	}
	for i := range found {
		w := &found[i]
		ok, err := s.selects(w)
		if err != nil {
			return fmt.Errorf("select.labelSelector: %w", err)
		}
		if !ok {
			continue
		}
		sw := &streamWorkload{w: w, order: s.selected}
		s.selected++
		wrep := s.newReport()
		sw.policy = s.p.stages.each(s.p, w, wrep)
		sw.failed = s.collect(phaseStages, sw.order, wrep)
		doc.ws = append(doc.ws, sw)
	}
	return nil
}

// applied returns the objects kubectl applies for document n: n, or the
// items of n when it is a list (see FindWorkloads).
func applied(n *yaml.RNode) []*yaml.RNode {
	if n.YNode().Kind != yaml.MappingNode || !isList(stringField(n, "kind"), n) {
		return []*yaml.RNode{n}
	}
	f := n.Field("items")
	if f == nil || f.Value.YNode().Kind != yaml.SequenceNode {
		return nil
	}
	var out []*yaml.RNode
	for _, it := range f.Value.Content() {
		out = append(out, yaml.NewRNode(it))
	}
	return out
}

// checkYAML is CheckYAML for one document of the stream: it walks the
// document and adds its size and what its aliases would add to the
// stream's, expanding nothing. It reports whether the document may be read.
func (s *streamRun) checkYAML(n *yaml.RNode, index int, rep *Report) (*yamlDoc, bool) {
	d := &yamlDoc{index: index, root: n.YNode(), ref: objectRef(n.YNode())}
	w := &yamlWalker{d: d, rep: rep, ok: true}
	w.walkDoc()
	if !w.ok {
		return nil, false
	}
	s.literal = satAdd(s.literal, d.literal)
	sz := newSizer()
	for _, a := range d.aliases {
		added, err := sz.added(a)
		if err != nil {
			l := d.locate(a)
			rep.Add(framework.Error, l.ref, l.path, "%s: YAML alias *%s %v", l.where, a.Value, err)
			return nil, false
		}
		s.extra = satAdd(s.extra, added)
	}
	return d, true
}

// checkAliases reports, at the end of the stream, the alias at which the
// waiting documents' aliases expand the stream past its budget; those
// documents are not read.
func (s *streamRun) checkAliases() {
	if len(s.pending) == 0 {
		return
	}
	budget := aliasBudget(s.literal)
	extra := s.pending[0].extraBefore
	for _, pd := range s.pending {
		sz := newSizer()
		for _, a := range pd.d.aliases {
			added, _ := sz.added(a)
			extra = satAdd(extra, added)
			if extra > budget {
				l := pd.d.locate(a)
				rep := s.newReport()
				rep.Add(framework.Error, l.ref, l.path, "%s: YAML aliases (counted up to this *%s) would expand the input by more than %d MiB, its limit: %s",
					l.where, a.Value, budget>>20, aliasRule)
				s.collect(phaseFind, pd.d.index, rep)
				s.pending = nil
				return
			}
		}
	}
	s.pending = nil
}

// flush pins the batch's images, runs the policy stage on its workloads
// and hands its documents to the sink.
func (s *streamRun) flush() error {
	batch := s.batch
	s.batch = nil
	if len(batch) == 0 {
		return nil
	}
	var sws []*streamWorkload
	for _, d := range batch {
		sws = append(sws, d.ws...)
	}
	if s.p.stages.pin && len(sws) > 0 {
		s.pin(sws)
	}
	var now []*streamDoc
	for _, d := range batch {
		if s.p.stages.objects && slices.ContainsFunc(d.ws, func(sw *streamWorkload) bool { return readsObjects(sw.w) }) {
			s.held = append(s.held, d)
			continue
		}
		now = append(now, d)
	}
	s.policies(now)
	return s.putAll(now)
}

// pin pins the images of sws; a workload whose image failed has an error
// of its own.
func (s *streamRun) pin(sws []*streamWorkload) {
	rep := s.newReport()
	failed := s.p.pin(s.ctx, workloadsOf(sws), rep)
	for _, sw := range sws {
		sw.failed = sw.failed || failed[sw.w]
	}
	s.collect(phasePin, sws[0].order, rep)
}

// finish runs the policy stage on the workloads that read the stream's
// ConfigMaps and Secrets, now that all are known, and hands their
// documents to the sink.
func (s *streamRun) finish() error {
	held := s.held
	s.held = nil
	s.policies(held)
	return s.putAll(held)
}

// putAll reads each document's workloads back and hands the documents to
// the sink, unless the run has failed.
func (s *streamRun) putAll(docs []*streamDoc) error {
	changed := make([]bool, len(docs))
	for i, d := range docs {
		for _, sw := range d.ws {
			changed[i] = changed[i] || len(sw.w.claims) > 0
			if !sw.failed {
				rep := s.newReport()
				readBack(sw.w, rep)
				s.collect(phaseReadBack, sw.order, rep)
			}
		}
	}
	for i, d := range docs {
		if !s.failed && s.sink != nil {
			if err := s.sink.Put(d.index, d.node, d.keep, changed[i]); err != nil {
				return err
			}
		}
		d.node, d.ws = nil, nil
	}
	return nil
}

// policies runs the policy stage on the workloads of docs that go on to
// it and have no error of their own.
func (s *streamRun) policies(docs []*streamDoc) {
	if s.p.stages.policy == nil {
		return
	}
	var sws []*streamWorkload
	for _, d := range docs {
		for _, sw := range d.ws {
			if sw.policy && !sw.failed {
				sws = append(sws, sw)
			}
		}
	}
	if len(sws) > 0 {
		s.p.stages.policy(s, sws)
	}
}

// workloadsOf lists the workloads of sws.
func workloadsOf(sws []*streamWorkload) []*Workload {
	ws := make([]*Workload, len(sws))
	for i, sw := range sws {
		ws[i] = sw.w
	}
	return ws
}

// inspect gets the facts of the images of sws (and the fragments that
// cover their containers), its results keyed by the first workload; false
// when the policy stage cannot go on.
func (s *streamRun) inspect(sws []*streamWorkload) (policyImages, bool) {
	rep := s.newReport()
	in, ok := s.p.inspectForPolicy(s.ctx, workloadsOf(sws), rep)
	s.collect(phaseGenerate, sws[0].order, rep)
	return in, ok
}

// attach is render's policy stage: it computes, checks and writes the
// policies of sws, each phase's results keyed by the workload.
func (s *streamRun) attach(sws []*streamWorkload) {
	in, ok := s.inspect(sws)
	if !ok {
		return
	}
	facts, opts := in.facts, s.opts
	opts.Covering = in.covering
	reps := s.parallel(sws, func(sw *streamWorkload, rep *Report) {
		sw.pol, sw.ok = s.p.generate(sw.w, facts, s.objects, opts, rep)
	})
	var generated []*streamWorkload
	for i, sw := range sws {
		if !s.collect(phaseGenerate, sw.order, reps[i]) && sw.ok {
			generated = append(generated, sw)
		}
	}
	s.check(generated, in)
	for _, sw := range generated {
		rep := s.newReport()
		sev, hint := s.p.refusedSeverity()
		s.p.checkGroups(sw.w, facts, sev, hint, rep)
		if s.collect(phaseGroups, sw.order, rep) || sw.failed {
			continue
		}
		rep = s.newReport()
		s.p.writePolicy(sw.w, sw.pol, s.objects, rep)
		s.collect(phaseWrite, sw.order, rep)
	}
}

// check is checkGenerated for each workload, in parallel, each workload's
// results keyed by it and its errors its own; when nothing is checked, a
// warning says so once, before them all.
func (s *streamRun) check(generated []*streamWorkload, in policyImages) {
	if len(generated) == 0 {
		return
	}
	if why := s.p.unchecked(); why != "" {
		if !s.checked {
			s.checked = true
			rep := s.newReport()
			rep.Add(framework.Warning, nil, "", "%s", why)
			s.collect(phaseCheck, -1, rep)
		}
		return
	}
	reps := s.parallel(generated, func(sw *streamWorkload, rep *Report) {
		s.p.checkGenerated(s.ctx, sw.w, sw.pol, s.objects, in, rep)
	})
	for i, sw := range generated {
		sw.failed = s.collect(phaseCheck, sw.order, reps[i]) || sw.failed
	}
}

// parallel runs f for each of sws, GOMAXPROCS at a time, each with a
// report of its own, returned in the order of sws.
func (s *streamRun) parallel(sws []*streamWorkload, f func(sw *streamWorkload, rep *Report)) []*Report {
	reps := make([]*Report, len(sws))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, sw := range sws {
		reps[i] = s.newReport()
		g.Go(func() error {
			f(sw, reps[i])
			return nil
		})
	}
	_ = g.Wait()
	return reps
}

// readsObjects reports a workload whose pod may read a ConfigMap or a
// Secret of the stream (env valueFrom, envFrom): its policy waits for the
// last of them, since of several with one name the last wins.
func readsObjects(w *Workload) bool {
	var walk func(n *yaml.Node) bool
	walk = func(n *yaml.Node) bool {
		if n == nil {
			return false
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				switch n.Content[i].Value {
				case "configMapKeyRef", "secretKeyRef", "configMapRef", "secretRef":
					return true
				}
			}
		}
		for _, c := range n.Content {
			if walk(c) {
				return true
			}
		}
		return false
	}
	return walk(w.Template.YNode())
}

// memoized returns a copy of p whose resolver and inspector answer each
// reference once per run, across batches, and which computes the policy of
// a pod once per run (see compute).
func (p *Pipeline) memoized() *Pipeline {
	q := *p
	q.samePods = &policyMemo{limit: maxSamePods}
	if p.deps.Resolver != nil {
		q.deps.Resolver = &memoResolver{r: p.deps.Resolver}
	}
	if p.deps.Inspector != nil {
		q.deps.Inspector = &memoInspector{i: p.deps.Inspector}
	}
	return &q
}

type memoResolver struct {
	r  image.Resolver
	mu sync.Mutex
	m  map[string]memoPin
}

type memoPin struct {
	pin image.Pin
	err error
}

func (m *memoResolver) Resolve(ctx context.Context, ref string) (image.Pin, error) {
	m.mu.Lock()
	v, ok := m.m[ref]
	m.mu.Unlock()
	if ok {
		return v.pin, v.err
	}
	pin, err := m.r.Resolve(ctx, ref)
	m.mu.Lock()
	if m.m == nil {
		m.m = map[string]memoPin{}
	}
	m.m[ref] = memoPin{pin, err}
	m.mu.Unlock()
	return pin, err
}

type memoInspector struct {
	i  image.Inspector
	mu sync.Mutex
	m  map[[2]string]memoFacts
}

type memoFacts struct {
	facts image.Facts
	err   error
}

func (m *memoInspector) Inspect(ctx context.Context, ref, platform string) (image.Facts, error) {
	key := [2]string{ref, platform}
	m.mu.Lock()
	v, ok := m.m[key]
	m.mu.Unlock()
	if ok {
		return v.facts, v.err
	}
	f, err := m.i.Inspect(ctx, ref, platform)
	m.mu.Lock()
	if m.m == nil {
		m.m = map[[2]string]memoFacts{}
	}
	m.m[key] = memoFacts{f, err}
	m.mu.Unlock()
	return f, err
}
