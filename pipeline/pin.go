package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"cocofy.dev/cocofy/image"
)

// imageUse is one image field in one container.
type imageUse struct {
	w   *Workload
	c   Container
	ref string
}

// pin rewrites every image of the selected workloads to a digest. Each
// unique reference is resolved once. It returns the workloads with an
// image that could not be pinned (a run with errors writes nothing).
func (p *Pipeline) pin(ctx context.Context, ws []*Workload, rep *Report) map[*Workload]bool {
	uses, refs := p.imageUses(ws, rep)
	pins, errs := p.resolveAll(ctx, refs)
	failed := map[*Workload]bool{}
	for _, u := range uses {
		if err := errs[u.ref]; err != nil {
			rep.Error(u.w, u.c.Field("image"), "%v", err)
			failed[u.w] = true
		}
	}
	for _, u := range uses {
		if failed[u.w] {
			continue
		}
		pinned := pinnedRef(u.ref, pins[u.ref].Digest, p.opts.Images.DropTag)
		if pinned == u.ref {
			continue
		}
		if _, tag, digest := image.Split(u.ref); tag == "" && digest == "" {
			// The registry answers for latest: say so, and (unless the
			// tag is dropped) write it, so that people see what was pinned.
			rep.Warn(u.w, u.c.Field("image"), "%s has no tag: pinned latest, whatever it was at this render; name a tag", u.ref)
		}
		if err := u.c.Node.PipeE(setString("image", pinned)); err != nil {
			rep.Error(u.w, u.c.Field("image"), "%v", err)
			failed[u.w] = true
			continue
		}
		u.w.claim(u.c.Field("image"), pinned)
		if strings.Contains(u.ref, "@") {
			rep.Info(u.w, u.c.Field("image"), "verified the digest of %s and wrote %s", u.ref, pinned)
		} else {
			rep.Info(u.w, u.c.Field("image"), "pinned %s to %s", u.ref, pins[u.ref].Digest)
		}
	}
	return failed
}

// imageUses lists every image field of the workloads and the unique
// references among them, sorted.
func (p *Pipeline) imageUses(ws []*Workload, rep *Report) ([]imageUse, []string) {
	var uses []imageUse
	seen := map[string]bool{}
	var refs []string
	for _, w := range ws {
		cs, err := w.AllContainers()
		if err != nil {
			rep.Error(w, "", "%v", err)
			continue
		}
		for _, c := range cs {
			ref, ok := c.Image()
			if _, err := name.ParseReference(ref); !ok || err != nil {
				continue // validate reported it
			}
			uses = append(uses, imageUse{w: w, c: c, ref: ref})
			if !seen[ref] {
				seen[ref] = true
				refs = append(refs, ref)
			}
		}
	}
	sort.Strings(refs)
	return uses, refs
}

// resolveAll resolves refs in parallel and returns the pins and the errors
// by reference.
func (p *Pipeline) resolveAll(ctx context.Context, refs []string) (map[string]image.Pin, map[string]error) {
	return forEachKey(ctx, refs, func(ctx context.Context, ref string) (image.Pin, error) {
		pin, err := p.deps.Resolver.Resolve(ctx, ref)
		if err == nil && !strings.HasPrefix(pin.Digest, "sha256:") {
			err = fmt.Errorf("resolving %q: resolver returned no sha256 digest", ref)
		}
		return pin, err
	})
}

// pinnedRef writes ref with digest: "repo:tag@digest" keeps the tag for
// people (a reference with neither tag nor digest gets latest, the tag
// the registry answered for); dropTag gives "repo@digest". The registry
// and repository are kept exactly as written.
func pinnedRef(ref, digest string, dropTag bool) string {
	base, _, _ := strings.Cut(ref, "@") // a digest follows the only '@'
	if _, tag, d := image.Split(ref); tag == "" && d == "" && !dropTag {
		base += ":latest"
	}
	if dropTag {
		// go-containerregistry tells a tag from a registry port; the
		// text before it stays as written.
		if t, err := name.NewTag(base); err == nil {
			base = strings.TrimSuffix(base, ":"+t.TagStr())
		}
	}
	return base + "@" + digest
}
