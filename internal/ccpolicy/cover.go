package ccpolicy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
)

// CoveringFragment is a trusted, verified policy fragment whose containers
// a policy need not list (see Options.Covering).
type CoveringFragment struct {
	// Import is how a policy imports the fragment.
	Import Fragment
	// Containers are the fragment's containers (data.<namespace>.containers)
	// as JSON values.
	Containers []any
}

// cover leaves out of containers (the last is the pause container, which
// stays) each one a fragment covers, as confcom's
// should_eliminate_container_covered_by_fragments does: a fragment
// container with the same id (the reference, ":latest" when it has no
// tag) or the same name, equal to it in every field but id, layers and
// env_rules, and with the same env rules in any order. It returns the
// containers kept, the names of those left out, and the imports of the
// fragments that covered one, each once, in the order of covering.
func cover(containers []any, covering []CoveringFragment) (kept []any, covered []string, imports []Fragment) {
	if len(covering) == 0 || len(containers) == 0 {
		return containers, nil, nil
	}
	used := make([]bool, len(covering))
	last := len(containers) - 1
	for i, c := range containers {
		m, ok := c.(map[string]any)
		j := -1
		if ok && i < last {
			j = slices.IndexFunc(covering, func(f CoveringFragment) bool { return coversAny(f.Containers, m) })
		}
		if j < 0 {
			kept = append(kept, c)
			continue
		}
		name, _ := m["name"].(string)
		covered = append(covered, name)
		if !used[j] {
			used[j] = true
			imports = append(imports, covering[j].Import)
		}
	}
	return kept, covered, imports
}

// coversAny reports whether one of a fragment's containers covers c.
func coversAny(frag []any, c map[string]any) bool {
	want, ok := canonical(c).(map[string]any)
	if !ok {
		return false
	}
	for _, fc := range frag {
		got, ok := canonical(fc).(map[string]any)
		if ok && sameContainer(got, want) {
			return true
		}
	}
	return false
}

// sameContainer compares a fragment's container with a pod's.
func sameContainer(frag, pod map[string]any) bool {
	fid, _ := frag["id"].(string)
	if fid != "" && !strings.Contains(fid, ":") {
		fid += ":latest"
	}
	pid, _ := pod["id"].(string)
	base, _, _ := strings.Cut(pid, "@")
	if (fid == "" || fid != pid && fid != base) && !reflect.DeepEqual(frag["name"], pod["name"]) {
		return false
	}
	rest := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			if k != "id" && k != "layers" && k != "env_rules" {
				out[k] = v
			}
		}
		return out
	}
	return reflect.DeepEqual(rest(frag), rest(pod)) && reflect.DeepEqual(frag["env_rules"], pod["env_rules"])
}

// canonical is v as JSON reads it back (numbers float64), with every list
// sorted by its elements' JSON, so that order does not count (confcom
// compares with DeepDiff(ignore_order=True)).
func canonical(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil
	}
	return sortLists(out)
}

func sortLists(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = sortLists(x)
		}
	case []any:
		keys := make([][]byte, len(t))
		for i, x := range t {
			t[i] = sortLists(x)
			keys[i], _ = json.Marshal(t[i])
		}
		idx := make([]int, len(t))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
		out := make([]any, len(t))
		for i, j := range idx {
			out[i] = t[j]
		}
		return out
	}
	return v
}
