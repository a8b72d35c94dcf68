package ccpolicy

import (
	"slices"
	"strings"
)

// envIndex finds the env rules that may admit a variable without trying
// each rule on each variable, which made a pod of 40,000 variables take
// minutes. It is exact: every rule that can admit a variable is among its
// candidates, and each candidate is checked as admitted checks it.
//
//   - A "string" rule admits only the variable equal to its pattern.
//   - An re2 rule's matches all contain its literal prefix (regexp's
//     LiteralPrefix); when that holds an "=", its part before the first
//     "=" (NAME) ends right before some "=" of the variable, within the text
//     since the "=" before. The index keys such rules by NAME.
//   - Other re2 rules (no literal prefix, or one without "=") are tried on
//     every variable.
//
// Rules are looked up by position in rules, so that a rule replaced in
// place is checked as it is now.
type envIndex struct {
	rules   []any
	exact   map[string][]int
	byName  map[string][]int
	lengths []int // the distinct lengths of byName's keys
	general []int
	first   map[string]int // ruleName -> position of its first rule
}

func newEnvIndex(rules []any) *envIndex {
	x := &envIndex{rules: rules, exact: map[string][]int{}, byName: map[string][]int{}, first: map[string]int{}}
	for i := range rules {
		x.add(i)
	}
	return x
}

// add indexes rules[i].
func (x *envIndex) add(i int) {
	if _, ok := x.first[ruleName(x.rules[i])]; !ok {
		x.first[ruleName(x.rules[i])] = i
	}
	m, _ := x.rules[i].(map[string]any)
	pattern, _ := m["pattern"].(string)
	switch m["strategy"] {
	case "string":
		x.exact[pattern] = append(x.exact[pattern], i)
	case "re2":
		re := compiled(pattern)
		if re == nil {
			return // admits nothing
		}
		prefix, _ := re.LiteralPrefix()
		name, _, ok := strings.Cut(prefix, "=")
		if !ok {
			x.general = append(x.general, i)
			return
		}
		if len(x.byName[name]) == 0 && !slices.Contains(x.lengths, len(name)) {
			x.lengths = append(x.lengths, len(name))
		}
		x.byName[name] = append(x.byName[name], i)
	}
}

// admits reports whether a rule admits kv, as admitted(x.rules, kv).
func (x *envIndex) admits(kv string) bool {
	check := func(is []int) bool {
		return slices.ContainsFunc(is, func(i int) bool { return admitted(x.rules[i:i+1], kv) })
	}
	if check(x.exact[kv]) || check(x.general) {
		return true
	}
	start := 0
	for p := 0; p < len(kv); p++ {
		if kv[p] != '=' {
			continue
		}
		for _, l := range x.lengths {
			if l <= p-start && check(x.byName[kv[p-l:p]]) {
				return true
			}
		}
		start = p + 1
	}
	return false
}

// set puts rule, the rule of variable name, in place of the first rule of
// that name, or after the others; it returns the rule replaced, if any.
func (x *envIndex) set(name string, rule any) (replaced any, ok bool) {
	if i, found := x.first[name]; found {
		replaced = x.rules[i]
		x.rules[i] = rule
		x.add(i)
		return replaced, true
	}
	x.rules = append(x.rules, rule)
	x.add(len(x.rules) - 1)
	return nil, false
}
