package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/guest"
	"cocofy.dev/cocofy/internal/podspec"
	"cocofy.dev/cocofy/internal/verify"
)

// Verifier returns a Pipeline whose runs change nothing and check each
// selected workload against the config instead (verify's stages): placed
// on the target (runtimeClassName, or the virtual node's nodeSelector and
// toleration), every image pinned by digest, requests equal to limits
// where the config equalizes them; and for target virtual-node, a CCE
// policy on every pod that the config gives one, in the config's format,
// neither allow-all nor debug unless the config asks for a debug policy,
// that loads in hcsshim's enforcer, lets the guest start every container
// of the pod (replayed with the pod spec and the image facts), and equals
// the policy cocofy computes from the spec now (else the changed fields
// are reported as drift).
func (p *Pipeline) Verifier() *Pipeline {
	q := *p
	q.stages = stages{each: (*Pipeline).verifyEach, none: "no workload is selected; nothing to verify"}
	if p.opts.Target == TargetVirtualNode {
		q.stages.objects, q.stages.policy = true, (*streamRun).verifyPolicies
	}
	return &q
}

// verifyEach checks one workload's placement, pins and resources, and
// whether it carries the policy the config asks for; it reports whether
// there is a policy to verify.
func (p *Pipeline) verifyEach(w *Workload, rep *Report) bool {
	if p.opts.Target == TargetVirtualNode && !p.onVirtualNode(w, rep) {
		p.verifyPins(w, rep)
		return false // a DaemonSet: pinned only
	}
	p.verifyPlacement(w, rep)
	p.verifyPins(w, rep)
	p.verifyResources(w, rep)
	if p.opts.Target != TargetVirtualNode {
		return false
	}
	v, has := w.Template.GetAnnotations()[AnnotationCCEPolicy]
	switch {
	case has && strings.TrimSpace(v) == "":
		rep.Error(w, w.Field("metadata", "annotations", AnnotationCCEPolicy), "the CCE policy annotation is empty: there is no policy to verify, and the pod would not run as a confidential pod with the policy you expect")
	case has:
		return true
	case p.opts.AttachPolicy():
		hint := ""
		if _, hook := w.Resource.GetAnnotations()["helm.sh/hook"]; hook {
			hint = " (a Helm hook: Helm 3 does not post-render hooks; use Helm 4, or helm template | cocofy)"
		}
		rep.Error(w, w.Field("metadata", "annotations", AnnotationCCEPolicy), "no CCE policy, though the config (target virtual-node) attaches one to every selected pod: render the stream with cocofy before verifying it%s", hint)
	}
	return false
}

// verifyPolicies is verify's policy stage: each policy of sws is checked
// against the pod and the image facts.
func (s *streamRun) verifyPolicies(sws []*streamWorkload) {
	in, ok := s.inspect(sws)
	if !ok {
		return
	}
	for _, sw := range sws {
		rep := s.newReport()
		s.p.verifyWorkload(s.ctx, sw.w, s.objects, in, rep)
		s.collect(phaseCheck, sw.order, rep)
	}
}

// inspectAll gets the facts of every image of ws, reporting failures on
// the image fields.
func (p *Pipeline) inspectAll(ctx context.Context, ws []*Workload, rep *Report) (map[string]image.Facts, bool) {
	if p.deps.Inspector == nil {
		rep.Add(framework.Error, nil, "", "no image inspector was configured")
		return nil, false
	}
	uses, refs := p.imageUses(ws, rep)
	platform := p.platform()
	facts, errs := forEachKey(ctx, refs, func(ctx context.Context, ref string) (image.Facts, error) {
		return p.deps.Inspector.Inspect(ctx, ref, platform)
	})
	ok := true
	for _, u := range uses {
		if err := errs[u.ref]; err != nil {
			rep.Error(u.w, u.c.Field("image"), "image facts for the CCE policy: %v", err)
			ok = false
		}
	}
	return facts, ok && !rep.HasErrors()
}

