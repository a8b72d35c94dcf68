package guest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	oci "github.com/opencontainers/runtime-spec/specs-go"
	"k8s.io/apimachinery/pkg/api/resource"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/podspec"
)

// Label and annotation keys of the Azure workload identity webhook, which
// mutates pods at admission, before ACI sees them.
const (
	labelWorkloadIdentity          = "azure.workload.identity/use"
	annotationWorkloadIdentitySkip = "azure.workload.identity/skip-containers"
)

// Paths and sources of the mounts ACI adds to every virtual-node container.
const (
	emptyDirSource          = "sandbox:///tmp/atlas/emptydir/"
	serviceAccountPath      = "/var/run/secrets/kubernetes.io/serviceaccount"
	workloadIdentityPath    = "/var/run/secrets/azure/tokens"
	defaultTerminationPath  = "/dev/termination-log"
	workloadIdentityFile    = workloadIdentityPath + "/azure-identity-token"
	workloadIdentityVolume  = "azure-identity-token"
	placeholderKubernetesIP = "10.0.0.1"
)

// thimValues are what VN2 substitutes at pod creation for an env value that
// is exactly one of these markers (virtualnodesOnAzureContainerInstances
// Docs/PodCustomizations.md; example values from there).
var thimValues = map[string]string{
	"===VIRTUALNODE2.CC.THIM.ENDPOINT===": "http://169.254.128.1:2377/metadata/THIM/amd/certification",
	"===VIRTUALNODE2.CC.THIM.ADDRESS===":  "169.254.128.1:2377",
}

