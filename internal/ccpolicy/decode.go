package ccpolicy

import (
	"encoding/base64"
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
