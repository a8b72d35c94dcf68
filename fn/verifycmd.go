package fn

// cocofy verify.

import (
	"github.com/spf13/cobra"

	"cocofy.dev/cocofy/pipeline"
)

// newVerifyCommand is `cocofy verify`: the same input, config and doors as
// the transform, but it only checks.
func newVerifyCommand(deps DepsFunc) *cobra.Command {
	o := &rootOptions{verify: true}
	cmd := &cobra.Command{
		Use:   "verify [-f FILE]... [FILE]...",
		Short: "Check that every selected workload runs as the config says: placed, pinned, sized, and (virtual nodes) with a policy the guest accepts",
		Long: `verify reads resources like cocofy does (a plain stream or a ResourceList,
on stdin or from files, with the same config) and writes them back
unchanged, with results. It checks any stream, rendered by cocofy or not,
against the config's target, for every selected workload: the target's
runtimeClassName (or the virtual node's nodeSelector and toleration), every
image pinned by digest, requests equal to limits where the config makes
them equal. For target virtual-node, every pod the config gives a policy
must carry one (a ` + pipeline.AnnotationCCEPolicy + `
annotation) in the config's policy.format, neither allow-all nor debug
unless the config sets policy.debug; verify replays what the Confidential
ACI guest does to start the pod (mount each layer, mount the overlay,
create each container with the command, env, mounts, user and capabilities
of the pod spec) with hcsshim's own Rego enforcer, reports every container
the guest would deny or change with the framework's reason, and recomputes
the policy from the spec to report the fields that drifted. Any error exits
1 with no stdout.

Use it as a kpt validator (exec: "cocofy verify"), or pipe a render into it.
Not as a kustomize validator: kustomize's validators: field rejects exec
functions that round-trip the resources, even unchanged, so pipe
kustomize build into cocofy verify instead.`,
		Example: `  helm template web ./chart --post-renderer cocofy | cocofy verify --config cocofy.yaml > /dev/null
  kustomize build --enable-alpha-plugins --enable-exec overlay | cocofy verify --config overlay/cocofy.yaml > /dev/null
  cocofy verify --strict --results results.yaml -f rendered/`,
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args, deps)
		},
	}
	o.addFlags(cmd)
	return cmd
}