// Receive returns what ACI's virtual node hands to the guest for each
// container of pod, init containers first, each with the image facts images
// holds for its image string exactly as written, and with ConfigMap and
// Secret values from objects (seen from pod.Namespace). The pause container
// is not included: [Pause] is.
//
// It follows the kubelet and the CRI where the policy generator (confcom)
// takes shortcuts, so that a policy built on those shortcuts is denied here
// as it would be in ACI: the pod's workingDir wins over the image's, $(VAR)
// in command, args and env values is expanded, envFrom is honoured,
// capability names get the runtime's CAP_ prefix, fsGroup and
// supplementalGroups are additional groups. The package documentation lists
// the assumptions about ACI.
//
// It fails with [ErrNoFacts] when an image has no facts or no layer root
// hashes, and with [ErrUnsupported] for a Localhost seccomp profile; the
// error names the container's field.
func Receive(pod podspec.Pod, images map[string]image.Facts, objects podspec.Objects) ([]Container, error) {
	t, err := pod.Typed()
	if err != nil {
		return nil, err
	}
	b := builder{pod: t, namespace: pod.Namespace, objects: objects, isPod: pod.Kind == "Pod"}
	var out []Container
	for _, group := range []struct {
		field      string
		containers []podspec.Container
	}{
		{"spec.initContainers", t.Spec.InitContainers},
		{"spec.containers", t.Spec.Containers},
	} {
		for _, pc := range group.containers {
			field := fmt.Sprintf("%s[name=%s]", group.field, pc.Name)
			c, err := b.container(pc, images)
			if err != nil {
				return nil, fmt.Errorf("%s.%w", field, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// builder turns one pod's containers into [Container]s.
type builder struct {
	pod       *podspec.Template
	namespace string
	objects   podspec.Objects
	// isPod is set when the template is a Pod, whose name is known; a
	// controller's pods get generated names.
	isPod bool
}

func (b builder) container(pc podspec.Container, images map[string]image.Facts) (Container, error) {
	facts, ok := images[pc.Image]
	if !ok {
		return Container{}, fmt.Errorf("image: %w for %q", ErrNoFacts, pc.Image)
	}
	if !facts.HasRootHashes() {
		return Container{}, fmt.Errorf("image: %w: %q has no layer root hashes", ErrNoFacts, pc.Image)
	}
	c := Container{Name: pc.Name}
	for _, l := range facts.Layers {
		c.Layers = append(c.Layers, l.RootHash)
	}

	sc := pc.SecurityContext
	if sc == nil {
		sc = &podspec.SecurityContext{}
	}
	c.Privileged = sc.Privileged != nil && *sc.Privileged
	c.NoNewPrivileges = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	c.Capabilities = capabilities(c.Privileged, sc.Capabilities)

	kubeEnv, unresolved := b.env(pc)
	c.Unresolved = unresolved
	c.Env = b.processEnv(facts.Config.Env, kubeEnv)
	c.Command = command(pc, facts.Config, kubeEnv)

	c.WorkingDir = pc.WorkingDir
	if c.WorkingDir == "" {
		c.WorkingDir = facts.Config.WorkingDir
	}
	if c.WorkingDir == "" {
		c.WorkingDir = "/"
	}

	c.Mounts = b.mounts(pc)
	c.ExecProcesses = execProcesses(pc)
	c.User, c.Groups = b.user(sc, facts.Config.User)
	c.Umask = "0022"

	seccomp, err := b.seccomp(sc)
	if err != nil {
		return Container{}, err
	}
	c.SeccompProfileSHA256 = seccomp
	return c, nil
}

// envVar is one variable of an ordered environment.
type envVar struct{ name, value string }

// envList is an environment in which setting a name again replaces its value
// in place, as containerd's WithEnv does. Names are indexed, so that a pod
// of 40,000 variables takes linear time.
type envList struct {
	vars []envVar
	at   map[string]int // name -> position in vars
}

func (l *envList) set(name, value string) {
	if i, ok := l.at[name]; ok {
		l.vars[i].value = value
		return
	}
	if l.at == nil {
		l.at = map[string]int{}
	}
	l.at[name] = len(l.vars)
	l.vars = append(l.vars, envVar{name, value})
}

// setDefault sets name unless it is set.
func (l *envList) setDefault(name, value string) {
	if _, ok := l.at[name]; !ok {
		l.set(name, value)
	}
}

func (l envList) lookup(name string) (string, bool) {
	if i, ok := l.at[name]; ok {
		return l.vars[i].value, true
	}
	return "", false
}

func (l envList) strings() []string {
	out := make([]string, len(l.vars))
	for i, v := range l.vars {
		out[i] = v.name + "=" + v.value
	}
	return out
}

// env returns the environment the kubelet computes for pc (envFrom, env
// with $(VAR) expanded, then the service variables it does not set), and the
// references it could not resolve.
func (b builder) env(pc podspec.Container) (envList, []string) {
	var env envList
	var unresolved []string
	for _, from := range pc.EnvFrom {
		kind, name, data, ok := b.envFromData(from)
		if !ok {
			if !from.Optional() {
				unresolved = append(unresolved, fmt.Sprintf("envFrom %s %q", kind, name))
			}
			continue
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			env.set(from.Prefix+k, data[k])
		}
	}
	services := serviceEnv()
	for _, e := range pc.Env {
		value := e.Value
		switch {
		case e.ValueFrom == nil:
			value = expand(value, env, services)
			if v, ok := thimValues[value]; ok {
				value = v
			}
		default:
			v, ok, skip := b.valueFrom(pc, e)
			if skip {
				continue
			}
			if !ok {
				unresolved = append(unresolved, e.Name)
			}
			value = v
		}
		env.set(e.Name, value)
	}
	for _, s := range services.vars {
		env.setDefault(s.name, s.value)
	}
	if b.workloadIdentity(pc.Name) {
		for _, v := range []envVar{
			{"AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000000"},
			{"AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000000"},
			{"AZURE_FEDERATED_TOKEN_FILE", workloadIdentityFile},
			{"AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"},
		} {
			env.setDefault(v.name, v.value)
		}
	}
	return env, unresolved
}

// processEnv is the environment of the container's process: HOSTNAME, then
// the image's Env, then the kubelet's environment, each replacing earlier
// values of the same name (containerd's CRI order), then TERM=xterm unless
// set.
func (b builder) processEnv(imageEnv []string, kubeEnv envList) []string {
	var env envList
	env.set("HOSTNAME", b.hostname())
	for _, e := range imageEnv {
		name, value, _ := strings.Cut(e, "=")
		env.set(name, value)
	}
	for _, v := range kubeEnv.vars {
		env.set(v.name, v.value)
	}
	if _, ok := env.lookup("TERM"); !ok {
		env.set("TERM", "xterm")
	}
	return env.strings()
}

// serviceEnv returns the variables Kubernetes sets for the "kubernetes"
// service in every container, with placeholder values. Other services of the
// namespace (enableServiceLinks) produce variables of the same shapes.
func serviceEnv() envList {
	var l envList
	for _, v := range []envVar{
		{"KUBERNETES_SERVICE_HOST", placeholderKubernetesIP},
		{"KUBERNETES_SERVICE_PORT", "443"},
		{"KUBERNETES_SERVICE_PORT_HTTPS", "443"},
		{"KUBERNETES_PORT", "tcp://" + placeholderKubernetesIP + ":443"},
		{"KUBERNETES_PORT_443_TCP", "tcp://" + placeholderKubernetesIP + ":443"},
		{"KUBERNETES_PORT_443_TCP_PROTO", "tcp"},
		{"KUBERNETES_PORT_443_TCP_PORT", "443"},
		{"KUBERNETES_PORT_443_TCP_ADDR", placeholderKubernetesIP},
	} {
		l.set(v.name, v.value)
	}
	return l
}

// envFromData returns the variables of one envFrom source, false when its
// object is not known.
func (b builder) envFromData(from podspec.EnvFromSource) (kind, name string, data map[string]string, ok bool) {
	switch {
	case from.ConfigMapRef != nil:
		data, ok = b.objects.ConfigMapData(b.namespace, from.ConfigMapRef.Name)
		return "configMap", from.ConfigMapRef.Name, data, ok
	case from.SecretRef != nil:
		data, ok = b.objects.SecretData(b.namespace, from.SecretRef.Name)
		return "secret", from.SecretRef.Name, data, ok
	}
	return "", "", nil, false
}

// valueFrom resolves env[].valueFrom. ok is false when the value is a
// placeholder; skip is true when Kubernetes would not set the variable (an
// optional reference to a missing key).
func (b builder) valueFrom(pc podspec.Container, e podspec.EnvVar) (value string, ok, skip bool) {
	placeholder := Placeholder(e.Name)
	vf := e.ValueFrom
	switch {
	case vf.ConfigMapKeyRef != nil:
		data, found := b.objects.ConfigMapData(b.namespace, vf.ConfigMapKeyRef.Name)
		return keyRef(data, found, vf.ConfigMapKeyRef, placeholder)
	case vf.SecretKeyRef != nil:
		data, found := b.objects.SecretData(b.namespace, vf.SecretKeyRef.Name)
		return keyRef(data, found, vf.SecretKeyRef, placeholder)
	case vf.FieldRef != nil:
		if v, ok := b.field(vf.FieldRef.FieldPath); ok {
			return v, true, false
		}
		return ClassPlaceholder(e.Name, FieldClass(vf.FieldRef.FieldPath)), false, false
	case vf.ResourceFieldRef != nil:
		if v, ok := resourceValue(pc, b.pod.Spec, vf.ResourceFieldRef); ok {
			return v, true, false
		}
		return ClassPlaceholder(e.Name, ClassInteger), false, false
	}
	return placeholder, false, false
}

func keyRef(data map[string]string, found bool, ref *podspec.KeySelector, placeholder string) (value string, ok, skip bool) {
	if v, has := data[ref.Key]; found && has {
		return v, true, false
	}
	if ref.Optional != nil && *ref.Optional {
		// An optional reference to a missing object or key: the kubelet
		// leaves the variable out.
		return "", true, true
	}
	return placeholder, false, false
}

// field resolves a downward-API fieldRef from what the template says.
func (b builder) field(path string) (string, bool) {
	m := b.pod.Metadata
	switch path {
	case "metadata.name":
		return m.Name, b.isPod && m.Name != ""
	case "metadata.namespace":
		if m.Namespace != "" {
			return m.Namespace, true
		}
		return b.namespace, b.namespace != ""
	case "spec.serviceAccountName":
		if b.pod.Spec.ServiceAccountName == "" {
			return "default", true
		}
		return b.pod.Spec.ServiceAccountName, true
	}
	for prefix, values := range map[string]map[string]string{"metadata.labels": m.Labels, "metadata.annotations": m.Annotations} {
		if rest, ok := strings.CutPrefix(path, prefix+"['"); ok {
			if key, ok := strings.CutSuffix(rest, "']"); ok {
				v, found := values[key]
				return v, found
			}
		}
	}
	// metadata.uid, spec.nodeName, status.podIP, ...: known only at run time.
	return "", false
}

// resourceValue computes a resourceFieldRef the kubelet's way: the quantity
// divided by the divisor (default 1), rounded up. A limit that is not set
// defaults to the node's allocatable, which is unknown here.
func resourceValue(pc podspec.Container, spec podspec.Spec, ref *podspec.ResourceFieldSelector) (string, bool) {
	target := pc
	if ref.ContainerName != "" && ref.ContainerName != pc.Name {
		i := slices.IndexFunc(spec.Containers, func(c podspec.Container) bool { return c.Name == ref.ContainerName })
		if i < 0 {
			return "", false
		}
		target = spec.Containers[i]
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok {
		return "", false
	}
	list := target.Resources.Limits
	if kind == "requests" {
		list = target.Resources.Requests
		if _, set := list[name]; !set {
			// The API server defaults requests to limits.
			list = target.Resources.Limits
		}
	}
	q, set := list[name]
	if !set {
		if kind == "requests" {
			return "0", true
		}
		return "", false
	}
	divisor := resource.MustParse("1")
	if ref.Divisor != nil && !ref.Divisor.IsZero() {
		divisor = *ref.Divisor
	}
	if name == "cpu" {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), true
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), true
}

// command applies Kubernetes' command/args semantics to the image's
// Entrypoint and Cmd, expanding $(VAR) in command and args with the
// kubelet's environment.
func command(pc podspec.Container, config image.Config, env envList) []string {
	var out []string
	switch {
	case len(pc.Command) > 0:
		out = append(out, expandAll(pc.Command, env)...)
		out = append(out, expandAll(pc.Args, env)...)
	case len(pc.Args) > 0:
		out = append(out, config.Entrypoint...)
		out = append(out, expandAll(pc.Args, env)...)
	default:
		out = append(out, config.Entrypoint...)
		out = append(out, config.Cmd...)
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// execProcesses lists the exec probes and lifecycle hooks of a container
// (see ExecProcess).
func execProcesses(pc podspec.Container) []ExecProcess {
	static := envList{}
	for _, e := range pc.Env {
		static.set(e.Name, e.Value) // valueFrom: "", as the kubelet's map of Value
	}
	hooks := []struct {
		name  string
		h     *podspec.Handler
		probe bool
	}{
		{"livenessProbe", pc.LivenessProbe, true},
		{"readinessProbe", pc.ReadinessProbe, true},
		{"startupProbe", pc.StartupProbe, true},
	}
	if l := pc.Lifecycle; l != nil {
		hooks = append(hooks, []struct {
			name  string
			h     *podspec.Handler
			probe bool
		}{{"lifecycle.postStart", l.PostStart, false}, {"lifecycle.preStop", l.PreStop, false}}...)
	}
	var out []ExecProcess
	for _, k := range hooks {
		if k.h == nil || k.h.Exec == nil || len(k.h.Exec.Command) == 0 {
			continue
		}
		cmd := k.h.Exec.Command
		if k.probe {
			cmd = expandAll(cmd, static)
		}
		out = append(out, ExecProcess{Hook: k.name, Written: k.h.Exec.Command, Command: cmd})
	}
	return out
}

func expandAll(in []string, env envList) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, env)
	}
	return out
}

// expand replaces $(NAME) with the value of NAME in the first of envs that
// sets it and $$ with $, leaving unknown references as written
// (k8s.io/kubernetes third_party/forked/golang/expansion).
func expand(s string, envs ...envList) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var buf strings.Builder
	checkpoint := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			continue
		}
		buf.WriteString(s[checkpoint:i])
		rest := s[i+1:]
		advance := 1
		switch rest[0] {
		case '$':
			buf.WriteByte('$')
		case '(':
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				buf.WriteString("$(")
				break
			}
			name := rest[1:end]
			value, found := "", false
			for _, env := range envs {
				if value, found = env.lookup(name); found {
					break
				}
			}
			if !found {
				value = "$(" + name + ")"
			}
			buf.WriteString(value)
			advance = end + 1
		default:
			buf.WriteByte('$')
			buf.WriteByte(rest[0])
		}
		i += advance
		checkpoint = i + 1
	}
	buf.WriteString(s[checkpoint:])
	return buf.String()
}