// verifyWorkload checks one workload's attached policy: it must be
// readable, of an accepted class and format, equal to the policy cocofy
// computes now (else drift), and the guest must start every container
// under it. The fragments attached to the pod's images
// (policy.imageFragments) are checked and offered to the enforcer first,
// as the guest loads them; an import of the policy that none satisfies is
// an error naming why each was not loaded.
func (p *Pipeline) verifyWorkload(ctx context.Context, w *Workload, objects podspec.Objects, in policyImages, rep *Report) {
	p.checkGroups(w, in.facts, framework.Error, "", rep) // whatever the policy says
	attached := w.Template.GetAnnotations()[AnnotationCCEPolicy]
	rego, class, ok := p.readPolicy(ctx, w, attached, rep)
	if !ok {
		return
	}
	pod := p.podOf(w)
	want, matches := p.drift(w, pod, rego, attached, class, in.facts, objects, in.covering, rep)
	cs, err := guest.Receive(pod, in.facts, objects)
	if err != nil {
		rep.Error(w, pod.SpecPath(), "replaying the pod for the enforcer: %v", err)
		return
	}
	imports := policyImports(w, rego, rep)
	offers := p.offers(ctx, w, imports, in.attached)
	_, frags := loadable(offers)
	ds, loaded, err := p.replay(ctx, rego, frags, cs)
	loadedAll := err == nil && reportFragments(w, imports, offers, loaded, rep)
	if !reportDecisions(w, ds, err, framework.Error, "", rep) || !matches || !loadedAll {
		return
	}
	if sum := w.Template.GetAnnotations()[AnnotationCCEPolicySHA256]; sum != "" && sum != want.SHA256 {
		rep.Error(w, w.Field("metadata", "annotations", AnnotationCCEPolicySHA256), "is %s but the policy's sha256 is %s", sum, want.SHA256)
		return
	}
	rep.Info(w, w.Field("metadata", "annotations", AnnotationCCEPolicy), "verified: the enforcer allows every container and the policy matches the spec (sha256 %s)", want.SHA256)
}

// readPolicy decodes and classifies the attached policy, and reports one
// whose class or format the config does not accept.
func (p *Pipeline) readPolicy(ctx context.Context, w *Workload, attached string, rep *Report) (string, verify.Classification, bool) {
	field := w.Field("metadata", "annotations", AnnotationCCEPolicy)
	rego, err := ccpolicy.Decode(attached)
	if err != nil {
		rep.Error(w, field, "%v", err)
		return "", verify.Classification{}, false
	}
	class, err := p.verifier.Classify(ctx, rego)
	if err != nil {
		rep.Error(w, field, "%v", err)
		return "", verify.Classification{}, false
	}
	return rego, class, p.acceptClass(w, class, rep) && p.acceptFormat(w, rego, rep)
}

// drift computes the policy cocofy would write now from the spec, in the
// configured compat mode, else in the other one, and reports whether the
// attached one is it (else a drift error naming the changed fields).
func (p *Pipeline) drift(w *Workload, pod podspec.Pod, rego, attached string, class verify.Classification, facts map[string]image.Facts, objects podspec.Objects, covering []ccpolicy.CoveringFragment, rep *Report) (ccpolicy.Policy, bool) {
	field := w.Field("metadata", "annotations", AnnotationCCEPolicy)
	opts := p.policyOptions()
	opts.Format = policyFormat(rego)
	opts.Debug = class.Kind == verify.Debug
	opts.Covering = covering
	want, err := ccpolicy.Generate(pod, facts, objects, opts)
	if err != nil {
		p.reportPolicyErrors(rep, w, err)
		return ccpolicy.Policy{}, false
	}
	if want.Annotation() == attached {
		return want, true
	}
	other := opts
	other.Compat = otherCompat(opts.Compat)
	if alt, err := ccpolicy.Generate(pod, facts, objects, other); err == nil && alt.Annotation() == attached {
		rep.Info(w, field, "the policy is the one cocofy computes with policy.compat: %s", other.Compat)
		return alt, true
	}
	rep.Error(w, field, "drift: the attached policy does not match the pod spec: %s differ (run cocofy again to recompute it; sha256 would be %s)", policyChanges(attached, want.Rego), want.SHA256)
	return want, false
}

