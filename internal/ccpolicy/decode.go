package ccpolicy

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Decode returns the policy text of an annotation value (standard base64).
func Decode(annotation string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(annotation))
	if err != nil {
		return "", fmt.Errorf("decoding the policy annotation: %w", err)
	}
	if !utf8.Valid(b) {
		return "", errors.New("decoding the policy annotation: not UTF-8 text")
	}
	return string(b), nil
}

// Containers returns the containers of a policy text (compact or pretty), for
// comparing policies by meaning rather than by bytes. Numbers are
// json.Number.
func Containers(rego string) ([]map[string]any, error) {
	const start = "containers := "
	i := strings.Index(rego, "\n"+start)
	if i < 0 {
		if !strings.HasPrefix(rego, start) {
			return nil, errors.New("reading the policy: no containers := line")
		}
		i = 0
	} else {
		i++
	}
	dec := json.NewDecoder(strings.NewReader(rego[i+len(start):]))
	dec.UseNumber()
	var out []map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("reading the policy's containers: %w", err)
	}
	return out, nil
}
