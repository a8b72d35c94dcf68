package ccpolicy

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/guest"
	"cocofy.dev/cocofy/internal/podspec"
)

// Quirk is a known difference between confcom's reading of a pod and what
// the Confidential ACI guest receives for it (docs/policy.md has the
// evidence). Where a pod triggers one, confcom's policy field does not
// admit what the guest is asked, and the guest denies the container or
// drops some of its variables.
type Quirk struct {
	// Field is the policy container field that differs.
	Field string
	// Outcome is what the guest does with confcom's value: the framework's
	// reason for denying the container, or "drop" for variables it drops.
	Outcome string
	// Triggers are the pod spec fields that cause it.
	Triggers string
}

// Quirks returns confcom's known mismatches, one per policy field (a copy:
// callers may change it); cocofy corrects exactly these fields in
// CompatGuest.
func Quirks() []Quirk { return slices.Clone(quirks) }

var quirks = []Quirk{
	{"command", "invalid command", "$(VAR) references in command or args: the kubelet expands them, confcom writes them as text"},
	{"env_rules", "drop", "envFrom (the kubelet expands it, confcom ignores it); resourceFieldRef (the kubelet writes ceil(quantity/divisor), confcom the quantity); $(VAR) references in env values"},
	{"working_dir", "invalid working directory", "workingDir: the CRI uses it, confcom always writes the image's"},
	{"capabilities", "capabilities don't match", "securityContext.capabilities: the CRI applies ALL and adds the CAP_ prefix, confcom copies the names"},
	{"user", "invalid user", "fsGroup and supplementalGroups: the CRI adds them as additional groups, confcom lists only the primary group"},
	{"mounts", "invalid mount list", "a volumeClaimTemplates claim with ReadOnlyMany: the kubelet mounts it read-write unless readOnly is set, confcom writes ro"},
	{"exec_processes", "the probe fails, and the container is restarted again and again", "$(VAR) references in exec probe commands: the kubelet expands them with the container's own env values, confcom writes them as text"},
}

// QuirkOf returns the quirk of a policy field.
func QuirkOf(field string) Quirk {
	i := slices.IndexFunc(quirks, func(q Quirk) bool { return q.Field == field })
	if i < 0 {
		return Quirk{Field: field, Outcome: "deny"}
	}
	return quirks[i]
}

// Correction is one field of one container where cocofy writes what the
// guest receives instead of confcom's value.
type Correction struct {
	// Container is the container's name.
	Container string
	// Path is the path, in the workload, of the field that causes the
	// difference, e.g. "spec.template.spec.containers[name=web].workingDir"
	// or, for fsGroup, "spec.template.spec.securityContext".
	Path string
	// Field is the policy field, one of the Quirks' fields.
	Field string
	// Confcom and Cocofy are the field's JSON in confcom's policy and in
	// cocofy's. For env_rules, the rule of one variable ("" for none).
	Confcom, Cocofy string
	// Variable is the environment variable concerned (env_rules only).
	Variable string
	// Detail says why, e.g. "the kubelet expands $(POD_NAMESPACE)".
	Detail string
	// Hidden keeps the values out of Message: the variables of envFrom
	// (a chart's Secrets hold passwords and keys), and any text holding a
	// Secret's value. Results go to stderr and to --results files.
	Hidden bool
}

