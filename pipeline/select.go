package pipeline

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
)

// selectTracker is Selector.matches for one run that also records, per
// value of the selector, whether any workload of the input has it, so that
// a select that picks nothing is said (a warning: --strict fails on it)
// rather than leaving every workload unchanged without a word.
type selectTracker struct {
	sel    Selector
	fields []*selectField
	// labels: some workload matches the label selector; selected: some
	// workload matches the whole select.
	labels, selected bool
	// kinds are the kinds the run knows as workloads, for suggestions.
	kinds []string
}

// selectField is one list of a Selector: its values, whether each was seen
// on a workload, and a workload's value equal to it but for case.
type selectField struct {
	name   string
	values []string
	seen   []bool
	near   []string
}

func (f *selectField) see(v string) {
	for i, want := range f.values {
		switch {
		case v == want:
			f.seen[i] = true
		case f.near[i] == "" && strings.EqualFold(v, want):
			f.near[i] = v
		}
	}
}

// newSelectTracker tracks p's select.
func (p *Pipeline) newSelectTracker() *selectTracker {
	s := p.opts.Select
	t := &selectTracker{sel: s}
	for _, f := range []struct {
		name   string
		values []string
	}{{"kinds", s.Kinds}, {"names", s.Names}, {"namespaces", s.Namespaces}} {
		t.fields = append(t.fields, &selectField{name: f.name, values: f.values, seen: make([]bool, len(f.values)), near: make([]string, len(f.values))})
	}
	for _, wp := range slices.Concat(p.opts.WorkloadPaths, builtinWorkloadPaths) {
		t.kinds = append(t.kinds, wp.Kind)
	}
	return t
}

// matches is Selector.matches, recording what w matched.
func (t *selectTracker) matches(w *Workload) (bool, error) {
	ok, err := t.sel.matches(w)
	if err != nil {
		return ok, err
	}
	t.selected = t.selected || ok
	for i, v := range []string{w.Ref.Kind, w.Ref.Name, w.Ref.Namespace} {
		t.fields[i].see(v)
	}
	if t.sel.LabelSelector != "" && !t.labels {
		t.labels = ok
		if !ok {
			t.labels, _ = w.Resource.MatchesLabelSelector(t.sel.LabelSelector)
		}
	}
	return ok, nil
}

// report adds a warning on each select value that no workload has, and,
// when every value matched some workload but none matched them all, one on
// the select.
func (t *selectTracker) report(rep *Report) {
	said := false
	for _, f := range t.fields {
		for i, v := range f.values {
			if f.seen[i] {
				continue
			}
			said = true
			field := fmt.Sprintf("spec.select.%s[%d]", f.name, i)
			hint := ""
			if s := t.suggest(f, i); s != "" {
				hint = fmt.Sprintf("; did you mean %s? (select values are case-sensitive)", s)
			}
			rep.Add(framework.Warning, nil, field, "%q matches no workload of the input, so it selects nothing%s", v, hint)
		}
	}
	if t.sel.LabelSelector != "" && !t.labels {
		said = true
		rep.Add(framework.Warning, nil, "spec.select.labelSelector", "%q matches no workload of the input, so it selects nothing (it reads the workloads' own labels, not their pod templates')", t.sel.LabelSelector)
	}
	if !said && !t.selected && !t.empty() {
		rep.Add(framework.Warning, nil, "spec.select", "selects no workload of the input: each of its values matches some workload, but none matches all of them; nothing was changed")
	}
}

// suggest is the value of the input, or for kinds a known workload kind,
// equal to f's value i but for case; or "".
func (t *selectTracker) suggest(f *selectField, i int) string {
	if f.near[i] != "" || f.name != "kinds" {
		return f.near[i]
	}
	for _, k := range t.kinds {
		if k != f.values[i] && strings.EqualFold(k, f.values[i]) {
			return k
		}
	}
	return ""
}

func (t *selectTracker) empty() bool {
	s := t.sel
	return len(s.Kinds) == 0 && len(s.Names) == 0 && len(s.Namespaces) == 0 && s.LabelSelector == ""
}

// selects is the stream's selectTracker.matches; the tracker is made on
// first use.
func (s *streamRun) selects(w *Workload) (bool, error) {
	return s.tracker().matches(w)
}

func (s *streamRun) tracker() *selectTracker {
	if s.sel == nil {
		s.sel = s.p.newSelectTracker()
	}
	return s.sel
}

// reportSelect adds the select's warnings at the end of the stream,
// ordered after every document's checks, before the stages.
func (s *streamRun) reportSelect() {
	rep := s.newReport()
	s.tracker().report(rep)
	s.collect(phaseFind, math.MaxInt32, rep)
}
