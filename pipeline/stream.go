package pipeline

import (
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/image"
	"cocofy.dev/cocofy/internal/podspec"
	"cocofy.dev/cocofy/internal/verify"
)

// ErrNotStreamed is returned by RunStream for a stream it cannot finish
// one document at a time, with the same results as Run: one with an error
// of any kind (Run's report of it depends on the whole stream), a
// ResourceList among its documents, aliases it cannot yet tell are within
// their limit, or a Verifier's run. The caller runs Run over the whole
// stream instead; nothing RunStream did must be kept.
var ErrNotStreamed = errors.New("the stream must be run whole")

// streamBatch is how many documents RunStream holds at a time: image
// references of a batch are resolved together (16 at a time), so a batch
// should hold a chart's worth of workloads.
var streamBatch = 256

// Sink receives RunStream's documents. Put is called once per document
// with its index in the stream (the documents Next returned, from 0), in
// index order except for documents held until the end of the stream (a
// virtual-node workload whose policy reads the stream's ConfigMaps or
// Secrets). keep says the pipeline still reads n after Put returns: Put
// must not change it.
type Sink interface {
	Put(index int, n *yaml.RNode, keep bool) error
}

// RunStream is Run for a stream read one document at a time: next returns
// the documents in order, then io.EOF. Each document is checked, its
// workloads changed and handed to sink as soon as the stages allow, and
// then no longer referenced, so that memory holds a batch of documents
// (and the stream's ConfigMaps and Secrets for virtual-node policies), not
// the stream. The results equal Run's, in Run's order; it also returns
// how many workloads the stream has.
//
// It returns ErrNotStreamed where Run's results would need the whole
// stream (see ErrNotStreamed); what was handed to sink must then be
// dropped. A next error is returned as it is.
func (p *Pipeline) RunStream(ctx context.Context, next func() (*yaml.RNode, error), sink Sink) (*Report, int, error) {
	if p.verifyOnly {
		return nil, 0, ErrNotStreamed
	}
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
		if len(s.batch) >= streamBatch {
			if err := s.flush(); err != nil {
				return nil, 0, err
			}
		}
	}
	if err := s.flush(); err != nil {
		return nil, 0, err
	}
	if err := s.finish(); err != nil {
		return nil, 0, err
	}
	return s.report(), s.workloads, nil
}

// Phases of Run, in the order Run reports them.
const (
	phaseFind = iota
	phaseStages
	phasePin
	phaseGenerate
	phaseCheck
	phaseGroups
	phaseWrite
)

// keyed is a result with where Run would have reported it: in its phase,
// by order (the document, or the selected workload), then as added.
type keyed struct {
	phase int8
	order int32
	res   *framework.Result
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
	// aliases add, as checkYAML does for the whole stream.
	literal, extra int64

	batch   []*streamDoc
	held    []*streamDoc // documents whose policies wait for the end
	objects podspec.Objects
	checked bool // the enforcer's global warning was considered

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
	w     *Workload
	order int // index among the selected workloads
	pol   ccpolicy.Policy
	ok    bool
}

