package pipeline

import (
	"errors"
	"fmt"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ErrFailed is returned by Run when any result has error severity. The
// results say what failed; callers must write no output.
var ErrFailed = errors.New("found errors; no output was written")

// Report collects the results of one run, in the order they were found.
type Report struct {
	Results framework.Results

	// lastRef and lastID are the resource of the last result with one,
	// whose identifier the next results on it share.
	lastRef Ref
	lastID  *yaml.ResourceIdentifier
	// intern, when set, shares the text of equal messages and field paths
	// between results: a stream's workloads get the same few results.
	intern *interner
}

// interner keeps one copy of each string it is given, up to maxInterned.
// Safe for concurrent use.
type interner struct {
	mu sync.Mutex
	m  map[string]string
}

const (
	maxInterned    = 1 << 16
	maxInternedLen = 512
)

// get returns the kept copy of s, keeping s when there is room. A nil
// interner returns s.
func (in *interner) get(s string) string {
	if in == nil || len(s) > maxInternedLen || s == "" {
		return s
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if kept, ok := in.m[s]; ok {
		return kept
	}
	if in.m == nil {
		in.m = map[string]string{}
	}
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}

// Add records a result about a resource (ref may be nil) and a field path
// (field may be empty).
func (r *Report) Add(sev framework.Severity, ref *Ref, field, format string, args ...any) {
	res := &framework.Result{Severity: sev, Message: r.intern.get(fmt.Sprintf(format, args...))}
	field = r.intern.get(field)
	if ref != nil {
		// Consecutive results on one resource share its identifier.
		if r.lastID == nil || *ref != r.lastRef {
			r.lastRef = *ref
			r.lastID = &yaml.ResourceIdentifier{
				TypeMeta: yaml.TypeMeta{APIVersion: ref.APIVersion, Kind: ref.Kind},
				NameMeta: yaml.NameMeta{Name: ref.Name, Namespace: ref.Namespace},
			}
		}
		res.ResourceRef = r.lastID
	}
	if field != "" {
		res.Field = &framework.Field{Path: field}
	}
	r.Results = append(r.Results, res)
}

// Info, Warn and Error add results of that severity about workload w.
func (r *Report) Info(w *Workload, field, format string, args ...any) {
	r.Add(framework.Info, refPtr(w), field, format, args...)
}

// Warn adds a warning about workload w.
func (r *Report) Warn(w *Workload, field, format string, args ...any) {
	r.Add(framework.Warning, refPtr(w), field, format, args...)
}

// Error adds an error about workload w.
func (r *Report) Error(w *Workload, field, format string, args ...any) {
	r.Add(framework.Error, refPtr(w), field, format, args...)
}

func refPtr(w *Workload) *Ref {
	if w == nil {
		return nil
	}
	return &w.Ref
}

// Detail adds text to the last result, in its tags (kpt's results show
// them; cocofy prints them with -v); "" adds nothing.
func (r *Report) Detail(text string) {
	if text == "" || len(r.Results) == 0 {
		return
	}
	last := r.Results[len(r.Results)-1]
	if last.Tags == nil {
		last.Tags = map[string]string{}
	}
	last.Tags["detail"] = text
}

// HasErrors reports whether any result has error severity.
func (r *Report) HasErrors() bool {
	for _, res := range r.Results {
		if res.Severity == framework.Error {
			return true
		}
	}
	return false
}

// Line formats a result for a terminal or Helm's stderr:
// "error: Deployment default/web: spec.template.spec.containers[name=app].image: message".
func Line(res *framework.Result) string {
	s := string(res.Severity)
	if s == "" {
		s = string(framework.Info)
	}
	s += ": "
	if ref := res.ResourceRef; ref != nil {
		s += ref.Kind + " "
		if ref.Namespace != "" {
			s += ref.Namespace + "/"
		}
		s += ref.Name + ": "
	}
	if res.Field != nil && res.Field.Path != "" {
		s += res.Field.Path + ": "
	}
	return s + res.Message
}
