package pipeline

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/fragment"
)

// policyImages is what the policy stages know of a batch's images.
type policyImages struct {
	// facts are keyed by the image as written in the template.
	facts map[string]image.Facts
	// covering are the trusted fragments that cover containers.
	covering []ccpolicy.CoveringFragment
	// attached are the fragments attached to each image, checked or not
	// (policy.imageFragments): verify offers them to the guest.
	attached map[string][]image.AttachedFragment
}

// imageFragment is what the fragments attached to one image gave.
type imageFragment struct {
	// attached are all of them, as found.
	attached []image.AttachedFragment
	// facts have the layer root hashes of the fragment used, if any.
	facts image.Facts
	// covering is the fragment used; nil when none was.
	covering *ccpolicy.CoveringFragment
	// notes say which fragment was used, or why each was not.
	notes []string
}

// inspectForPolicy is inspectAll, except that with policy.imageFragments
// an image with a valid attached fragment from a trusted issuer takes its
// layer root hashes from the fragment, so that its layers are not
// downloaded, and the fragment is returned to cover the containers it
// describes (ccpolicy.Options.Covering). Every other image is inspected
// as inspectAll does; each image used by a workload gets an info result
// naming the fragment used, or why each attached one was not.
func (p *Pipeline) inspectForPolicy(ctx context.Context, ws []*Workload, rep *Report) (policyImages, bool) {
	if len(p.opts.Policy.ImageFragments) == 0 || p.deps.Inspector == nil {
		facts, ok := p.inspectAll(ctx, ws, rep)
		return policyImages{facts: facts}, ok
	}
	if p.deps.Fragments == nil {
		rep.Add(framework.Info, nil, "", "spec.policy.imageFragments: this run has no source of attached fragments: the policies are computed from the images' layers")
		facts, ok := p.inspectAll(ctx, ws, rep)
		return policyImages{facts: facts}, ok
	}
	uses, refs := p.imageUses(ws, rep)
	platform := p.platform()
	found, errs := forEachKey(ctx, refs, func(ctx context.Context, ref string) (imageFragment, error) {
		return p.fromFragments(ctx, ref, platform)
	})
	out := policyImages{facts: map[string]image.Facts{}, attached: map[string][]image.AttachedFragment{}}
	var rest []string
	for _, ref := range refs {
		f := found[ref]
		out.attached[ref] = f.attached
		if errs[ref] == nil && f.covering != nil {
			out.facts[ref] = f.facts
			out.covering = append(out.covering, *f.covering)
			continue
		}
		rest = append(rest, ref)
	}
	inspected, inspectErrs := forEachKey(ctx, rest, func(ctx context.Context, ref string) (image.Facts, error) {
		return p.deps.Inspector.Inspect(ctx, ref, platform)
	})
	ok := true
	for _, u := range uses {
		if err := errs[u.ref]; err != nil {
			rep.Info(u.w, u.c.Field("image"), "no image-attached fragment used: %v", err)
		}
		for _, n := range found[u.ref].notes {
			rep.Info(u.w, u.c.Field("image"), "%s", n)
		}
		if err := inspectErrs[u.ref]; err != nil {
			rep.Error(u.w, u.c.Field("image"), "image facts for the CCE policy: %v", err)
			ok = false
		}
	}
	for ref, f := range inspected {
		out.facts[ref] = f
	}
	return out, ok && !rep.HasErrors()
}

// platform is images.platform, by default linux/amd64.
func (p *Pipeline) platform() string {
	if p.opts.Images.Platform == "" {
		return image.DefaultPlatform
	}
	return p.opts.Images.Platform
}

