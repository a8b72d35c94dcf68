package ccpolicy

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// confcom reads manifests with PyYAML's safe_load, which follows YAML 1.1:
// an unquoted yes, on or 1.10 is a bool or a float there, and the policy
// holds Python's str() of that value (True, 1.1). kyaml keeps the scalar
// text and style, so this file re-resolves plain scalars the PyYAML way.

// pyKind is the Python type PyYAML's safe_load gives a node.
type pyKind int

const (
	pyNone pyKind = iota
	pyBool
	pyInt
	pyFloat
	pyStr
	pyDate     // datetime.date
	pyDatetime // datetime.datetime
	pyList
	pyDict
	pyUndefined // what safe_load cannot construct: "=", "0x_", 2001-02-30
)

func (k pyKind) String() string {
	return [...]string{"null", "bool", "int", "float", "str", "date", "timestamp", "list", "mapping", "unconstructable scalar"}[k]
}

// pyValue is a node as PyYAML's safe_load sees it.
type pyValue struct {
	kind pyKind
	s    string // pyStr, pyDate, pyDatetime: the text
	b    bool
	i    *big.Int
	f    float64
	node *yaml.Node // pyList, pyDict
}

// PyYAML 6 implicit resolvers (resolver.py), anchored.
var (
	pyBoolRE  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	pyIntRE   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	pyFloatRE = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	pyNullRE  = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	pyDateRE  = regexp.MustCompile(`^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$`)
	pyTimeRE  = regexp.MustCompile(`^[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?$`)
)

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return deref(n.Content[0])
	}
	return n
}

// py returns the value PyYAML would construct for n. A missing node is None.
func py(n *yaml.Node) pyValue {
	n = deref(n)
	if n == nil {
		return pyValue{kind: pyNone}
	}
	switch n.Kind {
	case yaml.MappingNode:
		return pyValue{kind: pyDict, node: n}
	case yaml.SequenceNode:
		return pyValue{kind: pyList, node: n}
	case yaml.ScalarNode:
	default:
		return pyValue{kind: pyNone}
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return pyValue{kind: pyStr, s: n.Value}
	}
	v := pyResolve(n.Value)
	// kyaml writes nodes with yaml.v3, which quotes a !!str scalar that a
	// YAML 1.1 reader would take for something else (a node made in code,
	// such as kyaml's NewStringRNode, is plain in memory). What PyYAML reads
	// is that output, so ask the encoder.
	if v.kind != pyStr && v3Quotes(n) {
		return pyValue{kind: pyStr, s: n.Value}
	}
	return v
}

// v3Quotes reports whether yaml.v3 writes the scalar n in a quoted or block
// style rather than plain.
func v3Quotes(n *yaml.Node) bool {
	out, err := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: n.Tag, Value: n.Value, Style: n.Style})
	if err != nil || len(out) == 0 {
		return false
	}
	switch out[0] {
	case '"', '\'', '|', '>':
		return true
	}
	return false
}

// pyResolve resolves the text of a plain scalar as PyYAML 6 does.
func pyResolve(s string) pyValue {
	switch {
	case s == "=":
		return pyValue{kind: pyUndefined, s: s}
	case pyNullRE.MatchString(s):
		return pyValue{kind: pyNone}
	case pyBoolRE.MatchString(s):
		switch strings.ToLower(s) {
		case "yes", "true", "on":
			return pyValue{kind: pyBool, b: true}
		}
		return pyValue{kind: pyBool}
	case pyFloatRE.MatchString(s):
		return pyValue{kind: pyFloat, f: pyConstructFloat(s)}
	case pyIntRE.MatchString(s):
		if i, ok := pyConstructInt(s); ok {
			return pyValue{kind: pyInt, i: i}
		}
		return pyValue{kind: pyUndefined, s: s} // int() raises, e.g. on "0x_"
	case pyDateRE.MatchString(s):
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return pyValue{kind: pyUndefined, s: s} // datetime.date raises
		}
		return pyValue{kind: pyDate, s: s}
	case pyTimeRE.MatchString(s):
		return pyValue{kind: pyDatetime, s: s}
	}
	return pyValue{kind: pyStr, s: s}
}