// Message is the result text: what confcom would write, what the guest
// would do with it, and what cocofy writes.
func (c Correction) Message() string {
	outcome := "the guest would deny the container (" + QuirkOf(c.Field).Outcome + ")"
	switch c.Field {
	case "env_rules":
		outcome = "the guest would drop " + c.Variable
	case "exec_processes":
		outcome = "the guest would deny the probe's exec (" + QuirkOf(c.Field).Outcome + ")"
	}
	confcom, cocofy := c.Confcom, c.Cocofy
	switch {
	case c.Hidden && c.Field == "env_rules":
		if confcom != "" {
			confcom = "a rule for " + c.Variable + " (value not shown)"
		}
		cocofy = "a rule for " + c.Variable + " with the value the guest receives (not shown)"
	case c.Hidden:
		confcom, cocofy = "its "+c.Field+" (not shown: it holds a Secret's value)", "what the guest receives (not shown)"
	}
	if confcom == "" {
		confcom = "no rule for " + c.Variable
	}
	if c.long() {
		confcom = fmt.Sprintf("(%d bytes of JSON)", len(c.Confcom))
		cocofy = "what the guest receives (-v shows both)"
	}
	detail := ""
	if c.Detail != "" {
		detail = " (" + c.Detail + ")"
	}
	return fmt.Sprintf("container %q: confcom would write %s %s; %s%s; cocofy writes %s", c.Container, c.Field, confcom, outcome, detail, cocofy)
}

// maxValues is how long confcom's and cocofy's values may be, together, in
// a correction's message; longer ones are left to Values.
const maxValues = 300

// long reports values too long for Message (a capability set is 1 KB).
func (c Correction) long() bool {
	return !c.Hidden && len(c.Confcom)+len(c.Cocofy) > maxValues
}

// Values gives the values Message leaves out for their length, on two
// lines ("confcom: …", "cocofy: …"); "" when Message shows them, or when
// they are hidden.
func (c Correction) Values() string {
	if !c.long() {
		return ""
	}
	return "confcom: " + c.Confcom + "\ncocofy:  " + c.Cocofy
}

// hideValues marks the corrections whose values Message must not show:
// those of variables set by envFrom, and those whose text holds a value of
// one of the Secrets of objects (a $(VAR) expansion of a Secret's variable).
func hideValues(cs []Correction, objects podspec.Objects) []Correction {
	var secrets []string
	for i := range cs {
		c := &cs[i]
		if c.Field == "env_rules" && strings.HasSuffix(c.Path, ".envFrom") {
			c.Hidden = true
			continue
		}
		if secrets == nil {
			secrets = secretForms(objects) // computed once, when needed
		}
		c.Hidden = slices.ContainsFunc(secrets, func(v string) bool {
			return strings.Contains(c.Confcom, v) || strings.Contains(c.Cocofy, v)
		})
	}
	return cs
}

// secretForms are the non-empty values of the Secrets of objects as they
// can appear in a correction's JSON text: as they are, JSON-escaped (a
// private key's line breaks), and regexp-quoted too (an re2 env rule).
func secretForms(objects podspec.Objects) []string {
	out := []string{}
	for _, v := range objects.SecretValues() {
		for _, f := range []string{v, regexp.QuoteMeta(v)} {
			out = append(out, f, strings.Trim(jsonText(f), `"`))
		}
	}
	return out
}

// Note is something the policy cannot pin although the pod starts.
type Note struct {
	Path, Message string
	// Info marks a note that says what cocofy did rather than what the
	// policy cannot say.
	Info bool
}

// corrector corrects confcom's containers with the guest's, field by field,
// only where the policy would not admit what the guest is asked.
type corrector struct {
	pod         podspec.Pod
	opts        Options
	corrections []Correction
	notes       []Note
	errs        []error
}

// correct edits the policy containers (confcom's order: containers, init
// containers, pause) in place to admit gs (the guest's order: init
// containers, containers).
func (c *corrector) correct(policy []any, gs []guest.Container) error {
	t, err := c.pod.Typed()
	if err != nil {
		return &FieldError{Workload: c.pod.Ref(), Field: c.pod.SpecPath(), Err: err}
	}
	specs := slices.Concat(t.Spec.Containers, t.Spec.InitContainers)
	lists := slices.Concat(slices.Repeat([]string{"containers"}, len(t.Spec.Containers)), slices.Repeat([]string{"initContainers"}, len(t.Spec.InitContainers)))
	gs = slices.Concat(gs[len(t.Spec.InitContainers):], gs[:len(t.Spec.InitContainers)])
	if len(gs) != len(specs) || len(policy) != len(specs)+1 {
		return fmt.Errorf("%s: %w: %d policy containers for %d pod containers", c.pod.Ref(), ErrInternal, len(policy)-1, len(specs))
	}
	for i, spec := range specs {
		pc := policy[i].(map[string]any)
		path := fmt.Sprintf("%s.%s[name=%s]", c.pod.SpecPath(), lists[i], spec.Name)
		c.container(pc, gs[i], spec, path)
	}
	return errors.Join(c.errs...)
}

