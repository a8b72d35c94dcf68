package ccpolicy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"cocofy.dev/cocofy/internal/podspec"
)

// configMapValue is confcom's get_value_from_configmap: data[key] if truthy,
// else base64-decoded binaryData[key]. found is false when there is no such
// ConfigMap. confcom crashes when the ConfigMap lacks the key; that is an
// ErrNotFound error here.
func configMapValue(objects podspec.Objects, ns, name, key string) (value string, found bool, err error) {
	cm := objects.ConfigMap(ns, name)
	if cm == nil {
		return "", false, nil
	}
	if has(cm, "data") {
		v := py(get(cm, "data"))
		if v.kind != pyDict {
			return "", true, fmt.Errorf("ConfigMap %q: data: %w: not a mapping", name, ErrInvalid)
		}
		if d := py(get(v.node, key)); d.truthy() {
			// confcom formats the value with str(); Kubernetes turns an
			// integer into the same digits. Other kinds would differ.
			if d.kind != pyStr && d.kind != pyInt {
				return "", true, fmt.Errorf("ConfigMap %q: data.%s: %w: a YAML %s; quote it", name, key, ErrUnsupported, d.kind)
			}
			s, _ := d.str()
			return s, true, nil
		}
	}
	bin := py(get(get(cm, "binaryData"), key))
	if bin.kind != pyStr && has(get(cm, "data"), key) {
		return "", true, fmt.Errorf("ConfigMap %q: key %q %w, which confcom cannot read (%w): it then decodes binaryData[%q], which is missing, and stops with a TypeError; use policy.compat: guest", name, key, errEmptyValue, ErrUnsupported, key)
	}
	if bin.kind != pyStr {
		return "", true, fmt.Errorf("ConfigMap %q has no key %q: %w", name, key, ErrNotFound)
	}
	text, err := decodeText(bin.s)
	if err != nil {
		return "", true, fmt.Errorf("ConfigMap %q: binaryData.%s: %w", name, key, err)
	}
	return text, true, nil
}

// secretValue is confcom's get_value_from_secret: base64-decoded data[key]
// if that is not empty, else stringData[key]. found is false when there is
// no such Secret or neither field has the key. Values never appear in errors.
func secretValue(objects podspec.Objects, ns, name, key string) (value string, found bool, err error) {
	sec := objects.Secret(ns, name)
	if sec == nil {
		return "", false, nil
	}
	if has(sec, "data") && py(get(sec, "data")).kind != pyDict {
		return "", false, fmt.Errorf("Secret %q: data: %w: not a mapping", name, ErrInvalid)
	}
	switch d := py(get(get(sec, "data"), key)); {
	case d.kind == pyStr && d.s != "":
		text, err := decodeText(d.s)
		if err != nil {
			return "", true, fmt.Errorf("Secret %q: data.%s: %w", name, key, err)
		}
		if text != "" {
			return text, true, nil
		}
	case d.truthy():
		return "", true, fmt.Errorf("Secret %q: data.%s: %w: not a string", name, key, ErrInvalid)
	}
	sd := py(get(get(sec, "stringData"), key))
	switch sd.kind {
	case pyNone:
		if has(get(sec, "data"), key) || has(get(sec, "stringData"), key) {
			return "", true, fmt.Errorf("Secret %q: key %q %w, which confcom takes for a missing value (%w): it asks whether to write the wildcard NAME=.*, as -y does; set policy.wildcardMissingRefs to write it, or use policy.compat: guest", name, key, errEmptyValue, ErrUnsupported)
		}
		return "", false, nil
	case pyStr, pyInt:
		s, _ := sd.str()
		return s, true, nil
	}
	return "", true, fmt.Errorf("Secret %q: stringData.%s: %w: a YAML %s; quote it", name, key, ErrUnsupported, sd.kind)
}

// errEmptyValue marks a ConfigMap or Secret key whose value is empty. The
// kubelet sets the variable to "" (what compat guest writes); confcom takes
// the value for a missing one.
var errEmptyValue = errors.New("has an empty value")

// decodeText decodes base64 (ignoring line breaks) to UTF-8 text, as
// confcom's base64.b64decode(...).decode("utf-8") must succeed.
func decodeText(b64 string) (string, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, b64)
	b, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return "", fmt.Errorf("%w: not base64", ErrInvalid)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%w: not UTF-8 text", ErrInvalid)
	}
	return string(b), nil
}