// pyConstructInt is SafeConstructor.construct_yaml_int.
func pyConstructInt(s string) (*big.Int, bool) {
	s = strings.ReplaceAll(s, "_", "")
	sign := int64(1)
	if strings.HasPrefix(s, "-") {
		sign = -1
	}
	s = trimSign(s)
	v := new(big.Int)
	var ok bool
	switch {
	case s == "0":
		return v, true
	case strings.HasPrefix(s, "0b"):
		_, ok = v.SetString(s[2:], 2)
	case strings.HasPrefix(s, "0x"):
		_, ok = v.SetString(s[2:], 16)
	case strings.HasPrefix(s, "0"):
		_, ok = v.SetString(s, 8)
	case strings.Contains(s, ":"):
		base := big.NewInt(1)
		sixty := big.NewInt(60)
		parts := strings.Split(s, ":")
		for i := len(parts) - 1; i >= 0; i-- {
			d, okd := new(big.Int).SetString(parts[i], 10)
			if !okd {
				return nil, false
			}
			v.Add(v, d.Mul(d, base))
			base.Mul(base, sixty)
		}
		ok = true
	default:
		_, ok = v.SetString(s, 10)
	}
	if !ok {
		return nil, false
	}
	return v.Mul(v, big.NewInt(sign)), true
}

// pyConstructFloat is SafeConstructor.construct_yaml_float.
func pyConstructFloat(s string) float64 {
	s = strings.ToLower(strings.ReplaceAll(s, "_", ""))
	sign := 1.0
	if strings.HasPrefix(s, "-") {
		sign = -1
	}
	s = trimSign(s)
	switch {
	case s == ".inf":
		return sign * posInf
	case s == ".nan":
		return nan
	case strings.Contains(s, ":"):
		value, base := 0.0, 1.0
		parts := strings.Split(s, ":")
		for i := len(parts) - 1; i >= 0; i-- {
			d, _ := strconv.ParseFloat(parts[i], 64)
			value += d * base
			base *= 60
		}
		return sign * value
	}
	f, _ := strconv.ParseFloat(s, 64) // ErrRange gives ±Inf, as Python's float() does
	return sign * f
}

func trimSign(s string) string {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		return s[1:]
	}
	return s
}

var (
	posInf = math.Inf(1)
	nan    = math.NaN()
)

// truthy is Python's bool(v).
func (v pyValue) truthy() bool {
	switch v.kind {
	case pyNone:
		return false
	case pyBool:
		return v.b
	case pyInt:
		return v.i.Sign() != 0
	case pyFloat:
		return v.f != 0
	case pyStr:
		return v.s != ""
	case pyList, pyDict:
		return len(v.node.Content) > 0
	}
	return true
}

// str is Python's str(v) for the scalar kinds; ok is false for kinds whose
// str() cocofy does not reproduce (timestamps, lists, mappings).
func (v pyValue) str() (s string, ok bool) {
	switch v.kind {
	case pyNone:
		return "None", true
	case pyBool:
		if v.b {
			return "True", true
		}
		return "False", true
	case pyInt:
		return v.i.String(), true
	case pyFloat:
		return pyFloatRepr(v.f), true
	case pyStr, pyDate:
		return v.s, true
	}
	return "", false
}

// equal is Python's == for the values a volume name can take.
func (v pyValue) equal(w pyValue) bool {
	if v.kind != w.kind {
		return false
	}
	switch v.kind {
	case pyNone:
		return true
	case pyBool:
		return v.b == w.b
	case pyInt:
		return v.i.Cmp(w.i) == 0
	case pyFloat:
		return v.f == w.f
	case pyStr, pyDate, pyDatetime:
		return v.s == w.s
	}
	return v.node == w.node
}

// get is dict.get(key) on a mapping node: nil when n is not a mapping or has
// no such key. Of duplicate keys the last wins, as in PyYAML.
func get(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var v *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			v = n.Content[i+1]
		}
	}
	return v
}

// has is `key in n` for a mapping node.
func has(n *yaml.Node, key string) bool {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return true
		}
	}
	return false
}

// getCI is confcom's case_insensitive_dict_get: the exact key if present,
// else the first key that matches ignoring case.
func getCI(n *yaml.Node, key string) *yaml.Node {
	if has(n, key) {
		return get(n, key)
	}
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	lower := strings.ToLower(key)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && strings.ToLower(k.Value) == lower {
			return get(n, k.Value)
		}
	}
	return nil
}

// keys returns the keys of a mapping node in order, without duplicates.
func keys(n *yaml.Node) []string {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && !seen[k.Value] {
			seen[k.Value] = true
			out = append(out, k.Value)
		}
	}
	return out
}

// items returns the elements of a sequence node (nil otherwise).
func items(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}