// collect adds a report's results under a phase and order, and fails the
// stream on an error.
func (s *streamRun) collect(phase, order int, rep *Report) error {
	for _, r := range rep.Results {
		if r.Severity == framework.Error {
			return ErrNotStreamed
		}
		s.results = append(s.results, keyed{int8(phase), int32(order), r})
	}
	return nil
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

// add reads one document: Run's checks, and its workloads' per-workload
// stages.
func (s *streamRun) add(n *yaml.RNode) error {
	index := s.docs
	s.docs++
	if n.YNode().Kind == yaml.MappingNode && stringField(n, "kind") == "ResourceList" {
		return ErrNotStreamed
	}
	if err := s.checkYAML(n, index); err != nil {
		return err
	}
	rep := s.newReport()
	checkObjects([]*yaml.RNode{n}, rep)
	found := FindWorkloads([]*yaml.RNode{n}, s.p.opts.WorkloadPaths, rep)
	if err := s.collect(phaseFind, index, rep); err != nil {
		return err
	}
	s.workloads += len(found)
	d := &streamDoc{index: index, node: n}
	if s.p.opts.AttachPolicy() && s.objects.Add(n) {
		d.keep = true
	}
	for i := range found {
		w := &found[i]
		ok, err := s.selects(w)
		if err != nil {
			return ErrNotStreamed
		}
		if !ok {
			continue
		}
		sw := &streamWorkload{w: w, order: s.selected}
		s.selected++
		rep := s.newReport()
		s.p.validate(w, rep)
		s.p.place(w, rep)
		s.p.resources(w, rep)
		s.p.check(w, rep)
		if err := s.collect(phaseStages, sw.order, rep); err != nil {
			return err
		}
		d.ws = append(d.ws, sw)
	}
	s.batch = append(s.batch, d)
	return nil
}

// checkYAML is readable for one document of the stream: the stream's
// aliases may add what the documents read so far allow; past that, only
// the whole stream can tell.
func (s *streamRun) checkYAML(n *yaml.RNode, index int) error {
	d := &yamlDoc{index: index, root: n.YNode(), ref: objectRef(n.YNode())}
	w := &yamlWalker{d: d, rep: &Report{}, ok: true}
	w.walkDoc()
	if !w.ok {
		return ErrNotStreamed
	}
	s.literal = satAdd(s.literal, d.literal)
	sz := sizer{memo: map[*yaml.Node]int64{}, visiting: map[*yaml.Node]bool{}}
	for _, a := range d.aliases {
		size, err := sz.size(a.Alias)
		if err != nil {
			return ErrNotStreamed
		}
		s.extra = satAdd(s.extra, max(0, size-nodeCost-int64(len(a.Value))))
	}
	// The whole stream's budget is at least this one.
	if budget := min(max(aliasFactor*min(s.literal, sizeCap/aliasFactor), aliasMin), aliasMax); s.extra > budget {
		return ErrNotStreamed
	}
	if d.expand {
		if err := n.DeAnchor(); err != nil {
			return ErrNotStreamed
		}
	}
	return nil
}

// flush pins the batch's images, attaches its policies and hands its
// documents to the sink.
func (s *streamRun) flush() error {
	batch := s.batch
	s.batch = nil
	if len(batch) == 0 {
		return nil
	}
	var ws []*Workload
	order := -1
	for _, d := range batch {
		for _, sw := range d.ws {
			ws = append(ws, sw.w)
			if order < 0 {
				order = sw.order
			}
		}
	}
	if s.p.opts.PinImages() && len(ws) > 0 {
		rep := s.newReport()
		if err := s.p.pin(s.ctx, ws, rep); err != nil {
			return err
		}
		if err := s.collect(phasePin, order, rep); err != nil {
			return err
		}
	}
	var now []*streamDoc
	for _, d := range batch {
		if s.p.opts.AttachPolicy() && slices.ContainsFunc(d.ws, func(sw *streamWorkload) bool { return readsObjects(sw.w) }) {
			s.held = append(s.held, d)
			continue
		}
		now = append(now, d)
	}
	if err := s.policies(now); err != nil {
		return err
	}
	for _, d := range now {
		if err := s.put(d); err != nil {
			return err
		}
	}
	return nil
}

// finish attaches the policies that read the stream's ConfigMaps and
// Secrets, now that all are known, and hands their documents to the sink.
func (s *streamRun) finish() error {
	if err := s.reportSelect(); err != nil {
		return err
	}
	held := s.held
	s.held = nil
	if err := s.policies(held); err != nil {
		return err
	}
	for _, d := range held {
		if err := s.put(d); err != nil {
			return err
		}
	}
	return nil
}

func (s *streamRun) put(d *streamDoc) error {
	err := s.sink.Put(d.index, d.node, d.keep)
	d.node, d.ws = nil, nil
	return err
}

// policies is attachPolicies for the workloads of docs: each phase's
// results keyed by the workload, so that they sort into Run's order.
func (s *streamRun) policies(docs []*streamDoc) error {
	if !s.p.opts.AttachPolicy() {
		return nil
	}
	var sws []*streamWorkload
	var ws []*Workload
	for _, d := range docs {
		for _, sw := range d.ws {
			sws, ws = append(sws, sw), append(ws, sw.w)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	rep := s.newReport()
	facts, ok := s.p.inspectAll(s.ctx, ws, rep)
	if !ok || rep.HasErrors() {
		return ErrNotStreamed
	}
	// Policies are computed in parallel, each with a report of its own.
	reps := make([]*Report, len(sws))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, sw := range sws {
		reps[i] = s.newReport()
		g.Go(func() error {
			sw.pol, sw.ok = s.p.generate(sw.w, facts, s.objects, s.opts, reps[i])
			return nil
		})
	}
	_ = g.Wait()
	var generated []*streamWorkload
	for i, sw := range sws {
		if err := s.collect(phaseGenerate, sw.order, reps[i]); err != nil {
			return err
		}
		if sw.ok {
			generated = append(generated, sw)
		}
	}
	if err := s.check(generated, facts); err != nil {
		return err
	}
	for _, sw := range generated {
		rep := s.newReport()
		s.p.reportMissingGroups([]*Workload{sw.w}, []ccpolicy.Policy{sw.pol}, facts, s.objects, rep)
		if err := s.collect(phaseGroups, sw.order, rep); err != nil {
			return err
		}
	}
	for _, sw := range generated {
		rep := s.newReport()
		s.p.writePolicy(sw.w, sw.pol, rep)
		if err := s.collect(phaseWrite, sw.order, rep); err != nil {
			return err
		}
	}
	return nil
}

// check is checkGenerated, one workload at a time (in parallel) so that
// each workload's results are keyed by it; the warning that nothing was
// checked is given once, before them all.
func (s *streamRun) check(generated []*streamWorkload, facts map[string]image.Facts) error {
	if len(generated) == 0 {
		return nil
	}
	if !verify.Enabled() || s.p.opts.Policy.Check == CheckOff {
		if s.checked {
			return nil
		}
		s.checked = true
		rep := s.newReport()
		s.p.checkGenerated(s.ctx, []*Workload{generated[0].w}, []ccpolicy.Policy{generated[0].pol}, s.objects, facts, rep)
		return s.collect(phaseCheck, -1, rep)
	}
	reps := make([]*Report, len(generated))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, sw := range generated {
		reps[i] = s.newReport()
		g.Go(func() error {
			s.p.checkGenerated(s.ctx, []*Workload{sw.w}, []ccpolicy.Policy{sw.pol}, s.objects, facts, reps[i])
			return nil
		})
	}
	_ = g.Wait()
	for i, sw := range generated {
		if err := s.collect(phaseCheck, sw.order, reps[i]); err != nil {
			return err
		}
	}
	return nil
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
	q.samePods = &policyMemo{}
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
