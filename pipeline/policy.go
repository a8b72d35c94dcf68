package pipeline

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"sync/atomic"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/podspec"
	"cocofy.dev/cocofy/internal/verify"
)

// generate computes one workload's policy, reporting its corrections and
// notes, or its errors (and false).
func (p *Pipeline) generate(w *Workload, facts map[string]image.Facts, objects podspec.Objects, opts ccpolicy.Options, rep *Report) (ccpolicy.Policy, bool) {
	pol, err := p.compute(w, facts, objects, opts)
	if err != nil {
		p.reportPolicyErrors(rep, w, err)
		return ccpolicy.Policy{}, false
	}
	if p.opts.Policy.SecretValues == SecretValuesRefuse {
		if fields := p.secretEnvFields(w, objects); len(fields) > 0 {
			for _, f := range fields {
				rep.Error(w, f, "this value comes from a Secret, and the CCE policy would have to pin it in clear; policy.secretValues: refuse forbids that: use the chart's existing-secret option or a file mounted from the Secret instead of an env value")
			}
			return ccpolicy.Policy{}, false
		}
	}
	if size := annotationsSize(w, pol); size > maxAnnotationsSize {
		rep.Error(w, w.Field("metadata", "annotations", AnnotationCCEPolicy), "the CCE policy makes the pod template's annotations %d bytes, more than the %d bytes Kubernetes accepts for all annotations of an object: the API server would reject it (long env values, e.g. from ConfigMaps, are the usual cause)", size, maxAnnotationsSize)
		return ccpolicy.Policy{}, false
	}
	for _, c := range pol.Corrections {
		rep.Info(w, c.Path, "%s", c.Message())
		rep.Detail(c.Values())
	}
	if len(pol.Covered) > 0 {
		rep.Info(w, w.Field("metadata", "annotations", AnnotationCCEPolicy), "containers %s are left out of the CCE policy, which imports the image-attached fragments that describe them exactly (spec.policy.imageFragments)", strings.Join(pol.Covered, ", "))
	}
	for _, n := range pol.Notes {
		sev := framework.Warning
		if n.Info {
			sev = framework.Info
		}
		rep.Add(sev, refPtr(w), n.Path, "%s", n.Message)
	}
	return pol, true
}