// mounts returns the container's mounts as ACI sends them: every volume as
// a sandbox mount below /tmp/atlas/emptydir, read-only for configMap,
// secret, downwardAPI and projected volumes, for a read-only volume source,
// or for readOnly: true; then the mounts the platform adds unless the
// container mounts something at that path itself.
func (b builder) mounts(pc podspec.Container) []Mount {
	var out []Mount
	has := func(dst string) bool {
		return slices.ContainsFunc(out, func(m Mount) bool { return m.Destination == dst })
	}
	if b.workloadIdentity(pc.Name) && !slices.ContainsFunc(pc.VolumeMounts, func(m podspec.VolumeMount) bool { return m.MountPath == workloadIdentityPath }) {
		out = append(out, EmptyDir(workloadIdentityVolume, workloadIdentityPath, true))
	}
	for _, vm := range pc.VolumeMounts {
		source := vm.Name
		if vm.SubPath != "" {
			source += "/" + vm.SubPath
		}
		out = append(out, EmptyDir(source, vm.MountPath, vm.ReadOnly || b.readOnlyVolume(vm.Name)))
	}
	automount := b.pod.Spec.AutomountServiceAccountToken == nil || *b.pod.Spec.AutomountServiceAccountToken
	if automount && !has(serviceAccountPath) {
		out = append(out, EmptyDir("kube-api-access", serviceAccountPath, true))
	}
	termination := pc.TerminationMessagePath
	if termination == "" {
		termination = defaultTerminationPath
	}
	for _, m := range []Mount{
		EmptyDir("kube-hosts", "/etc/hosts", false),
		EmptyDir("kube-termination-log", termination, false),
		EmptyDir("hostname", "/etc/hostname", false),
		EmptyDir("dns-resolve", "/etc/resolv.conf", false),
	} {
		if !has(m.Destination) {
			out = append(out, m)
		}
	}
	return out
}

