package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/fragment"
	"cocofy.dev/cocofy/internal/verify"
)

// offer is a fragment attached to one of a pod's images, as verify
// offers it to the guest's enforcer.
type offer struct {
	image.AttachedFragment
	// ref is the image it is attached to.
	ref string
	// f is the fragment once it passed the guest's checks of its envelope.
	f *fragment.Fragment
	// why is the check it failed, or the enforcer's refusal; "" when loaded.
	why string
}

// name is the fragment as results name it: its digest, the image it is
// attached to and, once read, its issuer and feed.
func (o *offer) name() string {
	s := fmt.Sprintf("the policy fragment %s attached to %s", o.Digest, o.ref)
	if o.f != nil {
		s += fmt.Sprintf(" (issuer %s, feed %s)", o.f.Issuer, o.f.Feed)
	}
	return s
}

// offers lists the fragments attached to w's images (attached, keyed by
// the image as written), each once, and checks each as the guest does
// before it gives one to its enforcer: fragment.Verify (envelope, chain,
// signature, did:x509 issuer, feed, package line and namespace, svn), and
// the minimum_svn of the policy's import of its issuer and feed.
func (p *Pipeline) offers(ctx context.Context, w *Workload, imports []ccpolicy.Fragment, attached map[string][]image.AttachedFragment) []*offer {
	var out []*offer
	seen := map[string]bool{}
	cs, _ := w.AllContainers() // verifyEach reported an unreadable spec
	for _, c := range cs {
		ref, _ := c.Image()
		for _, a := range attached[ref] {
			if seen[a.Digest] {
				continue
			}
			seen[a.Digest] = true
			out = append(out, checkOffer(ctx, &offer{AttachedFragment: a, ref: ref}, imports))
		}
	}
	return out
}

// checkOffer sets o.f, or o.why when the guest would refuse the envelope.
func checkOffer(ctx context.Context, o *offer, imports []ccpolicy.Fragment) *offer {
	f, err := fragment.Verify(ctx, o.Envelope, fragment.VerifyOptions{})
	if err != nil {
		o.why = err.Error()
		return o
	}
	for _, imp := range imports {
		if imp.Issuer == f.Issuer && imp.Feed == f.Feed {
			if err := f.CheckMinimumSVN(imp.MinimumSVN); err != nil {
				o.f, o.why = f, fmt.Sprintf("%v (the policy's import of its issuer and feed)", err)
				return o
			}
		}
	}
	o.f = f
	return o
}

// loadable returns the offers that passed checkOffer, as the enforcer
// takes them.
func loadable(offers []*offer) ([]*offer, []verify.Fragment) {
	var os []*offer
	var fs []verify.Fragment
	for _, o := range offers {
		if o.why == "" {
			os = append(os, o)
			fs = append(fs, verify.Fragment{Issuer: o.f.Issuer, Feed: o.f.Feed, Rego: string(o.f.Payload)})
		}
	}
	return os, fs
}

// reportFragments reports what became of the policy's imports and the
// offered fragments after the enforcer loaded them (loaded: the enforcer's
// answer for each fragment of loadable(offers)): each loaded fragment, and
// each import no loaded fragment satisfies: an error naming why each
// attached fragment not loaded was not, or, when every attached fragment
// was loaded (or none is attached), an info saying the replay went on
// without it; when every import is met, why each other fragment was not
// loaded. It reports whether no import was an error.
func reportFragments(w *Workload, imports []ccpolicy.Fragment, offers []*offer, loaded []error, rep *Report) bool {
	field := w.Field("metadata", "annotations", AnnotationCCEPolicy)
	for _, o := range settle(offers, loaded) {
		rep.Info(w, field, "the enforcer loaded %s, as the guest does", o.name())
	}
	unmet, whys := unmetImports(imports, offers)
	for _, u := range unmet {
		if len(whys) == 0 {
			rep.Info(w, field, "%s, and no other fragment is attached to the pod's images (cocofy verify loads those only, from the registry or the lock file, with spec.policy.imageFragments): its containers were replayed without it", u)
			continue
		}
		rep.Error(w, field, "%s, and the guest loads none of the fragments attached to the pod's images: %s", u, strings.Join(whys, "; "))
	}
	if len(unmet) == 0 {
		for _, why := range whys {
			rep.Info(w, field, "not loaded: %s", why)
		}
	}
	return len(unmet) == 0 || len(whys) == 0
}

// settle records the enforcer's refusals (loaded, for loadable(offers))
// as the offers' why, and returns the offers it loaded.
func settle(offers []*offer, loaded []error) []*offer {
	tried, _ := loadable(offers)
	var ok []*offer
	for i, err := range loaded {
		if err != nil {
			tried[i].why = err.Error()
			continue
		}
		ok = append(ok, tried[i])
	}
	return ok
}

// unmetImports names each import but the infrastructure fragment's that
// no loaded offer satisfies, and says why each offer not loaded was not.
func unmetImports(imports []ccpolicy.Fragment, offers []*offer) (unmet, whys []string) {
	for _, o := range offers {
		if o.why != "" {
			whys = append(whys, fmt.Sprintf("%s: %s", o.name(), o.why))
		}
	}
	for _, imp := range imports {
		if imp.Feed == ccpolicy.InfraFeed || satisfied(imp, offers) {
			continue
		}
		unmet = append(unmet, fmt.Sprintf("the policy imports the fragments of issuer %s, feed %s, svn at least %s", imp.Issuer, imp.Feed, imp.MinimumSVN))
	}
	return unmet, whys
}

// satisfied reports whether the enforcer loaded an offer of imp's issuer
// and feed.
func satisfied(imp ccpolicy.Fragment, offers []*offer) bool {
	return slices.ContainsFunc(offers, func(o *offer) bool {
		return o.why == "" && o.f != nil && o.f.Issuer == imp.Issuer && o.f.Feed == imp.Feed
	})
}

// policyImports reads the policy's imports; a policy whose fragments rule
// cannot be read is reported, and loads nothing.
func policyImports(w *Workload, rego string, rep *Report) []ccpolicy.Fragment {
	imports, err := ccpolicy.Imports(rego)
	if err != nil {
		rep.Add(framework.Warning, refPtr(w), w.Field("metadata", "annotations", AnnotationCCEPolicy), "%v: no fragment is loaded for it", err)
	}
	return imports
}
