package fn

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoConfig is returned when a run is given no config: no --config, no
// functionConfig in the ResourceList and no $COCOFY_CONFIG. cocofy has no
// default target: a pod placed on the wrong one (a Kata runtime class for
// a virtual-node user) would not start where it was meant to.
var ErrNoConfig = errors.New("no config: cocofy does not guess where the pods go")

// noConfigError is ErrNoConfig with how to give a config and the smallest
// config of each target.
func noConfigError() error {
	var b strings.Builder
	b.WriteString(`; give one with --config FILE, with $` + EnvConfig + `=FILE (Helm 4 plugins), or as the functionConfig
(kpt fn eval --fn-config FILE or -- target=pod-sandbox; a kustomize transformer is its own config).
The smallest config for each target:
`)
	for _, t := range []struct{ what, spec string }{
		{"AKS Pod Sandboxing (Kata VM isolation)", "{target: pod-sandbox}"},
		{"Confidential Containers with Contrast", "{target: contrast}"},
		{"AKS virtual nodes on Confidential ACI, with CCE policies", "{target: virtual-node}"},
		{"any other runtime class", "{target: custom, runtimeClassName: my-class}"},
	} {
		b.WriteString("\n  # " + t.what + "\n  apiVersion: " + APIVersion + "\n  kind: " + Kind + "\n  spec: " + t.spec + "\n")
	}
	return fmt.Errorf("%w%s", ErrNoConfig, strings.TrimSuffix(b.String(), "\n"))
}