// envFromErrors are the errors correct reports for envFrom sources that
// are not in the input, found without the policy's containers: Generate
// adds them to the containers' own errors, so that every missing reference
// of a pod is said at once. nil for compat confcom, with
// WildcardMissingRefs, or when the pod cannot be read.
func envFromErrors(pod podspec.Pod, images map[string]image.Facts, objects podspec.Objects, opts Options) error {
	if opts.Compat == CompatConfcom || opts.WildcardMissingRefs {
		return nil
	}
	t, err := pod.Typed()
	if err != nil {
		return nil
	}
	gs, err := guest.Receive(pod, images, objects)
	if err != nil || len(gs) != len(t.Spec.Containers)+len(t.Spec.InitContainers) {
		return nil
	}
	c := corrector{pod: pod, opts: opts}
	init := len(t.Spec.InitContainers)
	for i, gc := range slices.Concat(gs[init:], gs[:init]) {
		list, specs, j := "containers", t.Spec.Containers, i
		if j >= len(specs) {
			list, specs, j = "initContainers", t.Spec.InitContainers, j-len(specs)
		}
		for _, from := range gc.Unresolved {
			if strings.HasPrefix(from, "envFrom ") {
				c.missingEnvFrom(from, fmt.Sprintf("%s.%s[name=%s]", pod.SpecPath(), list, specs[j].Name))
			}
		}
	}
	return errors.Join(c.errs...)
}

// container corrects one container's fields.
func (c *corrector) container(pc map[string]any, gc guest.Container, spec podspec.Container, path string) {
	first := len(c.corrections)
	c.command(pc, gc, spec, path)
	c.env(pc, gc, spec, path)
	if wd, _ := pc["working_dir"].(string); wd != gc.WorkingDir {
		c.set(pc, "working_dir", gc.WorkingDir, Correction{Path: path + ".workingDir"})
	}
	c.capabilities(pc, gc, path)
	c.user(pc, gc)
	c.mounts(pc, gc, spec, path)
	c.execProcesses(pc, gc, path)
	for i := first; i < len(c.corrections); i++ {
		c.corrections[i].Container = spec.Name
	}
}

// set replaces a policy field and records the correction.
func (c *corrector) set(pc map[string]any, field string, value any, corr Correction) {
	corr.Field = field
	corr.Confcom = jsonText(pc[field])
	corr.Cocofy = jsonText(value)
	pc[field] = value
	c.corrections = append(c.corrections, corr)
}

