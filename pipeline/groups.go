package pipeline

import (
	"fmt"
	"slices"
	"strconv"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/guest"
	"cocofy.dev/cocofy/internal/podspec"
)

// reportMissingGroups warns about each additional GID of a container
// (fsGroup, supplementalGroups: the groups guest.Receive lists after the
// primary one) that its image's /etc/group does not define exactly once.
// hcsshim's guest (since PR #2465) looks each additional GID up in the
// image's /etc/group when it creates the container, and fails the
// container when the lookup fails, whatever the CCE policy says.
//
// An image without /etc/group fails the lookup too, but only when the
// container has a user (runAsUser, runAsGroup or the image's User): ACI's
// CRI then hands the guest a user string, and the guest looks the groups
// up; without one the guest skips the lookup when the file is missing.
//
// Nothing is said about an image whose /etc/group is not known
// (image.Facts.EtcGroup): facts from an older cache or lock file, or a
// layer that was not hashed. The policies are not changed.
func (p *Pipeline) reportMissingGroups(ws []*Workload, policies []ccpolicy.Policy, facts map[string]image.Facts, objects podspec.Objects, rep *Report) {
	for i, w := range ws {
		pod := p.podOf(w)
		t, err := pod.Typed()
		if err != nil {
			continue
		}
		psc := t.Spec.SecurityContext
		if psc == nil || (psc.FSGroup == nil && len(psc.SupplementalGroups) == 0) {
			continue
		}
		cs := policies[i].Guest
		if cs == nil { // compat: confcom computes no guest view
			if cs, err = guest.Receive(pod, facts, objects); err != nil {
				continue // the enforcer replay reports it
			}
		}
		byName := map[string]podspec.Container{}
		for _, pc := range slices.Concat(t.Spec.InitContainers, t.Spec.Containers) {
			byName[pc.Name] = pc
		}
		for _, c := range cs {
			pc, ok := byName[c.Name]
			if !ok || len(c.Groups) < 2 {
				continue
			}
			f, ok := facts[pc.Image]
			if !ok {
				continue
			}
			gids, exists, known := f.EtcGroup()
			if !known || (!exists && !hasGuestUser(pc, psc, f)) {
				continue
			}
			for _, g := range c.Groups[1:] {
				gid, err := strconv.ParseUint(g.ID, 10, 32)
				if err != nil {
					continue
				}
				field := groupField(w, psc, int64(gid))
				const fails = "the guest would fail to create the container (hcsshim looks each additional GID up in the image's /etc/group, whatever the CCE policy says)"
				switch n := gidLines(gids, uint32(gid)); {
				case !exists:
					rep.Warn(w, field, "container %q: image %s has no /etc/group, so it has no group %d: %s; add an /etc/group that defines group %d to the image, or drop this GID", c.Name, pc.Image, gid, fails, gid)
				case n == 0:
					rep.Warn(w, field, "container %q: image %s has no group %d in its /etc/group: %s; add group %d to the image's /etc/group, or use a GID the image defines", c.Name, pc.Image, gid, fails, gid)
				case n > 1:
					rep.Warn(w, field, "container %q: image %s defines group %d on %d lines of its /etc/group, where the guest wants exactly one: %s; keep one line for group %d in the image's /etc/group, or use another GID the image defines", c.Name, pc.Image, gid, n, fails, gid)
				}
			}
		}
	}
}

// hasGuestUser reports whether ACI's CRI hands the guest a user string for pc:
// when runAsUser or runAsGroup (container over pod) or the image's User is
// set (hcsshim PR #2465 on ACI's CRI fork).
func hasGuestUser(pc podspec.Container, psc *podspec.PodSecurityContext, f image.Facts) bool {
	if sc := pc.SecurityContext; sc != nil && (sc.RunAsUser != nil || sc.RunAsGroup != nil) {
		return true
	}
	return psc.RunAsUser != nil || psc.RunAsGroup != nil || f.Config.User != ""
}

// groupField is the field that asks for additional group gid: fsGroup,
// else the first supplementalGroups entry that names it.
func groupField(w *Workload, psc *podspec.PodSecurityContext, gid int64) string {
	if psc.FSGroup != nil && *psc.FSGroup == gid {
		return w.Field("spec", "securityContext", "fsGroup")
	}
	if i := slices.Index(psc.SupplementalGroups, gid); i >= 0 {
		return w.Field("spec", "securityContext", fmt.Sprintf("supplementalGroups[%d]", i))
	}
	return w.Field("spec", "securityContext")
}

// gidLines is the number of lines of an /etc/group that define v.
func gidLines(list []uint32, v uint32) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}
