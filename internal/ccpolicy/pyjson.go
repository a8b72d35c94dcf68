package ccpolicy

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file writes JSON the way Python's json.dumps does with its defaults
// (ensure_ascii=True, allow_nan=True), because confcom serialises the policy
// with json.dumps and the attestation identity is the sha256 of those bytes.
// encoding/json differs in three ways that matter here: it escapes <, > and &,
// it writes non-ASCII characters as UTF-8, and it has no Python-style indent.

// object is a JSON object that keeps its keys in insertion order, for output
// that json.dumps writes without sort_keys (the seccomp profile).
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

// set behaves like assignment to a Python dict: a new key goes to the end, an
// existing key keeps its place and takes the new value.
func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// jsonWriter holds the json.dumps options confcom uses.
type jsonWriter struct {
	sortKeys bool
	indent   bool // indent=2 with separators (",", ": "); else (",", ":")
}

var (
	// compactJSON is print_func: json.dumps(x, separators=(",", ":"), sort_keys=True).
	compactJSON = jsonWriter{sortKeys: true}
	// prettyJSON is pretty_print_func: json.dumps(x, indent=2, sort_keys=True).
	prettyJSON = jsonWriter{sortKeys: true, indent: true}
	// plainJSON is json.dumps(x, separators=(",", ":")) without sort_keys.
	plainJSON = jsonWriter{}
)

// encode returns the JSON text of v, which is built from nil, bool, string,
// int, int64, *big.Int, float64, []string, []int, []any, map[string]any and
// *object. Any other type is an error (a bug in the caller).
func (w jsonWriter) encode(v any) (string, error) {
	var b strings.Builder
	var bad error
	w.value(&b, v, 0, &bad)
	if bad != nil {
		return "", bad
	}
	return b.String(), nil
}

func (w jsonWriter) value(b *strings.Builder, v any, level int, bad *error) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		writeString(b, v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case *big.Int:
		b.WriteString(v.String())
	case float64:
		b.WriteString(jsonFloat(v))
	case []string:
		w.list(b, len(v), level, func(i int) { writeString(b, v[i]) })
	case []int:
		w.list(b, len(v), level, func(i int) { b.WriteString(strconv.Itoa(v[i])) })
	case []any:
		w.list(b, len(v), level, func(i int) { w.value(b, v[i], level+1, bad) })
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		// Python sorts str keys by code point; Go compares UTF-8 bytes,
		// which orders the same way.
		slices.Sort(keys)
		w.dict(b, keys, level, bad, func(k string) any { return v[k] })
	case *object:
		keys := v.keys
		if w.sortKeys {
			keys = slices.Sorted(slices.Values(keys))
		}
		w.dict(b, keys, level, bad, func(k string) any { return v.vals[k] })
	default:
		if *bad == nil {
			*bad = fmt.Errorf("encoding JSON: a value that is none of null, a boolean, a number, a string, a list or a map")
		}
	}
}

func (w jsonWriter) list(b *strings.Builder, n, level int, item func(int)) {
	if n == 0 {
		b.WriteString("[]")
		return
	}
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		w.newline(b, level+1)
		item(i)
	}
	w.newline(b, level)
	b.WriteByte(']')
}

func (w jsonWriter) dict(b *strings.Builder, keys []string, level int, bad *error, val func(string) any) {
	if len(keys) == 0 {
		b.WriteString("{}")
		return
	}
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		w.newline(b, level+1)
		writeString(b, k)
		if w.indent {
			b.WriteString(": ")
		} else {
			b.WriteByte(':')
		}
		w.value(b, val(k), level+1, bad)
	}
	w.newline(b, level)
	b.WriteByte('}')
}

func (w jsonWriter) newline(b *strings.Builder, level int) {
	if !w.indent {
		return
	}
	b.WriteByte('\n')
	for range level {
		b.WriteString("  ")
	}
}

const hexDigits = "0123456789abcdef"

// writeString writes s as Python's ensure_ascii encoder does: the two-letter
// escapes \" \\ \n \r \t \b \f, every other character outside ' '..'~' as
// \uxxxx (lowercase hex, UTF-16 surrogate pairs above U+FFFF), and '/' as is.
// Invalid UTF-8 bytes become \ufffd each, as encoding/json writes them.
func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= ' ' && c <= '~' && c != '"' && c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		switch c {
		case '"':
			b.WriteString(`\"`)
			i++
			continue
		case '\\':
			b.WriteString(`\\`)
			i++
			continue
		case '\n':
			b.WriteString(`\n`)
			i++
			continue
		case '\r':
			b.WriteString(`\r`)
			i++
			continue
		case '\t':
			b.WriteString(`\t`)
			i++
			continue
		case '\b':
			b.WriteString(`\b`)
			i++
			continue
		case '\f':
			b.WriteString(`\f`)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r >= 0x10000 {
			r -= 0x10000
			writeU(b, 0xd800|(r>>10)&0x3ff)
			writeU(b, 0xdc00|r&0x3ff)
			continue
		}
		writeU(b, r)
	}
	b.WriteByte('"')
}

func writeU(b *strings.Builder, r rune) {
	b.WriteString(`\u`)
	b.WriteByte(hexDigits[r>>12&0xf])
	b.WriteByte(hexDigits[r>>8&0xf])
	b.WriteByte(hexDigits[r>>4&0xf])
	b.WriteByte(hexDigits[r&0xf])
}

// jsonFloat is float.__repr__ with json.dumps's names for the non-finite values.
func jsonFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return pyFloatRepr(f)
}

// pyFloatRepr is Python's repr(float) (and str(float)): the shortest digits
// that round-trip, in positional notation when the decimal exponent is in
// (-4, 16], else in exponent notation with a signed exponent of at least two
// digits ("1e+16", "1.5e-05"). Positional values always have a fraction.
func pyFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // e.g. "-1.2345e+06"
	sign := ""
	if e[0] == '-' {
		sign, e = "-", e[1:]
	}
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mant, ".", "", 1)
	decpt := exp + 1 // the decimal point sits after this many digits
	if decpt > -4 && decpt <= 16 {
		switch {
		case decpt <= 0:
			return sign + "0." + strings.Repeat("0", -decpt) + digits
		case decpt >= len(digits):
			return sign + digits + strings.Repeat("0", decpt-len(digits)) + ".0"
		default:
			return sign + digits[:decpt] + "." + digits[decpt:]
		}
	}
	out := sign + digits[:1]
	if len(digits) > 1 {
		out += "." + digits[1:]
	}
	x := exp
	expSign := "+"
	if x < 0 {
		expSign, x = "-", -x
	}
	xs := strconv.Itoa(x)
	if len(xs) < 2 {
		xs = "0" + xs
	}
	return out + "e" + expSign + xs
}