// fromFragments looks at the fragments attached to ref's platform
// manifest and uses the first that is valid and trusted.
func (p *Pipeline) fromFragments(ctx context.Context, ref, platform string) (imageFragment, error) {
	facts, attached, err := p.deps.Fragments.Attached(ctx, ref, platform)
	if err != nil {
		return imageFragment{}, err
	}
	out := imageFragment{attached: attached}
	if len(attached) == 0 {
		out.notes = append(out.notes, "no policy fragment is attached to this image (or recorded for it in the lock file): the policy is computed from its layers")
	}
	for _, a := range attached {
		cov, hashes, why := p.trustFragment(ctx, a, facts)
		if why != "" {
			out.notes = append(out.notes, fmt.Sprintf("ignored the policy fragment %s attached to this image: %s; the policy is computed from the image's layers", a.Digest, why))
			continue
		}
		facts.Layers = slices.Clone(facts.Layers) // the source's own stay as they are
		for i := range facts.Layers {
			facts.Layers[i].RootHash = hashes[i]
		}
		out.facts, out.covering = facts, cov
		out.notes = append(out.notes, fmt.Sprintf("the layer root hashes come from the policy fragment %s attached to this image (issuer %s, feed %s, svn at least %s): its layers are not downloaded",
			a.Digest, cov.Import.Issuer, cov.Import.Feed, cov.Import.MinimumSVN))
		return out, nil
	}
	return out, nil
}

// trustFragment checks an attached fragment as the guest would, against
// policy.imageFragments, and returns it as a covering fragment with the
// root hashes of its container for the image; or why it is not used.
func (p *Pipeline) trustFragment(ctx context.Context, a image.AttachedFragment, facts image.Facts) (*ccpolicy.CoveringFragment, []string, string) {
	f, err := fragment.Verify(ctx, a.Envelope, fragment.VerifyOptions{})
	if err != nil {
		return nil, nil, fmt.Sprintf("the guest would refuse it: %v", err)
	}
	var entry *ImageFragment
	for i, e := range p.opts.Policy.ImageFragments {
		if e.Issuer == f.Issuer && (e.Feed == "" || e.Feed == f.Feed) {
			entry = &p.opts.Policy.ImageFragments[i]
			break
		}
	}
	if entry == nil {
		if slices.ContainsFunc(p.opts.Policy.ImageFragments, func(e ImageFragment) bool { return e.Issuer == f.Issuer }) {
			return nil, nil, fmt.Sprintf("its feed %q is not one spec.policy.imageFragments lists for its issuer", f.Feed)
		}
		return nil, nil, fmt.Sprintf("its issuer %s is not one of spec.policy.imageFragments", f.Issuer)
	}
	if err := f.CheckMinimumSVN(entry.MinimumSVN); err != nil {
		return nil, nil, fmt.Sprintf("%v (spec.policy.imageFragments' minimumSVN)", err)
	}
	containers, err := fragment.Containers(ctx, f)
	if err != nil {
		return nil, nil, err.Error()
	}
	hashes, ok := layersFor(containers, facts)
	if !ok {
		return nil, nil, fmt.Sprintf("none of its containers is this image (%d layers)", len(facts.Layers))
	}
	imp := fragment.ImportOf(f, entry.MinimumSVN)
	return &ccpolicy.CoveringFragment{
		Import:     ccpolicy.Fragment{Issuer: imp.Issuer, Feed: imp.Feed, MinimumSVN: imp.MinimumSVN, Includes: imp.Includes},
		Containers: containers,
	}, hashes, ""
}

// layersFor returns the layers (dm-verity root hashes, base first) of the
// fragment's container for the image: one with as many layers as the
// image, whose id names the image's repository when there are several.
// The fragment is attached to the image's manifest digest, so its
// publisher signed them for exactly this image.
func layersFor(containers []any, facts image.Facts) ([]string, bool) {
	repo, _, _ := image.Split(facts.Ref)
	var candidates [][]string
	var named []string
	for _, c := range containers {
		m, _ := c.(map[string]any)
		layers, ok := rootHashesOf(m["layers"])
		if !ok || len(layers) != len(facts.Layers) || len(layers) == 0 {
			continue
		}
		candidates = append(candidates, layers)
		if id, _ := m["id"].(string); id != "" {
			if r, _, _ := image.Split(id); r == repo {
				named = layers
			}
		}
	}
	switch {
	case named != nil:
		return named, true
	case len(candidates) == 1:
		return candidates[0], true
	}
	return nil, false
}

var rootHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// rootHashesOf reads a JSON list of dm-verity root hashes (64 hex digits).
func rootHashesOf(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok || !rootHash.MatchString(s) {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}
