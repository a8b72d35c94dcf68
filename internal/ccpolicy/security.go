package ccpolicy

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/internal/guest"
)

// unprivilegedCaps and privilegedCaps are confcom's
// default_unprivileged_capabilities and default_privileged_capabilities, in
// config order (the pause container keeps this order): the same lists, in
// the same order, as containerd's defaults that hcsshim assumes, which
// internal/guest holds once for both readings.
var (
	unprivilegedCaps = guest.DefaultCapabilities(false).Bounding
	privilegedCaps   = guest.DefaultCapabilities(true).Bounding
)

// mergeMaps is confcom's shallow securityContext merge:
// pod.copy().update(container).
func mergeMaps(pod, container *yaml.Node) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	put := func(k string, v *yaml.Node) {
		for i := 0; i+1 < len(out.Content); i += 2 {
			if out.Content[i].Value == k {
				out.Content[i+1] = v
				return
			}
		}
		out.Content = append(out.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, v)
	}
	for _, m := range []*yaml.Node{pod, container} {
		for _, k := range keys(m) {
			put(k, get(m, k))
		}
	}
	return out
}

// privilegedOf is extract_allow_elevated: a bool, or a string compared with
// "true" ignoring case.
func privilegedOf(sc *yaml.Node) (bool, error) {
	v := py(getCI(sc, "privileged"))
	switch {
	case v.kind == pyBool:
		return v.b, nil
	case v.kind == pyStr:
		return strings.ToLower(v.s) == "true", nil
	case v.truthy():
		return false, fmt.Errorf("%w: a YAML %s, want a boolean or a string", ErrInvalid, v.kind)
	}
	return false, nil
}

// allowPrivilegeEscalationOf is extract_allow_privilege_escalation; the
// default is true.
func allowPrivilegeEscalationOf(sc *yaml.Node) (bool, error) {
	v := py(getCI(sc, "allowPrivilegeEscalation"))
	switch v.kind {
	case pyNone:
		return true, nil
	case pyBool:
		return v.b, nil
	case pyStr:
		return strings.ToLower(v.s) == "true", nil
	}
	return false, fmt.Errorf("%w: a YAML %s, want a boolean or a string", ErrInvalid, v.kind)
}

type idName struct{ pattern, strategy string }

func (p idName) json() map[string]any {
	return map[string]any{"pattern": p.pattern, "strategy": p.strategy}
}

func userJSON(user, group idName) map[string]any {
	return map[string]any{
		"group_idnames": []any{group.json()},
		"umask":         "0022",
		"user_idname":   user.json(),
	}
}

func defaultUser() map[string]any {
	return userJSON(idName{"", "any"}, idName{"", "any"})
}

// userOf is extract_user followed by the image User merge: runAsUser and
// runAsGroup (non-negative integers) become ids; only when both are absent
// does the image's "user[:group]" apply, each part an id if all digits.
func userOf(sc *yaml.Node, imageUser string) (map[string]any, error) {
	user, group := idName{"", "any"}, idName{"", "any"}
	for _, f := range []struct {
		key string
		out *idName
	}{{"runAsUser", &user}, {"runAsGroup", &group}} {
		v := py(getCI(sc, f.key))
		switch {
		case v.kind == pyNone:
		case v.kind == pyInt && v.i.Sign() >= 0:
			*f.out = idName{v.i.String(), "id"}
		default:
			return nil, at("."+f.key, fmt.Errorf("%w: want a non-negative integer", ErrInvalid))
		}
	}
	if user.strategy == "any" && group.strategy == "any" && imageUser != "" {
		u, g, hasGroup := strings.Cut(imageUser, ":")
		user = idName{u, idStrategy(u)}
		if hasGroup {
			group = idName{g, idStrategy(g)}
		}
	}
	return userJSON(user, group), nil
}

func idStrategy(s string) string {
	if isDigits(s) {
		return "id"
	}
	return "name"
}

// capabilitiesOf is extract_capabilities: the default set for privileged or
// unprivileged containers, plus add (not to ambient, nor to inheritable
// unless privileged), minus drop, each list de-duplicated and sorted. Names
// are used verbatim: Kubernetes' NET_ADMIN stays NET_ADMIN.
func capabilitiesOf(sc *yaml.Node, privileged bool) (map[string]any, error) {
	sets := map[string][]string{"ambient": {}, "inheritable": {}}
	added := []string{"bounding", "effective", "permitted"}
	base := unprivilegedCaps
	if privileged {
		added = append(added, "inheritable")
		base = privilegedCaps
	}
	for _, k := range added {
		sets[k] = slices.Clone(base)
	}
	if caps := py(getCI(sc, "capabilities")); caps.truthy() {
		if caps.kind != pyDict {
			return nil, fmt.Errorf("%w: not a mapping", ErrInvalid)
		}
		add, err := stringList(getCI(caps.node, "add"))
		if err != nil {
			return nil, at(".add", err)
		}
		for _, k := range added {
			sets[k] = append(sets[k], add...)
		}
		drop, err := stringList(getCI(caps.node, "drop"))
		if err != nil {
			return nil, at(".drop", err)
		}
		for k, list := range sets {
			sets[k] = slices.DeleteFunc(list, func(c string) bool { return slices.Contains(drop, c) })
		}
	}
	out := map[string]any{}
	for k, list := range sets {
		slices.Sort(list)
		out[k] = slices.Compact(list)
	}
	return out, nil
}

// seccompOf is extract_seccomp_profile_sha256 on the VN2 path.
func seccompOf(sc *yaml.Node) (string, error) {
	v := py(getCI(sc, "seccompProfile"))
	switch v.kind {
	case pyStr:
		return seccompSHA256(v.s)
	case pyDict:
		if t := py(get(v.node, "type")); t.kind == pyStr && t.s == "Localhost" {
			return "", fmt.Errorf("type Localhost: %w: confcom has no profile JSON for it on this path; give the profile as a base64 string", ErrUnsupported)
		}
	}
	return "", nil
}
