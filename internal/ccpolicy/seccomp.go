package ccpolicy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
)

// seccompSHA256 is the seccomp_profile_sha256 confcom computes for a
// securityContext.seccompProfile given as a base64 string: the sha256 of the
// profile reduced to the fields hcsshim compares, in a fixed field order,
// serialised compactly without sorting (template_util.process_seccomp_policy).
func seccompSHA256(b64 string) (string, error) {
	text, err := decodeText(b64)
	if err != nil {
		return "", err
	}
	doc, err := parseOrderedJSON(text)
	if err != nil {
		return "", fmt.Errorf("%w: not JSON: %w", ErrInvalid, err)
	}
	profile, ok := doc.(*object)
	if !ok {
		return "", fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	setDefault(profile, "defaultAction", "")
	profile = pick(profile, "defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath", "listenerMetadata", "syscalls")
	if v, ok := profile.get("syscalls"); ok {
		list, ok := v.([]any)
		if !ok {
			return "", fmt.Errorf("syscalls: %w: not a list", ErrInvalid)
		}
		out := []any{}
		for i, s := range list {
			sc, ok := s.(*object)
			if !ok {
				return "", fmt.Errorf("syscalls[%d]: %w: not an object", i, ErrInvalid)
			}
			setDefault(sc, "names", []any{})
			setDefault(sc, "action", "")
			sc = pick(sc, "names", "action", "errnoRet", "args")
			if a, ok := sc.get("args"); ok {
				args, ok := a.([]any)
				if !ok {
					return "", fmt.Errorf("syscalls[%d].args: %w: not a list", i, ErrInvalid)
				}
				outArgs := []any{}
				for j, x := range args {
					arg, ok := x.(*object)
					if !ok {
						return "", fmt.Errorf("syscalls[%d].args[%d]: %w: not an object", i, j, ErrInvalid)
					}
					setDefault(arg, "value", big.NewInt(0))
					setDefault(arg, "op", "")
					setDefault(arg, "index", big.NewInt(0))
					outArgs = append(outArgs, pick(arg, "index", "value", "valueTwo", "op"))
				}
				sc.set("args", outArgs)
			}
			out = append(out, sc)
		}
		profile.set("syscalls", out)
	}
	text, err = plainJSON.encode(profile)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:]), nil
}

// setDefault is dict.setdefault.
func setDefault(o *object, k string, v any) {
	if _, ok := o.get(k); !ok {
		o.set(k, v)
	}
}

// pick returns a new object with those of keys that o has, in that order.
func pick(o *object, keys ...string) *object {
	out := newObject()
	for _, k := range keys {
		if v, ok := o.get(k); ok {
			out.set(k, v)
		}
	}
	return out
}

// parseOrderedJSON parses JSON as Python's json.loads does for re-encoding:
// objects keep their key order (a repeated key keeps its first place and
// takes the last value), integers stay exact (*big.Int) and numbers with a
// fraction or exponent become float64.
func parseOrderedJSON(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("extra data after the JSON value")
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := newObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				o.set(k, v)
			}
			_, err := dec.Token()
			return o, err
		case '[':
			list := []any{}
			for dec.More() {
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token()
			return list, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		s := string(t)
		if strings.ContainsAny(s, ".eE") {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return nil, err
			}
			return f, nil
		}
		i, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, fmt.Errorf("bad number %q", s)
		}
		return i, nil
	default:
		return t, nil // string, bool or nil
	}
}
