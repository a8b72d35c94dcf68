package guest

import (
	"regexp"
	"slices"
	"strings"
)

// Values known only at run time (a fieldRef to status.podIP or to a
// controller's pod name, a ConfigMap that is not in the stream) are given a
// placeholder in the model: "{cocofy-runtime:NAME}" for variable NAME, or
// "{cocofy-runtime/CLASS:NAME}" when its source says what form the value
// takes (see Class). A policy rule NAME=.* matches it; a literal rule does
// not.
const (
	placeholderOpen  = "{cocofy-runtime"
	placeholderClose = "}"
)

var placeholderRE = regexp.MustCompile(regexp.QuoteMeta(placeholderOpen) + `(?:/([a-z0-9-]+))?:([^}]*)` + regexp.QuoteMeta(placeholderClose))

// Class is the form a run-time value takes, by its source.
type Class string

// Classes of run-time values. ClassAny is a value of no known form.
const (
	ClassAny Class = ""
	// ClassDNSSubdomain: a pod's or a node's name (RFC 1123 subdomain).
	ClassDNSSubdomain Class = "dns-subdomain"
	// ClassDNSLabel: a namespace (RFC 1123 label).
	ClassDNSLabel Class = "dns-label"
	// ClassIP: status.podIP, status.hostIP (IPv4 or IPv6).
	ClassIP Class = "ip"
	// ClassIPs: status.podIPs, status.hostIPs (IPs joined with commas).
	ClassIPs Class = "ips"
	// ClassUUID: metadata.uid.
	ClassUUID Class = "uuid"
	// ClassLabelValue: a label's value.
	ClassLabelValue Class = "label-value"
	// ClassInteger: a resourceFieldRef of a limit that is not set.
	ClassInteger Class = "integer"
)

const (
	dnsLabel = `[a-z0-9](?:[-a-z0-9]*[a-z0-9])?`
	ipRE     = `(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-fA-F]*:[0-9a-fA-F:.]*)`
)

// pattern gives class its RE2 pattern, and a value of that form that
// verify replays in its place; ok is false for ClassAny.
func (c Class) pattern() (pattern, sample string, ok bool) {
	switch c {
	case ClassDNSSubdomain:
		return dnsLabel + `(?:\.` + dnsLabel + `)*`, "cocofy-runtime-value", true
	case ClassDNSLabel:
		return dnsLabel, "cocofy-runtime-value", true
	case ClassIP:
		return ipRE, "192.0.2.1", true
	case ClassIPs:
		return ipRE + `(?:,` + ipRE + `)*`, "192.0.2.1", true
	case ClassUUID:
		return `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`, "00000000-0000-4000-8000-000000000000", true
	case ClassLabelValue:
		return `(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?`, "cocofy-runtime-value", true
	case ClassInteger:
		return `[0-9]+`, "1", true
	}
	return "", "", false
}

// FieldClass is the form of a downward-API fieldRef's value.
func FieldClass(path string) Class {
	switch path {
	case "metadata.name", "spec.nodeName":
		return ClassDNSSubdomain
	case "metadata.namespace":
		return ClassDNSLabel
	case "metadata.uid":
		return ClassUUID
	case "status.podIP", "status.hostIP":
		return ClassIP
	case "status.podIPs", "status.hostIPs":
		return ClassIPs
	}
	if strings.HasPrefix(path, "metadata.labels[") {
		return ClassLabelValue
	}
	return ClassAny
}

// Placeholder is the model's value of variable name when it is known only
// at run time and its form is not known.
func Placeholder(name string) string { return ClassPlaceholder(name, ClassAny) }

// ClassPlaceholder is the model's value of variable name when it is known
// only at run time, in the form class.
func ClassPlaceholder(name string, class Class) string {
	if class == ClassAny {
		return placeholderOpen + ":" + name + placeholderClose
	}
	return placeholderOpen + "/" + string(class) + ":" + name + placeholderClose
}

// RuntimeRefs returns the names of the variables whose run-time values s
// contains, in order of appearance, each once.
func RuntimeRefs(s string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[2]) {
			out = append(out, m[2])
		}
	}
	return out
}

// Pattern returns an RE2 pattern that matches s with every run-time value
// in it matching the narrowest pattern its source allows (a pod IP an IP,
// a pod name a DNS subdomain), and any text only when its form is not
// known: the form of an env rule for a value that is partly known. So
// -Dinstance=$(POD_NAME) admits -Dinstance=web-0, not -Dinstance=x
// -javaagent:/tmp/evil.jar.
func Pattern(s string) string {
	var b strings.Builder
	last := 0
	for _, loc := range placeholderRE.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(regexp.QuoteMeta(s[last:loc[0]]))
		class := Class("")
		if loc[2] >= 0 {
			class = Class(s[loc[2]:loc[3]])
		}
		if pattern, _, ok := class.pattern(); ok {
			b.WriteString("(?:" + pattern + ")")
		} else {
			b.WriteString(".*")
		}
		last = loc[1]
	}
	b.WriteString(regexp.QuoteMeta(s[last:]))
	return b.String()
}

// Sample replaces the run-time values in s whose form is known with a
// value of that form, as verify replays them against a policy; the others
// stay placeholders (they match only a rule that admits any text).
func Sample(s string) string {
	if !strings.Contains(s, placeholderOpen) {
		return s
	}
	return placeholderRE.ReplaceAllStringFunc(s, func(p string) string {
		m := placeholderRE.FindStringSubmatch(p)
		if _, sample, ok := Class(m[1]).pattern(); ok {
			return sample
		}
		return p
	})
}
