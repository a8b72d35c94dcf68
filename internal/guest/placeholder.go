package guest

import (
	"regexp"
	"slices"
	"strings"
)

// Values known only at run time (a fieldRef to status.podIP or to a
// controller's pod name, a ConfigMap that is not in the stream) are given a
// placeholder in the model: "{cocofy-runtime:NAME}" for variable NAME. A
// policy rule NAME=.* matches it; a literal rule does not.
const (
	placeholderOpen  = "{cocofy-runtime:"
	placeholderClose = "}"
)

var placeholderRE = regexp.MustCompile(regexp.QuoteMeta(placeholderOpen) + `([^}]*)` + regexp.QuoteMeta(placeholderClose))

// Placeholder is the model's value of variable name when it is known only
// at run time.
func Placeholder(name string) string { return placeholderOpen + name + placeholderClose }

// RuntimeRefs returns the names of the variables whose run-time values s
// contains, in order of appearance, each once.
func RuntimeRefs(s string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// Pattern returns an RE2 pattern that matches s with every run-time value
// in it matching any text: the form of an env rule for a value that is
// partly known.
func Pattern(s string) string {
	var b strings.Builder
	last := 0
	for _, loc := range placeholderRE.FindAllStringIndex(s, -1) {
		b.WriteString(regexp.QuoteMeta(s[last:loc[0]]))
		b.WriteString(".*")
		last = loc[1]
	}
	b.WriteString(regexp.QuoteMeta(s[last:]))
	return b.String()
}