// readOnlyVolume reports whether Kubernetes mounts the named volume
// read-only whatever the VolumeMount says.
func (b builder) readOnlyVolume(name string) bool {
	i := slices.IndexFunc(b.pod.Spec.Volumes, func(v podspec.Volume) bool { return v.Name == name })
	if i < 0 {
		return false
	}
	for kind, raw := range b.pod.Spec.Volumes[i].Sources {
		switch kind {
		case "configMap", "secret", "downwardAPI", "projected":
			return true
		}
		var src struct {
			ReadOnly bool `json:"readOnly"`
		}
		if json.Unmarshal(raw, &src) == nil && src.ReadOnly {
			return true
		}
	}
	return false
}

// EmptyDir returns the bind mount ACI makes on a virtual node for a pod
// volume at destination: every volume kind arrives as a sandbox mount below
// /tmp/atlas/emptydir, which is what confcom's policies allow.
func EmptyDir(volume, destination string, readOnly bool) Mount {
	mode := "rw"
	if readOnly {
		mode = "ro"
	}
	return Mount{
		Destination: destination,
		Source:      emptyDirSource + volume,
		Type:        "bind",
		Options:     []string{"rbind", "rshared", mode},
	}
}

func (b builder) workloadIdentity(container string) bool {
	if b.pod.Metadata.Labels[labelWorkloadIdentity] != "true" {
		return false
	}
	skip := strings.Split(b.pod.Metadata.Annotations[annotationWorkloadIdentitySkip], ";")
	return !slices.Contains(skip, container)
}