// acceptClass reports an allow-all or a debug policy: an error unless the
// config asks for a debug policy (policy.debug: true), then a warning.
func (p *Pipeline) acceptClass(w *Workload, class verify.Classification, rep *Report) bool {
	field := w.Field("metadata", "annotations", AnnotationCCEPolicy)
	sev, hint := framework.Error, " (set policy.debug: true in the config to accept it)"
	if p.opts.Policy.Debug {
		sev, hint = framework.Warning, ""
	}
	switch class.Kind {
	case verify.AllowAll:
		rep.Add(sev, refPtr(w), field, "an allow-all policy: any container may run in this pod and its attestation proves nothing about the code%s", hint)
		return false
	case verify.Debug:
		rep.Add(sev, refPtr(w), field, "a debug policy: %s; never use it in production%s", strings.Join(class.Signals, ", "), hint)
		return sev != framework.Error
	}
	return true
}

// acceptFormat reports a policy whose format is not the config's.
func (p *Pipeline) acceptFormat(w *Workload, rego string, rep *Report) bool {
	want := p.opts.Policy.Format
	if want == "" {
		want = ccpolicy.Format2
	}
	got := policyFormat(rego)
	if got == want {
		return true
	}
	rep.Error(w, w.Field("metadata", "annotations", AnnotationCCEPolicy), "the policy is in format %s, but the config asks for %s (policy.format): an older format also lowers the infrastructure fragment's minimum SVN; render the stream with cocofy again", got, want)
	return false
}

func otherCompat(c string) string {
	if c == CompatConfcom {
		return CompatGuest
	}
	return CompatConfcom
}

// replay runs the guest's steps for the containers cs under rego with
// hcsshim's framework, once the enforcer has loaded frags (the answer for
// each is in loaded). A result in which every fragment loaded and every
// container is allowed is remembered in Deps.Checks under checkKey of the
// policy, the fragments and the replayed containers, so unchanged pods are
// not replayed again (a replay takes milliseconds).
func (p *Pipeline) replay(ctx context.Context, rego string, frags []verify.Fragment, cs []guest.Container) (ds []verify.Decision, loaded []error, err error) {
	key := checkKey(rego, frags, cs)
	var passed bool
	if p.deps.Checks != nil && p.deps.Checks.Get(CheckCacheKind, key, &passed) && passed {
		return nil, make([]error, len(frags)), nil
	}
	ds, loaded, err = p.verifier.PolicyWithFragments(ctx, rego, frags, cs)
	if err != nil {
		return nil, nil, err
	}
	if p.deps.Checks != nil && verify.Err(ds) == nil && !slices.ContainsFunc(loaded, func(e error) bool { return e != nil }) {
		_ = p.deps.Checks.Put(CheckCacheKind, key, true) // a cache that cannot be written only costs time
	}
	return ds, loaded, nil
}

// CheckCacheKind is the kind of Deps.Checks entries: passed enforcer
// replays.
const CheckCacheKind = "enforcer"