// compute is ccpolicy.Generate, once per run for workloads whose pods are
// the same (a chart's copies of one template): the same kind, namespace,
// template and claim templates, and no ConfigMap or Secret read. The
// workload's name appears only in errors, which are not remembered.
func (p *Pipeline) compute(w *Workload, facts map[string]image.Facts, objects podspec.Objects, opts ccpolicy.Options) (ccpolicy.Policy, error) {
	pod := p.podOf(w)
	if p.samePods == nil || readsObjects(w) {
		return ccpolicy.Generate(pod, facts, objects, opts)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%q %q\n", pod.Kind, pod.Namespace)
	hashNode(h, pod.Template.YNode())
	if pod.ClaimTemplates != nil {
		hashNode(h, pod.ClaimTemplates.YNode())
	}
	key := string(h.Sum(nil))
	if pol, ok := p.samePods.m.Load(key); ok {
		return pol.(ccpolicy.Policy), nil
	}
	pol, err := ccpolicy.Generate(pod, facts, objects, opts)
	if err == nil && p.samePods.n.Add(1) <= p.samePods.limit {
		p.samePods.m.Store(key, pol)
	}
	return pol, err
}

// policyMemo holds the policies of a run's first maxSamePods pods, so that
// a stream of distinct pods keeps no more than those, and the enforcer's
// replays of its first maxSamePods distinct policies and pods.
type policyMemo struct {
	m     sync.Map // key -> ccpolicy.Policy
	n     atomic.Int64
	limit int64 // maxSamePods

	replays  sync.Map     // checkKey -> func() ([]verify.Decision, error)
	nReplays atomic.Int64 // entries of replays

	hooksMu sync.Mutex
	hooks   []hook // the stream's Helm hooks, up to maxHooks
}

// replayOnce runs replay once per run for key (concurrent callers with the
// same key wait for the first); past the bound, or outside a run, it runs
// replay every time.
func (m *policyMemo) replayOnce(key string, replay func() ([]verify.Decision, error)) ([]verify.Decision, error) {
	if m == nil {
		return replay()
	}
	if once, ok := m.replays.Load(key); ok {
		return once.(func() ([]verify.Decision, error))()
	}
	if m.nReplays.Add(1) > m.limit {
		return replay()
	}
	once, _ := m.replays.LoadOrStore(key, sync.OnceValues(replay))
	return once.(func() ([]verify.Decision, error))()
}

// maxSamePods bounds policyMemo: a chart has far fewer distinct pods, and a
// policy takes about 20 KB.
const maxSamePods = 1000

// hashNode writes what a YAML node says (kinds, resolved tags, values),
// not how it is written.
func hashNode(h hash.Hash, n *yaml.Node) {
	if n == nil {
		fmt.Fprint(h, "nil;")
		return
	}
	fmt.Fprintf(h, "%d %q %q %d[", n.Kind, n.ShortTag(), n.Value, len(n.Content))
	for _, c := range n.Content {
		hashNode(h, c)
	}
	fmt.Fprint(h, "]")
}

// maxAnnotationsSize is what the API server accepts for all annotations of
// one object together (k8s.io/apimachinery/pkg/api/validation's
// TotalAnnotationSizeLimitB; importing it would pull in more modules).
const maxAnnotationsSize = 256 << 10

// annotationsSize is the size of the pod template's annotations once pol is
// attached, counted as the API server counts them (keys plus values).
func annotationsSize(w *Workload, pol ccpolicy.Policy) int {
	size := 0
	for k, v := range w.Template.GetAnnotations() {
		if k != AnnotationCCEPolicy && k != AnnotationCCEPolicySHA256 {
			size += len(k) + len(v)
		}
	}
	return size + len(AnnotationCCEPolicy) + len(pol.Annotation()) + len(AnnotationCCEPolicySHA256) + len(pol.SHA256)
}

// podOf is a workload's pod, as every policy stage reads it: its template,
// a StatefulSet's volume claim templates, and its namespace (else the
// configured one).
//
// The pod is decoded once per workload and kept until the template
// changes (writePolicy forgets it).
func (p *Pipeline) podOf(w *Workload) podspec.Pod {
	if w.pod != nil && w.podNamespace == p.opts.Namespace {
		return *w.pod
	}
	var claims *yaml.RNode
	if w.Ref.Kind == "StatefulSet" {
		if vct, err := w.Resource.Pipe(yaml.Lookup("spec", "volumeClaimTemplates")); err == nil && vct != nil {
			claims = vct
		}
	}
	ns := w.Ref.Namespace
	if ns == "" {
		ns = p.opts.Namespace
	}
	pod := podspec.New(w.Ref.Kind, ns, w.Ref.Name, w.Template, claims)
	w.pod, w.podNamespace = &pod, p.opts.Namespace
	return pod
}

// reportPolicyErrors turns each of the generator's field errors into a
// result on that field: every one of them, however deeply the generator
// joined them (per workload, per container, per field).
func (p *Pipeline) reportPolicyErrors(rep *Report, w *Workload, err error) {
	for _, e := range leafErrors(err) {
		var fe *ccpolicy.FieldError
		if errors.As(e, &fe) {
			rep.Error(w, fe.Field, "CCE policy: %v%s", fe.Err, p.samePods.makers(fe.Err))
			continue
		}
		rep.Error(w, "", "CCE policy: %v", e)
	}
}

// leafErrors flattens errors.Join trees into their leaves, in order. A
// FieldError is a leaf: it is one problem, on one field.
func leafErrors(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if _, leaf := err.(*ccpolicy.FieldError); leaf || !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		if e != nil {
			out = append(out, leafErrors(e)...)
		}
	}
	return out
}