func (b builder) hostname() string {
	switch {
	case b.pod.Spec.Hostname != "":
		return b.pod.Spec.Hostname
	case b.isPod && b.pod.Metadata.Name != "":
		return b.pod.Metadata.Name
	}
	return "pod"
}

// user returns the process user and groups: runAsUser and runAsGroup
// (container over pod), else the image's User; the root group when no group
// is known; then fsGroup and supplementalGroups.
func (b builder) user(sc *podspec.SecurityContext, imageUser string) (IDName, []IDName) {
	psc := b.pod.Spec.SecurityContext
	if psc == nil {
		psc = &podspec.PodSecurityContext{}
	}
	runAsUser, runAsGroup := psc.RunAsUser, psc.RunAsGroup
	if sc.RunAsUser != nil {
		runAsUser = sc.RunAsUser
	}
	if sc.RunAsGroup != nil {
		runAsGroup = sc.RunAsGroup
	}
	root := IDName{ID: "0", Name: "root"}
	user, group := root, root
	imgUser, imgGroup, hasGroup := strings.Cut(imageUser, ":")
	switch {
	case runAsUser != nil:
		user = numericIDName(*runAsUser)
	case imgUser != "":
		user = idOrName(imgUser)
	}
	switch {
	case runAsGroup != nil:
		group = numericIDName(*runAsGroup)
	case runAsUser == nil && hasGroup && imgGroup != "":
		group = idOrName(imgGroup)
	}
	groups := []IDName{group}
	// The kubelet lists fsGroup first, then supplementalGroups.
	var extra []int64
	if psc.FSGroup != nil {
		extra = append(extra, *psc.FSGroup)
	}
	extra = append(extra, psc.SupplementalGroups...)
	for _, gid := range extra {
		g := numericIDName(gid)
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	return user, groups
}

func numericIDName(id int64) IDName {
	if id == 0 {
		return IDName{ID: "0", Name: "root"}
	}
	return IDName{ID: strconv.FormatInt(id, 10)}
}

// idOrName reads an image's user or group: digits are an id, anything else
// a name (the guest would look the other half up in the image).
func idOrName(s string) IDName {
	if id, err := strconv.ParseUint(s, 10, 32); err == nil {
		return numericIDName(int64(id))
	}
	if s == "root" {
		return IDName{ID: "0", Name: "root"}
	}
	return IDName{Name: s}
}

// capabilities returns the sets the runtime gives the container: all for a
// privileged one; else containerd's defaults with SecurityContext
// capabilities applied the way containerd's CRI does (add ALL, drop ALL,
// then each name upper-cased with CAP_ prepended).
func capabilities(privileged bool, sc *podspec.CapabilityChanges) *Capabilities {
	if privileged {
		return DefaultCapabilities(true)
	}
	if sc == nil || (len(sc.Add) == 0 && len(sc.Drop) == 0) {
		return DefaultCapabilities(false)
	}
	set := slices.Clone(unprivilegedCapabilities)
	if containsFold(sc.Add, "ALL") {
		set = slices.Clone(privilegedCapabilities)
	}
	if containsFold(sc.Drop, "ALL") {
		set = nil
	}
	for _, c := range sc.Add {
		if name := capName(c); name != "" && !slices.Contains(set, name) {
			set = append(set, name)
		}
	}
	for _, c := range sc.Drop {
		if name := capName(c); name != "" {
			set = slices.DeleteFunc(set, func(s string) bool { return s == name })
		}
	}
	if set == nil {
		set = []string{}
	}
	return &Capabilities{
		Bounding:    slices.Clone(set),
		Effective:   slices.Clone(set),
		Inheritable: []string{},
		Permitted:   slices.Clone(set),
		Ambient:     []string{},
	}
}

// capName is containerd's spelling of a Kubernetes capability name, "" for
// ALL.
func capName(c string) string {
	if strings.EqualFold(c, "ALL") {
		return ""
	}
	return "CAP_" + strings.ToUpper(c)
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// seccomp returns the guest's measure of the container's seccomp profile:
// "" for none, RuntimeDefault or Unconfined (no profile reaches the guest,
// which is what confcom assumes), the sha256 of the OCI JSON for confcom's
// base64-encoded profile string. A Localhost profile is unsupported.
func (b builder) seccomp(sc *podspec.SecurityContext) (string, error) {
	raw := sc.SeccompProfile
	if len(raw) == 0 || string(raw) == "null" {
		if psc := b.pod.Spec.SecurityContext; psc != nil {
			raw = psc.SeccompProfile
		}
	}
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var encoded string
	if json.Unmarshal(raw, &encoded) == nil {
		profile, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			return "", fmt.Errorf("securityContext.seccompProfile: %w", err)
		}
		var s oci.LinuxSeccomp
		if err := json.Unmarshal(profile, &s); err != nil {
			return "", fmt.Errorf("securityContext.seccompProfile: %w", err)
		}
		return measureSeccomp(&s)
	}
	var typed struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &typed); err != nil {
		return "", fmt.Errorf("securityContext.seccompProfile: %w", err)
	}
	if typed.Type == "Localhost" {
		return "", fmt.Errorf("securityContext.seccompProfile: %w: type Localhost (the profile is on the node)", ErrUnsupported)
	}
	return "", nil
}

// measureSeccomp is the guest's measure of a seccomp profile: the sha256 of
// its JSON encoding (securitypolicy.MeasureSeccompProfile; a test compares
// them).
func measureSeccomp(s *oci.LinuxSeccomp) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("measuring seccomp profile: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