// command: the kubelet expands $(VAR) in command and args; a value known
// only at run time cannot be pinned, as commands are matched exactly.
func (c *corrector) command(pc map[string]any, gc guest.Container, spec podspec.Container, path string) {
	confcom, _ := pc["command"].([]string)
	if slices.Equal(confcom, gc.Command) {
		return
	}
	field := "command"
	if len(references(spec.Command)) == 0 {
		field = "args"
	}
	var runtime []string
	for _, arg := range gc.Command {
		runtime = append(runtime, guest.RuntimeRefs(arg)...)
	}
	if len(runtime) > 0 {
		hint := ""
		if slices.ContainsFunc(spec.Env, func(e podspec.EnvVar) bool {
			return slices.Contains(runtime, e.Name) && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace"
		}) {
			hint = "; for metadata.namespace, set the workload's namespace or spec.namespace in cocofy's config"
		}
		c.errs = append(c.errs, &FieldError{Workload: c.pod.Ref(), Field: path + "." + field, Err: fmt.Errorf(
			"%w: $(%s) %s known only at run time, and the CCE policy matches commands exactly, so the guest would deny the container; read the variable inside the container instead (e.g. command: [sh, -c, 'exec app --flag=\"$%s\"'])%s",
			ErrUnsupported, strings.Join(runtime, "), $("), isAre(len(runtime)), runtime[0], hint)})
		return
	}
	c.set(pc, "command", slices.Clone(gc.Command), Correction{Path: path + "." + field,
		Detail: "the kubelet expands " + strings.Join(references(slices.Concat(spec.Command, spec.Args)), ", ")})
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

var referenceRE = regexp.MustCompile(`\$\$|\$\([^)]*\)`)

// references lists the $(VAR) references in texts, each once.
func references(texts []string) []string {
	var out []string
	for _, t := range texts {
		for _, m := range referenceRE.FindAllString(t, -1) {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// env gives every variable of the guest's environment that no rule admits
// a rule of its own: the guest would drop it otherwise.
func (c *corrector) env(pc map[string]any, gc guest.Container, spec podspec.Container, path string) {
	rules, _ := pc["env_rules"].([]any)
	for _, from := range gc.Unresolved {
		if strings.HasPrefix(from, "envFrom ") {
			c.missingEnvFrom(from, path)
		}
	}
	index := newEnvIndex(rules)
	specEnv := map[string]int{} // name -> first spec.Env entry
	for i, e := range spec.Env {
		if _, ok := specEnv[e.Name]; !ok {
			specEnv[e.Name] = i
		}
	}
	for _, kv := range gc.Env {
		if index.admits(kv) {
			continue
		}
		name, value, _ := strings.Cut(kv, "=")
		rule := map[string]any{"pattern": kv, "required": false, "strategy": "string"}
		if len(guest.RuntimeRefs(value)) > 0 {
			rule = map[string]any{"pattern": "^" + regexp.QuoteMeta(name) + "=" + guest.Pattern(value) + "$", "required": false, "strategy": "re2"}
		}
		corr := Correction{Field: "env_rules", Variable: name, Cocofy: jsonText(rule)}
		field, detail := envCause(spec, specEnv, name)
		corr.Path, corr.Detail = path+"."+field, detail
		if replaced, ok := index.set(name, rule); ok {
			corr.Confcom = jsonText(replaced)
		}
		c.corrections = append(c.corrections, corr)
	}
	pc["env_rules"] = index.rules
}

// missingEnvFrom: the variables of an envFrom source that is not in the
// stream cannot be listed, and the guest would drop them.
func (c *corrector) missingEnvFrom(what, path string) {
	source := strings.TrimPrefix(what, "envFrom ")
	consequence := "its variables cannot be listed in the CCE policy, so the guest would start the container without them"
	if !c.opts.WildcardMissingRefs {
		c.errs = append(c.errs, &FieldError{Workload: c.pod.Ref(), Field: path + ".envFrom", Err: fmt.Errorf("%s %w: %s; add it to the input, or set policy.wildcardMissingRefs to accept that", source, ErrNotFound, consequence)})
		return
	}
	c.notes = append(c.notes, Note{Path: path + ".envFrom", Message: source + " is not in the input: " + consequence + " (policy.wildcardMissingRefs is set)"})
}

// envCause names the spec field that sets variable name (specEnv gives the
// first entry of each name in spec.Env), and why confcom's rule misses it.
func envCause(spec podspec.Container, specEnv map[string]int, name string) (field, detail string) {
	i, ok := specEnv[name]
	if !ok {
		return "envFrom", "the kubelet sets the variables of envFrom; confcom ignores envFrom"
	}
	e := spec.Env[i]
	field = "env[name=" + name + "]"
	switch {
	case e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil:
		detail = "the kubelet writes the quantity divided by the divisor, rounded up"
		if e.ValueFrom.ResourceFieldRef.ContainerName != spec.Name {
			detail = "confcom reads a resourceFieldRef only with containerName set to the container itself; " + detail
		}
		return field + ".valueFrom.resourceFieldRef", detail
	case e.ValueFrom == nil && len(references([]string{e.Value})) > 0:
		return field + ".value", "the kubelet expands " + strings.Join(references([]string{e.Value}), ", ")
	}
	return field, "the guest's value differs from confcom's"
}

// admitted reports whether some rule admits NAME=VALUE as the enforcer
// matches env rules: a string rule equals it, an re2 rule matches it
// (OPA's regex.match, unanchored).
func admitted(rules []any, kv string) bool {
	for _, r := range rules {
		m, _ := r.(map[string]any)
		pattern, _ := m["pattern"].(string)
		switch m["strategy"] {
		case "string":
			if pattern == kv {
				return true
			}
		case "re2":
			if re := compiled(pattern); re != nil && re.MatchString(kv) {
				return true
			}
		}
	}
	return false
}

// compiledRE caches compiled re2 env rules: the same patterns (an image's
// and the platform's variables) come back in every pod of a stream, and
// compiling them was most of a policy's correction time.
// At most maxCompiled patterns are kept.
var compiledRE struct {
	sync.Mutex
	m map[string]*regexp.Regexp // nil for a pattern that does not compile
}

const maxCompiled = 4096

// compiled returns pattern compiled, or nil when it does not compile.
func compiled(pattern string) *regexp.Regexp {
	compiledRE.Lock()
	re, ok := compiledRE.m[pattern]
	compiledRE.Unlock()
	if ok {
		return re
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		re = nil
	}
	compiledRE.Lock()
	if compiledRE.m == nil {
		compiledRE.m = map[string]*regexp.Regexp{}
	}
	if len(compiledRE.m) < maxCompiled {
		compiledRE.m[pattern] = re
	}
	compiledRE.Unlock()
	return re
}

// ruleName is the variable name of an env rule: its pattern before '='.
func ruleName(r any) string {
	m, _ := r.(map[string]any)
	p, _ := m["pattern"].(string)
	name, _, _ := strings.Cut(strings.TrimPrefix(p, "^"), "=")
	return name
}

// capabilities: each set must equal the guest's (with capability dropping
// on, the guest denies a smaller request and drops what the policy lacks).
func (c *corrector) capabilities(pc map[string]any, gc guest.Container, path string) {
	caps, _ := pc["capabilities"].(map[string]any)
	g := gc.Capabilities
	if g == nil {
		g = guest.DefaultCapabilities(gc.Privileged)
	}
	want := map[string]any{}
	same := true
	for name, set := range map[string][]string{"ambient": g.Ambient, "bounding": g.Bounding, "effective": g.Effective, "inheritable": g.Inheritable, "permitted": g.Permitted} {
		sorted := slices.Compact(slices.Sorted(slices.Values(set)))
		if sorted == nil {
			sorted = []string{}
		}
		want[name] = sorted
		have, _ := caps[name].([]string)
		if !slices.Equal(slices.Sorted(slices.Values(have)), sorted) {
			same = false
		}
	}
	if !same {
		c.set(pc, "capabilities", want, Correction{Path: path + ".securityContext.capabilities",
			Detail: "the CRI drops ALL and adds CAP_-prefixed names"})
	}
}

// user: every group the guest is asked for must match a group_idnames
// entry; fsGroup and supplementalGroups are additional groups.
func (c *corrector) user(pc map[string]any, gc guest.Container) {
	user, _ := pc["user"].(map[string]any)
	groups, _ := user["group_idnames"].([]any)
	var added []string
	for _, g := range gc.Groups {
		if slices.ContainsFunc(groups, func(e any) bool { return groupMatches(e, g) }) {
			continue
		}
		groups = append(groups, map[string]any{"pattern": g.ID, "strategy": "id"})
		added = append(added, g.ID)
	}
	if len(added) == 0 {
		return
	}
	corrected := map[string]any{}
	for k, v := range user {
		corrected[k] = v
	}
	corrected["group_idnames"] = groups
	c.set(pc, "user", corrected, Correction{Path: c.pod.SpecPath() + ".securityContext",
		Detail: "the CRI adds fsGroup and supplementalGroups " + strings.Join(added, ", ") + " as additional groups"})
}

func groupMatches(entry any, g guest.IDName) bool {
	m, _ := entry.(map[string]any)
	p, _ := m["pattern"].(string)
	switch m["strategy"] {
	case "any":
		return true
	case "id":
		return p == g.ID
	case "name":
		return p == g.Name
	}
	return false
}

// mounts: a mount's read-only flag comes from readOnly only. For each
// mount the guest is asked for, some policy mount at that destination must
// have its options (an unused extra policy mount is harmless); else the
// first one at that destination gets them.
func (c *corrector) mounts(pc map[string]any, gc guest.Container, spec podspec.Container, path string) {
	ms, _ := pc["mounts"].([]any)
	at := func(dst string, opts []string) (first int, match bool) {
		first = -1
		for i, m := range ms {
			pm, _ := m.(map[string]any)
			if d, _ := pm["destination"].(string); d != dst {
				continue
			}
			if first < 0 {
				first = i
			}
			if o, _ := pm["options"].([]string); slices.Equal(o, opts) {
				return first, true
			}
		}
		return first, false
	}
	for _, g := range gc.Mounts {
		i, match := at(g.Destination, g.Options)
		if match || i < 0 {
			continue
		}
		pm, _ := ms[i].(map[string]any)
		corrected := map[string]any{}
		for k, v := range pm {
			corrected[k] = v
		}
		corrected["options"] = slices.Clone(g.Options)
		field := "volumeMounts"
		if k := slices.IndexFunc(spec.VolumeMounts, func(v podspec.VolumeMount) bool { return v.MountPath == g.Destination }); k >= 0 {
			field += "[name=" + spec.VolumeMounts[k].Name + "]"
		}
		c.corrections = append(c.corrections, Correction{Path: path + "." + field, Field: "mounts",
			Confcom: jsonText(pm), Cocofy: jsonText(corrected),
			Detail: "the kubelet mounts " + g.Destination + " " + mode(g.Options) + ": only readOnly makes a mount read-only"})
		ms[i] = corrected
	}
}

// mode is "read-only" or "read-write" for mount options.
func mode(opts []string) string {
	if slices.Contains(opts, "ro") {
		return "read-only"
	}
	return "read-write"
}

// jsonText is v as compact JSON, for messages.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// execProcesses: the kubelet expands $(VAR) in exec probe commands with the
// container's own env values; confcom lists them as written. confcom's
// list is the probes' and hooks' commands (each once, in format 2.x) then
// the debug shells, which stay.
func (c *corrector) execProcesses(pc map[string]any, gc guest.Container, path string) {
	confcom, _ := pc["exec_processes"].([]any)
	prof, err := profileFor(c.opts.Format)
	if err != nil {
		return
	}
	var written, run [][]string
	hook := ""
	for _, e := range gc.ExecProcesses {
		if hook == "" && !slices.Equal(e.Written, e.Command) {
			hook = e.Hook
		}
		written, run = addExec(written, e.Written, prof.dedupeExec), addExec(run, e.Command, prof.dedupeExec)
	}
	if hook == "" || len(written) > len(confcom) {
		return
	}
	want := make([]any, 0, len(confcom))
	for _, cmd := range run {
		want = append(want, map[string]any{"command": cmd, "signals": []int{}})
	}
	want = append(want, confcom[len(written):]...)
	c.set(pc, "exec_processes", want, Correction{Path: path + "." + hook + ".exec.command"})
}

// addExec appends cmd to cmds, unless dedupe and it is there already.
func addExec(cmds [][]string, cmd []string, dedupe bool) [][]string {
	if dedupe && slices.ContainsFunc(cmds, func(c []string) bool { return slices.Equal(c, cmd) }) {
		return cmds
	}
	return append(cmds, cmd)
}
