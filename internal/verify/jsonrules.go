package verify

import (
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// OPA's Rego parser takes about 2 ms for the JSON data of a generated
// policy; encoding/json takes a tenth of that. Rego reads JSON text the
// same way (its strings are JSON strings, its numbers keep their text), so
// a rule written at the start of a line as `name := <JSON>`, up to the next
// such line, is decoded as JSON and the parser is given `name := null` in
// its place, with the same lines. Anything else, and JSON with a duplicate
// key, is left to the parser. So is a number that is not certainly one
// OPA's parser accepts: it refuses numbers whose binary exponent exceeds
// 1e5 (rego_parse_error: number too big), which encoding/json takes, and
// the guest could not load a policy holding one, used or not.

// ruleStart matches a line that starts a complete rule.
var ruleStart = regexp.MustCompile(`^([a-z_][a-z0-9_]*) := `)

// regoKeywords cannot name a rule.
var regoKeywords = []string{"as", "contains", "default", "else", "every", "false", "if", "import", "in", "not", "null", "package", "some", "true", "with"}

// jsonRules returns text with the value of each rule written as JSON
// replaced by null, and those values by rule name.
func jsonRules(text string) (string, map[string]any) {
	lines := strings.SplitAfter(text, "\n")
	values := map[string]any{}
	var out strings.Builder
	for i := 0; i < len(lines); {
		m := ruleStart.FindStringSubmatch(lines[i])
		if m == nil || slices.Contains(regoKeywords, m[1]) {
			out.WriteString(lines[i])
			i++
			continue
		}
		end := i + 1
		for end < len(lines) && !startsStatement(lines[end]) {
			end++
		}
		value := strings.TrimPrefix(strings.Join(lines[i:end], ""), m[0])
		v, ok := decodeJSON(value)
		// The parser keeps the bytes of a string without escapes as they
		// are; encoding/json would replace invalid UTF-8.
		ok = ok && utf8.ValidString(value)
		if _, seen := values[m[1]]; !ok || seen {
			out.WriteString(strings.Join(lines[i:end], ""))
			i = end
			continue
		}
		values[m[1]] = v
		// The same lines, so that the parser's line numbers hold.
		out.WriteString(m[0] + "null" + strings.Repeat("\n", strings.Count(value, "\n")))
		i = end
	}
	return out.String(), values
}

// startsStatement reports whether line begins a rule, an import, a package
// or a comment at the start of the line, or is blank.
func startsStatement(line string) bool {
	return ruleStart.MatchString(line) || strings.HasPrefix(line, "import ") || strings.HasPrefix(line, "package ") ||
		strings.HasPrefix(line, "#") || strings.TrimSpace(line) == ""
}

// decodeJSON decodes one JSON value, numbers as json.Number (as OPA keeps
// them); ok is false for anything else, trailing text or a key given twice.
func decodeJSON(s string) (any, bool) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	// Each member of an object has the only colon outside strings: a key
	// given twice is one member fewer than colons.
	return v, members(v) == colons(s) && smallNumbers(v)
}

// maxNumberLength bounds the numbers decoded here: a number of at most 20
// characters without an exponent is far below 2^1e5, the largest OPA's
// parser takes. Longer numbers and exponents are the parser's to judge.
const maxNumberLength = 20

// smallNumbers reports whether every number in v is certainly one OPA's
// parser accepts.
func smallNumbers(v any) bool {
	switch v := v.(type) {
	case json.Number:
		return len(v) <= maxNumberLength && !strings.ContainsAny(string(v), "eE")
	case []any:
		for _, e := range v {
			if !smallNumbers(e) {
				return false
			}
		}
	case map[string]any:
		for _, e := range v {
			if !smallNumbers(e) {
				return false
			}
		}
	}
	return true
}

func members(v any) int {
	n := 0
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			n += members(e)
		}
	case map[string]any:
		n += len(v)
		for _, e := range v {
			n += members(e)
		}
	}
	return n
}

// colons counts the colons of valid JSON text outside its strings.
func colons(s string) int {
	n, inString := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case c == ':' && !inString:
			n++
		}
	}
	return n
}