// writePolicy sets the policy and sha256 annotations and reports what it did.
func (p *Pipeline) writePolicy(w *Workload, pol ccpolicy.Policy, objects podspec.Objects, rep *Report) {
	secrets := p.secretEnvFields(w, objects)
	w.pod = nil // the template changes
	field := w.Field("metadata", "annotations", AnnotationCCEPolicy)
	want := pol.Annotation()
	old := w.Template.GetAnnotations()[AnnotationCCEPolicy]
	switch {
	case old == want:
		rep.Info(w, field, "CCE policy is up to date (sha256 %s)", pol.SHA256)
	case old == "":
		rep.Info(w, field, "attached a CCE policy with sha256 %s (the pod's HOST_DATA)", pol.SHA256)
	default:
		rep.Info(w, field, "replaced the CCE policy: %s changed; new sha256 %s (the pod's HOST_DATA)", policyChanges(old, pol.Rego), pol.SHA256)
	}
	for _, kv := range [][2]string{{AnnotationCCEPolicy, want}, {AnnotationCCEPolicySHA256, pol.SHA256}} {
		k, v := kv[0], kv[1]
		if w.Template.GetAnnotations()[k] == v {
			continue
		}
		if err := setAnnotation(w.Template, k, v); err != nil {
			rep.Error(w, w.Field("metadata", "annotations", k), "%v", err)
			continue
		}
		w.claim(w.Field("metadata", "annotations", k), v)
	}
	if eph, _ := w.ContainersIn(EphemeralContainers); len(eph) > 0 {
		sev, hint := p.refusedSeverity()
		rep.Add(sev, refPtr(w), w.Field("spec", EphemeralContainers), "ephemeral containers are not in the CCE policy (confcom leaves them out): the guest refuses to start them; remove them from the manifest%s", hint)
	}
	for _, f := range secrets {
		rep.Warn(w, f, "a Secret's value, written in clear into the CCE policy: anyone who can read this %s can read it; use the chart's existing-secret option (policy.secretValues: refuse makes this an error)", w.Ref.Kind)
		rep.Detail("The policy must pin the value, and its sha256 (HOST_DATA) changes whenever the Secret does: a chart that makes the value at each render (randAlphaNum) never converges in GitOps and breaks key-release policies pinned to the hash.")
	}
	if p.opts.Policy.Debug {
		rep.Warn(w, field, "this is a debug policy (spec.policy.debug): it lets anyone with API access exec /bin/sh and /bin/bash in the containers and read stack dumps; never use it in production")
	}
	if p.opts.Policy.AllowStdio {
		rep.Info(w, field, "the policy lets container stdout and stderr reach the host (spec.policy.allowStdio)")
	}
}

// setAnnotation sets an annotation of the pod template as kyaml's
// SetAnnotation does (a new value single-quoted, an existing one keeping its
// style), also where metadata or annotations hold a null.
func setAnnotation(tmpl *yaml.RNode, key, value string) error {
	m, err := lookupCreate(tmpl, yaml.MappingNode, "metadata", "annotations")
	if err != nil {
		return err
	}
	v := yaml.NewStringRNode(value)
	v.YNode().Style = yaml.SingleQuotedStyle
	return m.PipeE(yaml.SetField(key, v))
}

// policyOptions maps the config onto the generator's options.
func (p *Pipeline) policyOptions() ccpolicy.Options {
	po := p.opts.Policy
	o := ccpolicy.Options{
		Format:                  po.Format,
		Debug:                   po.Debug,
		DisableStdio:            !po.AllowStdio,
		OmitID:                  po.OmitID,
		ExcludeDefaultFragments: po.ExcludeDefaultFragments,
		InfraSVN:                po.InfrastructureSVN,
		WildcardMissingRefs:     po.WildcardMissingRefs,
		Compat:                  po.Compat,
	}
	for _, f := range po.Fragments {
		o.Fragments = append(o.Fragments, ccpolicy.Fragment{Issuer: f.Issuer, Feed: f.Feed, MinimumSVN: f.MinimumSVN, Includes: f.Includes})
	}
	return o
}

// policyChanges names what differs between two policy texts: the rules,
// and for containers the fields of each container by name.
func policyChanges(oldB64, newRego string) string {
	oldRego, err := ccpolicy.Decode(oldB64)
	if err != nil {
		return "the old annotation (not a readable policy)"
	}
	changed := ccpolicy.Diff(oldRego, newRego)
	if len(changed) == 0 {
		return "nothing"
	}
	return strings.Join(changed, ", ")
}

