package fn

import (
	"fmt"
	"os"
	"strings"
)

// envBool reads the switch $name: 1, true or yes turn it on, 0, false,
// no or nothing leave it off (any case, spaces around ignored). Anything
// else is an error, so that a typo does not silently turn a check off.
func envBool(name string) (bool, error) {
	v := os.Getenv(name)
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes":
		return true, nil
	case "", "0", "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("$%s: must be 1, true or yes (on), or 0, false or no (off), got %q", name, v)
}