// checkKey is "sha256:" + the hash of what decides a replay: the enforcer
// and replay code (verify.CacheKey, which changes by itself with them, so
// that older entries no longer count), the policy, the fragments loaded
// (when any) and the containers.
func checkKey(rego string, frags []verify.Fragment, cs []guest.Container) string {
	h := sha256.New()
	b, _ := json.Marshal(cs)
	parts := [][]byte{[]byte(verify.CacheKey()), []byte(rego), b}
	if len(frags) > 0 {
		f, _ := json.Marshal(frags)
		parts = append(parts, f)
	}
	for _, part := range parts {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// reportDecisions reports a replay's denials and changes with severity sev,
// each followed by hint. It reports whether all containers passed.
func reportDecisions(w *Workload, ds []verify.Decision, err error, sev framework.Severity, hint string, rep *Report) bool {
	field := w.Field("metadata", "annotations", AnnotationCCEPolicy)
	if err != nil {
		rep.Add(sev, refPtr(w), field, "%v", err)
		return false
	}
	fields := containerFields(w)
	ok := true
	for _, d := range ds {
		f, known := fields[d.Name]
		if !known {
			f = field
		}
		var msg string
		switch {
		case !d.Allowed:
			msg = fmt.Sprintf("the enforcer denies container %q at %s: %s", d.Name, d.Step, d.Reason)
		case len(d.DroppedEnv) > 0:
			msg = fmt.Sprintf("the enforcer would start container %q without its environment variables %s: the policy has no rule for them", d.Name, strings.Join(d.DroppedEnv, ", "))
		case len(d.DroppedCapabilities) > 0:
			msg = fmt.Sprintf("the enforcer would start container %q without the capabilities %s: the policy does not list them", d.Name, strings.Join(d.DroppedCapabilities, ", "))
		default:
			continue
		}
		ok = false
		rep.Add(sev, refPtr(w), f, "%s%s", msg, hint)
	}
	return ok
}

// containerFields maps container names to their field paths.
func containerFields(w *Workload) map[string]string {
	out := map[string]string{}
	cs, err := w.ContainersIn(Containers, InitContainers)
	if err != nil {
		return out
	}
	for _, c := range cs {
		out[c.Name] = c.Path
	}
	return out
}

// policyFormat tells the confcom format of a policy from its api_version
// and, for 0.10.0, its pause container (the last one): confcom 1.2 names it
// pause-container, 1.x does not.
func policyFormat(rego string) string {
	p, err := ccpolicy.Parse(rego)
	if err != nil || p.Rules["api_version"] != `"0.10.0"` {
		return ccpolicy.Format2
	}
	if cs := p.Containers; len(cs) > 0 && cs[len(cs)-1]["name"] == "pause-container" {
		return ccpolicy.Format12
	}
	return ccpolicy.Format1
}

// unchecked says why generated policies are not run through the enforcer,
// "" when they are: render is never silent about it.
func (p *Pipeline) unchecked() string {
	switch {
	case !verify.Enabled():
		return "this cocofy was built without hcsshim's enforcer (build tag rego, Linux only): no CCE policy was checked before it was written; on Linux build it with make build or go install -tags rego, elsewhere gate the output with cocofy verify on Linux (e.g. in CI)"
	case p.opts.Policy.Check == CheckOff:
		return "spec.policy.check is off: no CCE policy was checked with hcsshim's enforcer before it was written"
	}
	return ""
}

// checkGenerated runs the enforcer on the policy cocofy just generated for
// w, so that a policy the guest would refuse is not written unless
// spec.policy.check says so. Pods with the same policy and containers
// (replicas of one chart, hooks) are replayed once in a run. A policy whose
// fragments cover containers is replayed once the enforcer has loaded the
// fragments attached to the pod's images, as the guest does.
func (p *Pipeline) checkGenerated(ctx context.Context, w *Workload, pol ccpolicy.Policy, objects podspec.Objects, in policyImages, rep *Report) {
	var ds []verify.Decision
	cs, err := pol.Guest, error(nil)
	if cs == nil {
		cs, err = guest.Receive(p.podOf(w), in.facts, objects)
	}
	if err == nil {
		var imports []ccpolicy.Fragment
		var offers []*offer
		if len(pol.Covered) > 0 {
			imports = pol.Imports
			offers = p.offers(ctx, w, imports, in.attached)
		}
		_, frags := loadable(offers)
		ds, err = p.samePods.replayOnce(checkKey(pol.Rego, frags, cs), func() ([]verify.Decision, error) {
			ds, loaded, err := p.replay(ctx, pol.Rego, frags, cs)
			if err != nil {
				return nil, err
			}
			settle(offers, loaded)
			if unmet, whys := unmetImports(imports, offers); len(unmet) > 0 {
				return nil, fmt.Errorf("%s, and the guest loads none of the fragments attached to the pod's images (%s)", strings.Join(unmet, "; "), strings.Join(whys, "; "))
			}
			return ds, nil
		})
	}
	sev := framework.Error
	if p.opts.Policy.Check == CheckWarn {
		sev = framework.Warning
	}
	hint := ""
	if p.opts.Policy.Compat == CompatConfcom {
		hint = " (this is confcom's policy, as policy.compat: confcom asks; policy.compat: guest writes one the guest accepts, see docs/policy.md)"
	}
	if reportDecisions(w, ds, err, sev, hint, rep) || p.opts.Policy.Compat == CompatConfcom {
		return
	}
	rep.Add(sev, refPtr(w), w.Field("metadata", "annotations", AnnotationCCEPolicy), "cocofy corrected confcom's policy for this pod with its model of the guest, yet hcsshim's enforcer refuses it: a bug in that model (please report it with the pod spec)")
}
