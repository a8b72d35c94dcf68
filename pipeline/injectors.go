package pipeline

import (
	"slices"
	"strings"
)

// injector is a mutating admission webhook that adds containers, env or
// volumes to the pods that ask for it, after cocofy has written their CCE
// policy: the guest then denies the pod. docs/policy.md lists them.
type injector struct {
	// key is the pod-template annotation or label that asks for injection;
	// a key ending in "-" is a prefix (OpenTelemetry's inject-<language>).
	key string
	// label: the key is read from labels as well as annotations.
	label bool
	// on are the values that turn injection on; nil: any value but "false".
	on []string
	// off is the value that turns injection off.
	off string
	// name and adds say who injects what, for the message.
	name, adds string
}

// parseBool are the values Go's strconv.ParseBool reads as true (lower
// case), as the Vault and Consul injectors read their annotations.
var parseBool = []string{"1", "t", "true"}

// injectors are the well-known webhooks, with the values each reads as "on"
// (from its source: Istio's and Dapr's truthy lists, Linkerd's modes). Azure Workload Identity
// (azure.workload.identity/use) is not one of them: the policy already
// allows what it adds (internal/guest, internal/ccpolicy).
var injectors = []injector{
	{key: "vault.hashicorp.com/agent-inject", off: "false", on: parseBool, name: "the Vault Agent injector", adds: "the vault-agent-init and vault-agent containers and their volumes"},
	{key: "sidecar.istio.io/inject", off: "false", label: true, on: []string{"y", "yes", "true", "on"}, name: "Istio", adds: "the istio-init and istio-proxy containers and their volumes"},
	{key: "linkerd.io/inject", off: "disabled", on: []string{"enabled", "ingress"}, name: "Linkerd", adds: "the linkerd-init and linkerd-proxy containers and their volumes"},
	{key: "dapr.io/enabled", off: "false", on: []string{"y", "yes", "true", "on", "1"}, name: "Dapr", adds: "the daprd sidecar container and its env"},
	{key: "consul.hashicorp.com/connect-inject", off: "false", on: parseBool, name: "Consul", adds: "the consul-connect-inject-init and envoy sidecar containers and their volumes"},
	{key: "openservicemesh.io/sidecar-injection", off: "disabled", label: true, on: []string{"enabled", "yes", "true"}, name: "Open Service Mesh", adds: "the osm-init and envoy containers"},
	{key: "kuma.io/sidecar-injection", off: "disabled", label: true, on: []string{"enabled", "true"}, name: "Kuma", adds: "the kuma-init and kuma-sidecar containers"},
	{key: "sidecar.opentelemetry.io/inject", off: "false", name: "the OpenTelemetry Operator", adds: "an otc-container collector sidecar"},
	{key: "instrumentation.opentelemetry.io/inject-", off: "false", name: "the OpenTelemetry Operator", adds: "an instrumentation init container, env (OTEL_*, JAVA_TOOL_OPTIONS, ...) and a volume in each container"},
	{key: "admission.datadoghq.com/enabled", off: "false", label: true, on: []string{"true"}, name: "the Datadog admission controller", adds: "env (DD_AGENT_HOST, DD_ENTITY_ID, ...) and volumes"},
}

// checkInjectors warns about a pod template that asks a well-known webhook
// to change it after rendering, when the pod gets a CCE policy.
func (p *Pipeline) checkInjectors(w *Workload, rep *Report) {
	if !p.opts.AttachPolicy() {
		return
	}
	sources := []struct {
		field string
		m     map[string]string
	}{{"annotations", w.Template.GetAnnotations()}, {"labels", w.Template.GetLabels()}}
	for _, src := range sources {
		keys := make([]string, 0, len(src.m))
		for k := range src.m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			in, ok := injectorFor(k, src.m[k], src.field == "labels")
			if !ok {
				continue
			}
			rep.Warn(w, w.Field("metadata", src.field, k),
				"%s: %q asks %s to add %s to the pod when it is created, after cocofy wrote its CCE policy, which does not list them: the guest would deny the pod; render what it injects into the chart instead, or turn injection off for this pod (%s: %q)",
				k, src.m[k], in.name, in.adds, k, in.off)
		}
	}
}

// injectorFor returns the injector that key: value turns on.
func injectorFor(key, value string, label bool) (injector, bool) {
	for _, in := range injectors {
		if label && !in.label {
			continue
		}
		if key != in.key && !(strings.HasSuffix(in.key, "-") && strings.HasPrefix(key, in.key)) {
			continue
		}
		on := value != "false"
		if in.on != nil {
			on = slices.Contains(in.on, strings.ToLower(value))
		}
		return in, on
	}
	return injector{}, false
}