// secretEnvFields lists the env and envFrom entries whose values come from a
// Secret of the stream and are written in clear into the policy: a
// secretKeyRef whose key has a value, and in compat guest (confcom ignores
// envFrom) a secretRef with some value. A Secret not in the stream, written
// as a pattern (policy.wildcardMissingRefs), is not listed.
func (p *Pipeline) secretEnvFields(w *Workload, objects podspec.Objects) []string {
	cs, err := w.ContainersIn(Containers, InitContainers)
	if err != nil {
		return nil
	}
	ns := p.podOf(w).Namespace
	envFrom := p.opts.Policy.Compat != CompatConfcom
	var out []string
	for _, c := range cs {
		for _, list := range []string{"env", "envFrom"} {
			seq := valueAt(c.Node, list)
			if seq == nil || seq.YNode().Kind != yaml.SequenceNode || list == "envFrom" && !envFrom {
				continue
			}
			for i, e := range seq.Content() {
				n := yaml.NewRNode(e)
				if !writesSecret(n, list, ns, objects) {
					continue
				}
				sel := fmt.Sprintf("[%d]", i)
				if name := stringField(n, "name"); list == "env" && name != "" {
					sel = "[name=" + name + "]"
				}
				out = append(out, c.Field(list+sel))
			}
		}
	}
	return out
}

// writesSecret reports an env (list "env") or envFrom entry that takes a
// non-empty value from a Secret of objects.
func writesSecret(n *yaml.RNode, list, ns string, objects podspec.Objects) bool {
	ref := valueAt(n, "valueFrom", "secretKeyRef")
	if list == "envFrom" {
		ref = valueAt(n, "secretRef")
	}
	if ref == nil {
		return false
	}
	data, ok := objects.SecretData(ns, stringField(ref, "name"))
	if list == "env" {
		return data[stringField(ref, "key")] != ""
	}
	for _, v := range data {
		if v != "" {
			return ok
		}
	}
	return false
}

// hook is a Helm hook object of the stream: its name for messages, and its
// text, to tell which objects it may make.
type hook struct {
	ref  Ref
	text string
}

// maxHooks bounds the hooks a run keeps: a chart has a few.
const maxHooks = 64

// addHook keeps n when it is a Helm hook (helm.sh/hook), for makers; the
// caller gives only workloads.
func (m *policyMemo) addHook(n *yaml.RNode) {
	if m == nil || !isHook(n) {
		return
	}
	text, err := n.String()
	if err != nil {
		return
	}
	m.hooksMu.Lock()
	defer m.hooksMu.Unlock()
	if len(m.hooks) < maxHooks {
		m.hooks = append(m.hooks, hook{refOf(n), text})
	}
}

// makers names, for an object missing from the stream, the Helm hooks of
// the stream that name it and so may make it at install time; "" when
// none does.
func (m *policyMemo) makers(err error) string {
	var missing *ccpolicy.MissingObject
	if m == nil || !errors.As(err, &missing) {
		return ""
	}
	m.hooksMu.Lock()
	defer m.hooksMu.Unlock()
	var names []string
	for _, h := range m.hooks {
		if strings.Contains(h.text, missing.Name) {
			names = append(names, h.ref.String())
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf(" (the Helm hook %s of this stream names it: it probably makes %s %q at install time, after any render)", strings.Join(names, ", "), missing.Kind, missing.Name)
}

// isHook reports an object with a helm.sh/hook annotation, reading the
// fields one by one (kyaml's GetAnnotations panics on a malformed map).
func isHook(n *yaml.RNode) bool {
	if n.YNode().Kind != yaml.MappingNode {
		return false
	}
	meta := n.Field("metadata")
	if meta == nil || meta.Value == nil || meta.Value.YNode().Kind != yaml.MappingNode {
		return false
	}
	annos := meta.Value.Field("annotations")
	if annos == nil || annos.Value == nil || annos.Value.YNode().Kind != yaml.MappingNode {
		return false
	}
	return stringField(annos.Value, "helm.sh/hook") != ""
}
