package ccpolicy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/podspec"
)

// generator derives the containers of one policy, following confcom's
// load_policy_from_virtual_node_yaml_str, UserContainerImage.from_json and
// populate_policy_content_for_all_images, in that order.
type generator struct {
	pod     podspec.Pod
	images  map[string]image.Facts
	objects podspec.Objects
	opts    Options
	prof    profile

	spec    *yaml.Node
	podSC   *yaml.Node
	wi      bool     // azure.workload.identity/use: "true"
	volumes []volume // spec.volumes, then the volume claim templates
	notes   []Note   // what compat guest did where confcom cannot compute
}

// volume is what confcom looks at in a pod volume.
type volume struct {
	name     pyValue
	keys     []string
	readOnly bool // a top-level readOnly key (set for ReadOnlyMany claims)
}

// readOnlyTypes are the volume types confcom always mounts read-only.
var readOnlyTypes = []string{"configMap", "secret", "downwardAPI", "projected"}

func (g *generator) fail(field string, err error) error {
	sub, err := splitField(err)
	return &FieldError{Workload: g.pod.Ref(), Field: field + sub, Err: err}
}

// FieldError is a problem with one field of one workload. Generate returns
// them, joined with errors.Join when there are several.
type FieldError struct {
	// Workload is "Kind namespace/name".
	Workload string
	// Field is the dotted path from the workload's root, e.g.
	// "spec.template.spec.containers[0].env[1].valueFrom".
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Workload + ": " + e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// fieldError puts a field path, relative to the caller's, before an error.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

func at(field string, err error) error { return &fieldError{field, err} }

// splitField separates the field path that at added from the error.
func splitField(err error) (string, error) {
	field := ""
	for {
		fe, ok := err.(*fieldError)
		if !ok {
			return field, err
		}
		field += fe.field
		err = fe.err
	}
}

// containers returns the policy's containers: the regular containers, the
// init containers, then the pause container.
func (g *generator) containers() ([]any, error) {
	tmpl := g.pod.Template.YNode()
	if g.pod.Template == nil || tmpl == nil {
		return nil, fmt.Errorf("%s: %w: no pod template", g.pod.Ref(), ErrInvalid)
	}
	specPath := g.pod.SpecPath()
	g.spec = getCI(tmpl, "spec")
	if !py(g.spec).truthy() {
		return nil, g.fail(specPath, fmt.Errorf("%w: missing", ErrInvalid))
	}
	g.podSC = getCI(g.spec, "securityContext")

	labels := getCI(getCI(tmpl, "metadata"), "labels")
	wi := py(get(labels, "azure.workload.identity/use"))
	g.wi = wi.kind == pyStr && wi.s == "true"

	for _, v := range items(getCI(g.spec, "volumes")) {
		g.volumes = append(g.volumes, volume{
			name:     py(getCI(v, "name")),
			keys:     keys(v),
			readOnly: py(get(v, "readOnly")).truthy(),
		})
	}
	if vct := g.pod.ClaimTemplates; vct != nil {
		for _, t := range items(vct.YNode()) {
			ro := false
			for _, m := range items(getCI(getCI(t, "spec"), "accessModes")) {
				if v := py(m); v.kind == pyStr && v.s == "ReadOnlyMany" {
					ro = true
				}
			}
			g.volumes = append(g.volumes, volume{
				name:     py(getCI(getCI(t, "metadata"), "name")),
				keys:     []string{"name"},
				readOnly: ro,
			})
		}
	}

	regular := items(getCI(g.spec, "containers"))
	if len(regular) == 0 {
		return nil, g.fail(specPath+".containers", fmt.Errorf("%w: no containers", ErrInvalid))
	}
	out := []any{}
	var errs []error
	for i, list := range [][]*yaml.Node{regular, items(getCI(g.spec, "initContainers"))} {
		field := specPath + ".containers"
		if i == 1 {
			field = specPath + ".initContainers"
		}
		for j, c := range list {
			name := py(getCI(c, "name"))
			path := fmt.Sprintf("%s[%d]", field, j)
			if name.kind == pyStr {
				path = fmt.Sprintf("%s[name=%s]", field, name.s)
			}
			m, err := g.container(c, path)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, m)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return append(out, g.pause()), nil
}

// container derives one user container: which image, then the fields in
// confcom's order.
func (g *generator) container(c *yaml.Node, path string) (map[string]any, error) {
	ref, facts, name, err := g.image(c, path)
	if err != nil {
		return nil, err
	}
	var errs []error
	fail := func(field string, err error) {
		errs = append(errs, g.fail(path+field, err))
	}
	env, envErrs := g.envRules(c, name, ref, facts, path, fail)
	errs = append(errs, envErrs...)
	command := g.command(c, facts, fail)
	sec := g.security(c, facts, fail)
	mounts := g.mounts(c, sec.containerSC, fail)
	execs := g.execProcesses(c, fail)
	signals, err := g.signals(facts.Config.StopSignal)
	if err != nil {
		fail(".image", fmt.Errorf("%q: %w", ref, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	m := map[string]any{
		"allow_elevated":         sec.privileged,
		"allow_stdio_access":     !g.opts.DisableStdio,
		"capabilities":           sec.capabilities,
		"command":                command,
		"env_rules":              envJSON(env),
		"exec_processes":         execs,
		"id":                     ref,
		"layers":                 rootHashes(facts),
		"mounts":                 mounts,
		"name":                   name,
		"no_new_privileges":      !sec.escalation,
		"seccomp_profile_sha256": sec.seccomp,
		"signals":                signals,
		"user":                   sec.user,
		"working_dir":            workingDir(facts.Config),
	}
	if g.opts.OmitID {
		delete(m, "id")
		if name == ref {
			delete(m, "name")
		}
	}
	return m, nil
}

// image returns a container's image reference, its facts and the
// container's name (the image when it has none).
func (g *generator) image(c *yaml.Node, path string) (ref string, facts image.Facts, name string, err error) {
	img := py(getCI(c, "image"))
	if img.kind != pyStr || img.s == "" {
		return "", facts, "", g.fail(path+".image", fmt.Errorf("%w: missing", ErrInvalid))
	}
	ref = img.s
	if isSidecar(ref) {
		return "", facts, "", g.fail(path+".image", fmt.Errorf("%q is an ACI sidecar image: %w", ref, ErrUnsupported))
	}
	facts, ok := g.images[ref]
	switch {
	case !ok:
		return "", facts, "", g.fail(path+".image", fmt.Errorf("%q: %w", ref, ErrNoImageFacts))
	case !facts.HasRootHashes():
		return "", facts, "", g.fail(path+".image", fmt.Errorf("%q: %w: a layer has no dm-verity root hash", ref, ErrNoImageFacts))
	case facts.OS != "linux" || facts.Architecture != "amd64":
		return "", facts, "", g.fail(path+".image", fmt.Errorf("%q: %w: platform %s/%s, want linux/amd64", ref, ErrUnsupported, facts.OS, facts.Architecture))
	}
	name = ref
	if n := py(getCI(c, "name")); n.truthy() {
		if n.kind != pyStr {
			return "", facts, "", g.fail(path+".name", fmt.Errorf("%w: not a string", ErrInvalid))
		}
		name = n.s
	}
	return ref, facts, name, nil
}

// envRules are the YAML env, workload identity, the image's env, then the
// rules confcom injects into every VN2 container, each name once.
// The YAML env's errors are returned; the image's go to fail.
func (g *generator) envRules(c *yaml.Node, name, ref string, facts image.Facts, path string, fail func(string, error)) ([]envRule, []error) {
	env, errs := g.env(c, name, path)
	if g.wi {
		for _, n := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"} {
			env = append(env, envRule{n + "=.+", "re2"})
		}
	}
	env = imageEnv(env, facts, func(e string) {
		fail(".image", fmt.Errorf("%q: %w: image env entry %q has no '='", ref, ErrInvalid, e))
	})
	env = injectEnv(env, injectedEnv)
	return env, errs
}

// command is Kubernetes' command/args over the image's Entrypoint/Cmd, as
// confcom reads them (never nil).
func (g *generator) command(c *yaml.Node, facts image.Facts, fail func(string, error)) []string {
	command, err := stringList(getCI(c, "command"))
	if err != nil {
		fail(".command", err)
	}
	args, err := stringList(getCI(c, "args"))
	if err != nil {
		fail(".args", err)
	}
	switch {
	case len(command) > 0 && len(args) == 0:
	case len(command) > 0:
		command = append(command, args...)
	case len(args) > 0:
		command = append(slices.Clone(facts.Config.Entrypoint), args...)
	default:
		command = append(slices.Clone(facts.Config.Entrypoint), facts.Config.Cmd...)
	}
	if command == nil {
		command = []string{}
	}
	return command
}

// securityFields are what confcom reads from the merged securityContext.
type securityFields struct {
	containerSC  *yaml.Node
	privileged   bool
	escalation   bool
	user         map[string]any
	capabilities map[string]any
	seccomp      string
}

// security reads the pod and container securityContext, shallowly merged
// with the container's keys winning.
func (g *generator) security(c *yaml.Node, facts image.Facts, fail func(string, error)) securityFields {
	f := securityFields{containerSC: getCI(c, "securityContext")}
	sc := mergeMaps(g.podSC, f.containerSC)
	var err error
	if f.privileged, err = privilegedOf(sc); err != nil {
		fail(".securityContext.privileged", err)
	}
	if f.user, err = userOf(sc, facts.Config.User); err != nil {
		fail(".securityContext", err)
	}
	if f.capabilities, err = capabilitiesOf(sc, f.privileged); err != nil {
		fail(".securityContext.capabilities", err)
	}
	if f.seccomp, err = seccompOf(sc); err != nil {
		fail(".securityContext.seccompProfile", err)
	}
	if f.escalation, err = allowPrivilegeEscalationOf(sc); err != nil {
		fail(".securityContext.allowPrivilegeEscalation", err)
	}
	return f
}

// envRule is one env_rules entry; required is always false for user containers.
type envRule struct {
	pattern, strategy string
}

// envNames are the names confcom compares when merging: the text before the
// first '=' of each pattern.
func envNames(rules []envRule) map[string]bool {
	out := make(map[string]bool, len(rules))
	for _, r := range rules {
		name, _, _ := strings.Cut(r.pattern, "=")
		out[name] = true
	}
	return out
}

// injectedEnv are the rules confcom adds to every VN2 user container unless
// the container already has a rule of that name: openGCS, fabric,
// managedIdentity, enableRestart, then default_envs_virtual_node.
var injectedEnv = []struct{ name, value, strategy string }{
	{"TERM", "xterm", "string"},
	{"(?i)(FABRIC)_.+", ".+", "re2"},
	{"HOSTNAME", ".+", "re2"},
	{"T(E)?MP", ".+", "re2"},
	{"FabricPackageFileName", ".+", "re2"},
	{"HostedServiceName", ".+", "re2"},
	{"IDENTITY_API_VERSION", ".+", "re2"},
	{"IDENTITY_HEADER", ".+", "re2"},
	{"IDENTITY_SERVER_THUMBPRINT", ".+", "re2"},
	{"azurecontainerinstance_restarted_by", ".+", "re2"},
	{"[A-Z0-9_]+_SERVICE_HOST", ".+", "re2"},
	{"[A-Z0-9_]+_SERVICE_PORT", ".+", "re2"},
	{"[A-Z0-9_]+_SERVICE_PORT_[A-Z0-9_]+", ".+", "re2"},
	{"[A-Z0-9_]+_PORT", ".+", "re2"},
	{"[A-Z0-9_]+_PORT_[0-9]+_TCP", ".+", "re2"},
	{"[A-Z0-9_]+_PORT_[0-9]+_TCP_PROTO", ".+", "re2"},
	{"[A-Z0-9_]+_PORT_[0-9]+_TCP_PORT", ".+", "re2"},
	{"[A-Z0-9_]+_PORT_[0-9]+_TCP_ADDR", ".+", "re2"},
}

// thimValue matches the VN2 THIM placeholders the runtime replaces, as
// Python's re.match("^===VIRTUALNODE2.CC.THIM.(.+)===$") does ($ also
// matches before a final newline there).
var thimValue = regexp.MustCompile(`^===VIRTUALNODE2.CC.THIM.(.+)===\n?$`)

// env is confcom's process_env_vars_from_yaml for one container.
func (g *generator) env(c *yaml.Node, cname, path string) ([]envRule, []error) {
	var rules []envRule
	var errs []error
	envNode := py(get(c, "env"))
	if envNode.kind == pyNone {
		if has(c, "env") && g.opts.Compat == CompatConfcom {
			// `env:` with no value is an empty list to Kubernetes (and
			// to compat guest), but confcom iterates container.get("env",
			// []), which is None here, and stops with a TypeError.
			return nil, []error{g.fail(path+".env", fmt.Errorf("%w: env is null (env: with no value), which confcom cannot read (it stops with a TypeError and writes no policy); write env: [] or leave it out, or use policy.compat: guest", ErrUnsupported))}
		}
		return nil, nil
	}
	if envNode.kind != pyList {
		return nil, []error{g.fail(path+".env", fmt.Errorf("%w: not a list", ErrInvalid))}
	}
	for i, v := range envNode.node.Content {
		n := py(get(v, "name"))
		if n.kind != pyStr {
			errs = append(errs, g.fail(fmt.Sprintf("%s.env[%d].name", path, i), fmt.Errorf("%w: missing", ErrInvalid)))
			continue
		}
		field := fmt.Sprintf("%s.env[name=%s]", path, n.s)
		rule, ok, err := g.envVar(v, n.s, cname, c, field)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			rules = append(rules, rule)
		}
	}
	return rules, errs
}

func (g *generator) envVar(v *yaml.Node, name, cname string, c *yaml.Node, field string) (envRule, bool, error) {
	wildcard := envRule{name + "=.*", "re2"}
	if has(v, "value") {
		val := py(get(v, "value"))
		if val.kind == pyNone && g.opts.Compat != CompatConfcom {
			// value: with no value is "" to Kubernetes; confcom's
			// re.match raises on None.
			return envRule{name + "=", "string"}, true, nil
		}
		if val.kind == pyNone {
			return envRule{}, false, g.fail(field+".value", fmt.Errorf("%w: the value is null (value: with no value), which confcom cannot read (its re.match raises on None); write value: \"\", or use policy.compat: guest", ErrUnsupported))
		}
		if val.kind != pyStr {
			// confcom's re.match raises on a non-string value.
			return envRule{}, false, g.fail(field+".value", fmt.Errorf("%w: a YAML %s; quote it", ErrUnsupported, val.kind))
		}
		if thimValue.MatchString(val.s) {
			return wildcard, true, nil
		}
		return envRule{name + "=" + val.s, "string"}, true, nil
	}
	if !has(v, "valueFrom") {
		return envRule{}, false, nil
	}
	ref := get(v, "valueFrom")
	switch {
	case has(ref, "configMapKeyRef"):
		return g.keyRef(get(ref, "configMapKeyRef"), name, c, field+".valueFrom.configMapKeyRef", configMapValue, "ConfigMap")
	case has(ref, "secretKeyRef"):
		return g.keyRef(get(ref, "secretKeyRef"), name, c, field+".valueFrom.secretKeyRef", secretValue, "Secret")
	case has(ref, "fieldRef"):
		if !py(get(get(ref, "fieldRef"), "fieldPath")).truthy() {
			return envRule{}, false, nil
		}
		return wildcard, true, nil
	case has(ref, "resourceFieldRef"):
		return g.resourceFieldRef(get(ref, "resourceFieldRef"), name, cname, c, field+".valueFrom.resourceFieldRef")
	}
	return envRule{}, false, nil
}

// keyRef is configMapKeyRef or secretKeyRef: the value from the stream's
// object (read by lookup), else the wildcard with WildcardMissingRefs. A key
// whose value is empty sets the variable to "" (compat guest); confcom
// takes it for a missing value (a Secret's) or stops (a ConfigMap's).
func (g *generator) keyRef(r *yaml.Node, name string, c *yaml.Node, field string, lookup func(podspec.Objects, string, string, string) (string, bool, error), kind string) (envRule, bool, error) {
	obj, key := py(get(r, "name")), py(get(r, "key"))
	if obj.kind != pyStr || key.kind != pyStr {
		return envRule{}, false, g.fail(field, fmt.Errorf("%w: name and key must be strings", ErrInvalid))
	}
	val, found, err := lookup(g.objects, g.pod.Namespace, obj.s, key.s)
	if optional := py(get(r, "optional")); optional.truthy() && g.opts.Compat != CompatConfcom && (!found || errors.Is(err, ErrNotFound)) {
		// The kubelet leaves the variable out; confcom stops here.
		g.notes = append(g.notes, Note{Path: field, Info: true, Message: fmt.Sprintf(
			"%s: the optional %s %q or its key %q is not in the stream: the kubelet leaves %s out, and so does the policy (confcom cannot compute this pod: it stops at such a reference); if the %s is made outside this stream, the guest drops the variable", name, kind, obj.s, key.s, name, kind)})
		return envRule{}, false, nil
	}
	switch {
	case errors.Is(err, errEmptyValue) && g.opts.Compat != CompatConfcom:
		// The key is there with an empty value: the kubelet sets the
		// variable to "", which is what the guest receives.
		return envRule{name + "=", "string"}, true, nil
	case errors.Is(err, errEmptyValue) && kind == "Secret" && g.opts.WildcardMissingRefs:
		return envRule{name + "=.*", "re2"}, true, nil // confcom -y
	case err != nil:
		return envRule{}, false, g.fail(field, err)
	case found:
		return envRule{name + "=" + val, "string"}, true, nil
	case g.opts.WildcardMissingRefs:
		return envRule{name + "=.*", "re2"}, true, nil
	case kind == "Secret" && g.objects.Secret(g.pod.Namespace, obj.s) != nil:
		return envRule{}, false, g.fail(field, fmt.Errorf("Secret %q has no key %q: %w", obj.s, key.s, ErrNotFound))
	}
	remedy := "supply it in the stream"
	if kind == "Secret" {
		remedy = "supply it in the stream, or set the chart's existing-secret value to a Secret you supply"
	}
	wildcard := fmt.Sprintf("for an env value only, policy.wildcardMissingRefs writes %s=.* instead", name)
	if inCommandLine(c, name) {
		wildcard = fmt.Sprintf("$(%s) is also in the container's command line, which needs the value itself (policy.wildcardMissingRefs cannot stand in for it there)", name)
	}
	return envRule{}, false, g.fail(field, &MissingObject{Kind: kind, Name: obj.s, err: fmt.Errorf("%s %q %w: the policy must pin the value, and this render does not have it (a chart often makes it at install time, with a hook Job or lookup): %s; %s", kind, obj.s, ErrNotFound, remedy, wildcard)})
}

// inCommandLine reports whether the container's command or args name
// $(name), which the kubelet expands into the command line ($$(name) is
// an escape, and stays text).
func inCommandLine(c *yaml.Node, name string) bool {
	var texts []string
	for _, key := range []string{"command", "args"} {
		if list := get(c, key); list != nil && list.Kind == yaml.SequenceNode {
			for _, a := range list.Content {
				texts = append(texts, a.Value)
			}
		}
	}
	return slices.Contains(references(texts), "$("+name+")")
}

// resourceFieldRef is the quantity as written, for the container itself
// only (confcom needs containerName; in compat guest the guest's value is
// written instead, as a correction).
func (g *generator) resourceFieldRef(r *yaml.Node, name, cname string, c *yaml.Node, field string) (envRule, bool, error) {
	if cn := py(get(r, "containerName")); cn.kind != pyStr || cn.s != cname {
		if g.opts.Compat != CompatConfcom {
			return envRule{}, false, nil
		}
		got, _ := cn.str()
		return envRule{}, false, g.fail(field+".containerName", fmt.Errorf("%w: %q is not this container (%q): confcom reads a resourceFieldRef only with containerName set to the container itself; set it, or use policy.compat: guest", ErrUnsupported, got, cname))
	}
	res := py(get(r, "resource"))
	parts := strings.Split(res.s, ".")
	if res.kind != pyStr || len(parts) != 2 {
		return envRule{}, false, g.fail(field+".resource", fmt.Errorf("%w: want requests.<name> or limits.<name>", ErrInvalid))
	}
	q := py(get(get(get(c, "resources"), parts[0]), parts[1]))
	if !q.truthy() {
		return envRule{}, false, nil
	}
	if q.kind != pyStr && q.kind != pyInt && q.kind != pyFloat {
		return envRule{}, false, g.fail(field, fmt.Errorf("%w: resources.%s is a YAML %s", ErrInvalid, res.s, q.kind))
	}
	s, _ := q.str()
	return envRule{name + "=" + s, "string"}, true, nil
}

// mount is one entry of a container's mounts.
type mount struct {
	path string
	ro   bool
}

func (m mount) json() map[string]any {
	mode := "rw"
	if m.ro {
		mode = "ro"
	}
	return map[string]any{
		"destination": m.path,
		"options":     []string{"rbind", "rshared", mode},
		"source":      "sandbox:///tmp/atlas/emptydir/.+",
		"type":        "bind",
	}
}

// mounts lists a container's mounts. On VN2 every volume is an emptyDir
// mount, whatever its type.
func (g *generator) mounts(c, containerSC *yaml.Node, fail func(string, error)) []any {
	var ms []mount
	if g.wi {
		ms = append(ms, mount{"/var/run/secrets/azure/tokens", true})
	}
	for i, vm := range items(getCI(c, "volumeMounts")) {
		p := py(getCI(vm, "mountPath"))
		if p.kind != pyStr || p.s == "" {
			fail(fmt.Sprintf(".volumeMounts[%d].mountPath", i), fmt.Errorf("%w: missing", ErrInvalid))
			continue
		}
		name := py(getCI(vm, "name"))
		var vol volume
		for _, v := range g.volumes {
			if v.name.equal(name) {
				vol = v
				break
			}
		}
		ro := vol.readOnly || py(getCI(vm, "readOnly")).truthy()
		for _, k := range vol.keys {
			if slices.Contains(readOnlyTypes, k) {
				ro = true
			}
		}
		ms = append(ms, mount{p.s, ro})
	}
	if v := py(getCI(containerSC, "privileged")); v.kind == pyBool && v.b {
		ms = append(ms, mount{"/sys/fs/cgroup", false}, mount{"/sys", false})
	}
	resolv := mount{"/etc/resolv.conf", false}
	defaults := []mount{
		{"/var/run/secrets/kubernetes.io/serviceaccount", true},
		{"/etc/hosts", false},
		{"/dev/termination-log", false},
		{"/etc/hostname", false},
	}
	if g.prof.resolvConfLast {
		ms = append(append(ms, defaults...), resolv)
	} else {
		if g.prof.resolvConfAlways || !slices.ContainsFunc(ms, func(m mount) bool { return m.path == resolv.path }) {
			ms = append(ms, resolv)
		}
		ms = append(ms, defaults...)
	}
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m.json()
	}
	return out
}

// execProcesses lists the exec probes and lifecycle hooks, then the debug
// shells.
func (g *generator) execProcesses(c *yaml.Node, fail func(string, error)) []any {
	type hook struct {
		field string
		node  *yaml.Node
	}
	lifecycle := getCI(c, "lifecycle")
	hooks := []hook{
		{"livenessProbe", getCI(c, "livenessProbe")},
		{"readinessProbe", getCI(c, "readinessProbe")},
		{"startupProbe", getCI(c, "startupProbe")},
		{"lifecycle.postStart", getCI(lifecycle, "postStart")},
		{"lifecycle.preStop", getCI(lifecycle, "preStop")},
	}
	out := []any{}
	var cmds [][]string
	for _, h := range hooks {
		if !py(h.node).truthy() {
			continue
		}
		ex := getCI(h.node, "exec")
		if !py(ex).truthy() {
			continue // httpGet, tcpSocket, grpc, sleep
		}
		cmdNode := getCI(ex, "command")
		if !py(cmdNode).truthy() {
			fail("."+h.field+".exec.command", fmt.Errorf("%w: missing", ErrInvalid))
			continue
		}
		cmd, err := stringList(cmdNode)
		if err != nil {
			fail("."+h.field+".exec.command", err)
			continue
		}
		// confcom 2.1.1 and later list a command once.
		if g.prof.dedupeExec && slices.ContainsFunc(cmds, func(c []string) bool { return slices.Equal(c, cmd) }) {
			continue
		}
		cmds = append(cmds, cmd)
		out = append(out, map[string]any{"command": cmd, "signals": []int{}})
	}
	if g.opts.Debug {
		for _, sh := range []string{"/bin/sh", "/bin/bash"} {
			p := map[string]any{"command": []string{sh}, "signals": []int{}}
			if g.prof.debugExecStdio {
				p["allow_stdio_access"] = true
			}
			out = append(out, p)
		}
	}
	return out
}

// signals lists the signals the container's init process may receive.
func (g *generator) signals(stop string) ([]int, error) {
	out := slices.Clone(g.prof.defaultSignals)
	if out == nil {
		out = []int{}
	}
	if stop == "" {
		return out, nil
	}
	n, ok := signalNumbers[strings.ToUpper(stop)]
	if !ok {
		// confcom would put the string itself into the policy.
		return nil, fmt.Errorf("%w: stop signal %q is not a SIG name", ErrUnsupported, stop)
	}
	if !g.prof.appendStopSignal {
		return []int{n}, nil
	}
	if !slices.Contains(out, n) {
		out = append(out, n)
	}
	return out, nil
}

// signalNumbers is confcom's config.SIGNALS.
var signalNumbers = map[string]int{
	"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5,
	"SIGABRT": 6, "SIGIOT": 6, "SIGBUS": 7, "SIGFPE": 8, "SIGKILL": 9,
	"SIGUSR1": 10, "SIGSEGV": 11, "SIGUSR2": 12, "SIGPIPE": 13, "SIGALRM": 14,
	"SIGTERM": 15, "SIGSTKFLT": 16, "SIGCHLD": 17, "SIGCONT": 18, "SIGSTOP": 19,
	"SIGTSTP": 20, "SIGTTIN": 21, "SIGTTOU": 22, "SIGURG": 23, "SIGXCPU": 24,
	"SIGXFSZ": 25, "SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28, "SIGIO": 29,
	"SIGPWR": 30, "SIGSYS": 31, "SIGUNUSED": 31,
}

// sidecarImages are confcom's sidecar_base_names: images it treats as ACI
// infrastructure (no injected env or mounts, another template).
var sidecarImages = []string{
	"mcr.microsoft.com/aci/msi-atlas-adapter",
	"mcr.microsoft.com/aci/atlas-mount-azure-file-volume",
	"mcr.microsoft.com/aci/atlas-mount-secrets-volume",
	"mcr.microsoft.com/aci/atlas-netstats",
	"mcr.microsoft.com/aci/atlas-mount-resolv-conf",
	"mcr.microsoft.com/aci/atlas-mount-gitrepo-volume",
	"k8s.gcr.io/pause",
	"mcr.microsoft.com/aci/sc-proxy",
	"mcr.microsoft.com/aci/vk-metrics-sidecar",
	"mcr.microsoft.com/aci/configmaps-adapter-linux",
}

func isSidecar(ref string) bool {
	repo, _, _ := image.Split(ref)
	return slices.Contains(sidecarImages, repo)
}

// stringList reads a list of strings; a missing or empty node is an empty list.
func stringList(n *yaml.Node) ([]string, error) {
	v := py(n)
	if !v.truthy() {
		return nil, nil
	}
	if v.kind != pyList {
		return nil, fmt.Errorf("%w: not a list", ErrInvalid)
	}
	out := make([]string, 0, len(v.node.Content))
	for i, e := range v.node.Content {
		s := py(e)
		if s.kind != pyStr {
			return nil, at(fmt.Sprintf("[%d]", i), fmt.Errorf("%w: a YAML %s; quote it", ErrUnsupported, s.kind))
		}
		out = append(out, s.s)
	}
	return out, nil
}

// pause is confcom's default_containers[0], copied as is: its capabilities
// stay in config order.
func (g *generator) pause() map[string]any {
	caps := func() []string { return slices.Clone(unprivilegedCaps) }
	m := map[string]any{
		"allow_elevated":     false,
		"allow_stdio_access": !g.opts.DisableStdio,
		"capabilities": map[string]any{
			"ambient":     []string{},
			"bounding":    caps(),
			"effective":   caps(),
			"inheritable": []string{},
			"permitted":   caps(),
		},
		"command": []string{"/pause"},
		"env_rules": []any{
			map[string]any{"pattern": "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "required": true, "strategy": "string"},
			map[string]any{"pattern": "TERM=xterm", "required": false, "strategy": "string"},
		},
		"exec_processes":         []any{},
		"layers":                 []string{"16b514057a06ad665f92c02863aca074fd5976c755d26bff16365299169e8415"},
		"mounts":                 []any{},
		"no_new_privileges":      false,
		"seccomp_profile_sha256": "",
		"signals":                slices.Clone(g.prof.pauseSignals),
		"user":                   defaultUser(),
		"working_dir":            "/",
	}
	if g.prof.pauseName {
		m["name"] = "pause-container"
	}
	return m
}
