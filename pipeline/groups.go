package pipeline

import (
	"fmt"
	"slices"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/podspec"
)

// guestRefuses is why a missing additional GID is an error: what the guest
// does, whatever the CCE policy says. cocofy targets the newest public
// hcsshim guest (ACI's is not public; docs/policy.md).
const guestRefuses = "the guest (hcsshim 0.15 and later) looks every additional GID (fsGroup, supplementalGroups) up in the image's /etc/group and refuses to create the container, whatever the CCE policy says"

// refusedSeverity is how render reports what the guest refuses whatever
// the policy says: an error, unless spec.policy.check is warn (the one way
// to write such a policy anyway); hint follows the message.
func (p *Pipeline) refusedSeverity() (sev framework.Severity, hint string) {
	if p.opts.Policy.Check == CheckWarn {
		return framework.Warning, " (the policy was written anyway: policy.check is warn)"
	}
	return framework.Error, " (policy.check: warn writes the policy anyway)"
}

// checkGroups reports, with severity sev and hint after each message, each
// additional GID of a container (fsGroup, then supplementalGroups) that
// its image's /etc/group does not define exactly once. The kubelet passes
// them to the runtime without removing one equal to runAsGroup, ACI's CRI
// copies them into the OCI spec's additionalGids, and hcsshim's guest
// (since v0.15.0-rc.1, PR #2465: GetAllUserInfo, spec.GetGroup) looks each
// up in the image's /etc/group, including one equal to the primary GID,
// and fails the container when the lookup fails.
//
// An image without /etc/group fails the lookup too, but only when the
// container has a user (runAsUser, runAsGroup or the image's User): ACI's
// CRI then hands the guest a user string, and the guest looks the groups
// up; without one the guest skips the lookup when the file is missing.
//
// An image whose /etc/group is not known (image.Facts.EtcGroup: facts from
// an older cache or lock file, a layer that was not hashed, root hashes
// from a policy fragment) cannot be checked: a warning says so.
func (p *Pipeline) checkGroups(w *Workload, facts map[string]image.Facts, sev framework.Severity, hint string, rep *Report) {
	t, err := p.podOf(w).Typed()
	if err != nil {
		return
	}
	psc := t.Spec.SecurityContext
	if psc == nil {
		return
	}
	var extra []int64
	if psc.FSGroup != nil {
		extra = append(extra, *psc.FSGroup)
	}
	for _, g := range psc.SupplementalGroups {
		if !slices.Contains(extra, g) {
			extra = append(extra, g)
		}
	}
	if len(extra) == 0 {
		return
	}
	for _, pc := range slices.Concat(t.Spec.Containers, t.Spec.InitContainers) {
		f, ok := facts[pc.Image]
		if !ok {
			continue
		}
		gids, exists, known := f.EtcGroup()
		if !known {
			rep.Warn(w, groupField(w, psc, extra[0]), "container %q: GIDs %v are not checked against /etc/group of image %s, which is not known (facts from an older cache or lock file, or from a policy fragment): the guest (hcsshim 0.15 and later) refuses the container if the image does not define each of them; refresh the facts with lockMode: update", pc.Name, extra, pc.Image)
			continue
		}
		if !exists && !hasGuestUser(pc, psc, f) {
			continue
		}
		for _, gid := range extra {
			if gid < 0 || gid > 1<<32-1 {
				continue // the API server refuses it
			}
			problem, remedy := groupProblem(pc, gids, exists, uint32(gid))
			if problem == "" {
				continue
			}
			if g := runAsGroup(pc, psc); g != nil && *g == gid {
				problem += " (that it is also runAsGroup does not spare it: the kubelet passes it as an additional GID as well)"
			}
			rep.Add(sev, refPtr(w), groupField(w, psc, gid), "%s; %s; %s%s", problem, guestRefuses, remedy, hint)
		}
	}
}

// groupProblem says what is wrong with gid in an image's /etc/group (gids,
// when it exists) for container pc, and what to do; "" when nothing is.
func groupProblem(pc podspec.Container, gids []uint32, exists bool, gid uint32) (problem, remedy string) {
	switch n := gidLines(gids, gid); {
	case !exists:
		return fmt.Sprintf("container %q: GID %d is not in /etc/group of image %s, which has no /etc/group", pc.Name, gid, pc.Image),
			fmt.Sprintf("add an /etc/group that defines group %d to the image, or drop this GID", gid)
	case n == 0:
		return fmt.Sprintf("container %q: GID %d is not in /etc/group of image %s", pc.Name, gid, pc.Image),
			fmt.Sprintf("use a group the image defines, or add group %d to the image's /etc/group", gid)
	case n > 1:
		return fmt.Sprintf("container %q: GID %d is on %d lines of /etc/group of image %s, where the guest wants exactly one", pc.Name, gid, n, pc.Image),
			fmt.Sprintf("keep one line for group %d in the image's /etc/group, or use another group the image defines", gid)
	}
	return "", ""
}

// runAsGroup is the container's primary GID when set (container over pod).
func runAsGroup(pc podspec.Container, psc *podspec.PodSecurityContext) *int64 {
	if sc := pc.SecurityContext; sc != nil && sc.RunAsGroup != nil {
		return sc.RunAsGroup
	}
	return psc.RunAsGroup
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
