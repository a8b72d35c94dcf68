package ccpolicy

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/guest"
	"cocofy.dev/cocofy/internal/podspec"
	"cocofy.dev/cocofy/internal/verify"
)

// guestImages are the images of the generated pods: one with a working
// directory, a user and an entrypoint, one bare.
var guestImages = map[string]image.Facts{
	"app": {OS: "linux", Architecture: "amd64",
		Layers: []image.Layer{{RootHash: strings.Repeat("a", 64)}, {RootHash: strings.Repeat("b", 64)}},
		Config: image.Config{Entrypoint: []string{"/entrypoint.sh"}, Cmd: []string{"serve"}, Env: []string{"PATH=/bin", "MODE=image"}, WorkingDir: "/app", User: "1000:1000"}},
	"bare": {OS: "linux", Architecture: "amd64",
		Layers: []image.Layer{{RootHash: strings.Repeat("c", 64)}},
		Config: image.Config{Env: []string{"PATH=/usr/bin:/bin"}}},
}

// guestObjects are the ConfigMap and Secret the generated pods read.
const guestObjects = `apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: shop}
data: {COLOR: blue, PORT: "8080"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: other}
data: {COLOR: red, PORT: "9090"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: shop}
stringData: {TOKEN: s3cret}
`

// A quirk feature adds one trigger of a quirk to a container's YAML
// (indented for a container entry) or to the pod spec.
type quirkFeature struct {
	field     string // the policy field it must change, and only it
	container string
	pod       string
}

var quirkFeatures = map[string]quirkFeature{
	"capabilities add":                   {field: "capabilities", container: "securityContext: {capabilities: {add: [NET_ADMIN]}}"},
	"capabilities drop ALL":              {field: "capabilities", container: "securityContext: {capabilities: {drop: [ALL]}}"},
	"capabilities CAP_ name":             {field: "capabilities", container: "securityContext: {capabilities: {add: [CAP_SYS_TIME], drop: [CAP_MKNOD]}}"},
	"workingDir":                         {field: "working_dir", container: "workingDir: /srv"},
	"envFrom":                            {field: "env_rules", container: "envFrom: [{configMapRef: {name: cfg}, prefix: CFG_}]"},
	"envFrom secret":                     {field: "env_rules", container: "envFrom: [{secretRef: {name: creds}, prefix: S_}]"},
	"resourceFieldRef":                   {field: "env_rules", container: "env: [{name: MEM, valueFrom: {resourceFieldRef: {containerName: CNAME, resource: limits.memory}}}]\nresources: {limits: {memory: 128Mi}}"},
	"resourceFieldRef, no containerName": {field: "env_rules", container: "env: [{name: CPU, valueFrom: {resourceFieldRef: {resource: requests.cpu}}}]\nresources: {limits: {cpu: 250m}}"},
	"$(VAR) in env":                      {field: "env_rules", container: "env: [{name: A, value: x}, {name: B, value: \"$(A)-y\"}]"},
	"$(VAR) in args":                     {field: "command", container: "env: [{name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}]\nargs: [\"--namespace=$(NS)\"]"},
	"$$ escape in command":               {field: "command", container: "command: [echo, \"$$(HOME)\"]"},
	"fsGroup with runAsGroup":            {field: "user", pod: "securityContext: {runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000}"},
	"supplementalGroups":                 {field: "user", pod: "securityContext: {runAsGroup: 3000, supplementalGroups: [4000, 5000]}"},
	"$(VAR) in exec probe":               {field: "exec_processes", container: "env: [{name: PORT, value: \"8080\"}]\nlivenessProbe: {exec: {command: [check, \"--port=$(PORT)\"]}}"},
}

// neutral features change the pod without touching a quirk.
var neutralContainer = []string{
	"env: [{name: GREETING, value: hello}]",
	"env: [{name: COLOR, valueFrom: {configMapKeyRef: {name: cfg, key: COLOR}}}]",
	"env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: creds, key: TOKEN}}}]",
	"env: [{name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]",
	"command: [/bin/app, --port=80]",
	"args: [--verbose]",
	"volumeMounts: [{name: cache, mountPath: /cache}]",
	"volumeMounts: [{name: config, mountPath: /etc/app}]",
	"securityContext: {allowPrivilegeEscalation: false, runAsUser: 1000}",
	"securityContext: {privileged: true}",
	"livenessProbe: {exec: {command: [cat, /tmp/healthy]}}",
	"readinessProbe: {httpGet: {path: /, port: 80}}",
	"lifecycle: {preStop: {exec: {command: [/bin/stop]}}}",
}

// genPod writes a random Deployment in namespace shop: 1 to 3 containers,
// maybe an init container, each with some neutral features, plus the extra
// YAML given for the first container and the pod spec.
func genPod(r *rand.Rand, extraContainer, extraPod string) string {
	var b strings.Builder
	b.WriteString("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    spec:\n")
	b.WriteString("      volumes: [{name: cache, emptyDir: {}}, {name: config, configMap: {name: cfg}}]\n")
	if extraPod != "" {
		b.WriteString("      " + extraPod + "\n")
	}
	container := func(name string, extra string) {
		img := []string{"app", "bare"}[r.IntN(2)]
		fmt.Fprintf(&b, "      - name: %s\n        image: %s\n", name, img)
		used := map[string]bool{}
		for range r.IntN(3) {
			f := neutralContainer[r.IntN(len(neutralContainer))]
			key, _, _ := strings.Cut(f, ":")
			if used[key] || (extra != "" && strings.Contains(extra, key+":")) {
				continue
			}
			used[key] = true
			b.WriteString("        " + f + "\n")
		}
		if extra != "" {
			for _, line := range strings.Split(strings.ReplaceAll(extra, "CNAME", name), "\n") {
				b.WriteString("        " + line + "\n")
			}
		}
	}
	b.WriteString("      containers:\n")
	n := 1 + r.IntN(3)
	for i := range n {
		extra := ""
		if i == 0 {
			extra = extraContainer
		}
		container(fmt.Sprintf("c%d", i), extra)
	}
	if r.IntN(2) == 0 {
		b.WriteString("      initContainers:\n")
		container("init", "")
	}
	return b.String()
}

// generate renders one generated pod in compat mode, with the guest's view.
func generateGuest(t *testing.T, doc, compat string) (Policy, []guest.Container, error) {
	t.Helper()
	nodes := readStream(t, []byte(doc+"---\n"+guestObjects))
	pods := inputs(t, nodes)
	assert.Equal(t, len(pods), 1)
	objects := podspec.ObjectsFrom(nodes)
	p, err := Generate(pods[0], guestImages, objects, Options{Compat: compat})
	if err != nil {
		return Policy{}, nil, err
	}
	gs, err := guest.Receive(pods[0], guestImages, objects)
	assert.NilError(t, err)
	return p, gs, nil
}

// replay checks a policy with the enforcer, when it is built in, and that
// verify.Policy decides exactly as hcsshim's enforcer alone, which compiles
// the policy for every pod.
// testVerifier compiles hcsshim's framework once for the package's tests.
var testVerifier = verify.New()

func replay(t *testing.T, p Policy, gs []guest.Container) error {
	t.Helper()
	if !verify.Enabled() {
		return nil
	}
	ctx := context.Background()
	ds, err := testVerifier.Policy(ctx, p.Rego, gs)
	assert.NilError(t, err)
	want, err := verify.Reference(ctx, p.Rego, gs)
	assert.NilError(t, err)
	assert.DeepEqual(t, ds, want)
	return verify.Err(ds)
}

// TestGuestModelDifferential is a property test over generated pods: the two
// models of a pod (confcom's reading and what the guest receives) agree
// exactly where no quirk is triggered (confcom's bytes, accepted by the
// enforcer), and each quirk makes them differ on its own policy field only,
// which compat guest corrects so that the enforcer accepts the pod. Every
// replay, of confcom's policy too, where the quirks make the enforcer deny,
// is also checked against hcsshim's enforcer alone (see replay).
func TestGuestModelDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		doc := genPod(r, "", "")
		confcom, gs, err := generateGuest(t, doc, CompatConfcom)
		assert.NilError(t, err, doc)
		p, _, err := generateGuest(t, doc, CompatGuest)
		assert.NilError(t, err, doc)
		assert.Equal(t, len(p.Corrections), 0, "pod %d: %v\n%s", i, p.Corrections, doc)
		assert.Equal(t, p.Rego, confcom.Rego, "pod %d", i)
		assert.NilError(t, replay(t, p, gs), "pod %d\n%s", i, doc)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range quirkFeatures {
			if !yield(k) {
				return
			}
		}
	})
	for _, name := range names {
		q := quirkFeatures[name]
		t.Run(name, func(t *testing.T) {
			for i := range 6 {
				doc := genPod(r, q.container, q.pod)
				// (confcom's own policy may still pass: the enforcer admits a
				// container under any policy entry with its layers and
				// command, e.g. an init container's with the same image.)
				p, gs, err := generateGuest(t, doc, CompatGuest)
				assert.NilError(t, err, doc)
				if confcom, _, err := generateGuest(t, doc, CompatConfcom); err == nil {
					_ = replay(t, confcom, gs)
				}
				assert.Assert(t, len(p.Corrections) > 0, "pod %d: no correction\n%s", i, doc)
				for _, c := range p.Corrections {
					assert.Equal(t, c.Field, q.field, "pod %d: %s\n%s", i, c.Message(), doc)
				}
				assert.NilError(t, replay(t, p, gs), "pod %d\n%s", i, doc)
			}
		})
	}
}

// A value known only at run time cannot be pinned in a command.
func TestRuntimeReferenceInCommand(t *testing.T) {
	doc := genPod(rand.New(rand.NewPCG(3, 4)), "env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]\ncommand: [/bin/app, \"--id=$(POD_NAME)\"]", "")
	_, _, err := generateGuest(t, doc, CompatGuest)
	assert.ErrorContains(t, err, `Deployment shop/web: spec.template.spec.containers[name=c0].command: not supported: $(POD_NAME) is known only at run time`)

	// compat confcom keeps the text as written.
	p, _, err := generateGuest(t, doc, CompatConfcom)
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(p.Rego, `"--id=$(POD_NAME)"`))

	// Without a namespace, metadata.namespace is known only at run time.
	doc = strings.Replace(genPod(rand.New(rand.NewPCG(3, 4)), "env: [{name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}]\nargs: [\"--ns=$(NS)\"]", ""), "namespace: shop", "namespace: \"\"", 1)
	_, _, err = generateGuest(t, doc, CompatGuest)
	assert.ErrorContains(t, err, `args: not supported: $(NS) is known only at run time`)
	assert.ErrorContains(t, err, `set the workload's namespace or spec.namespace in cocofy's config`)

	// In an env value the rule stays a pattern.
	doc = genPod(rand.New(rand.NewPCG(3, 4)), "env: [{name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}, {name: ADDR, value: \"$(IP):8080\"}]", "")
	p, gs, err := generateGuest(t, doc, CompatGuest)
	assert.NilError(t, err)
	// The pattern is the narrowest its source allows: an IP, not any text.
	assert.Assert(t, strings.Contains(p.Rego, `{"pattern":"^ADDR=(?:(?:[0-9]{1,3}(?:\\.[0-9]{1,3}){3}|[0-9a-fA-F]*:[0-9a-fA-F:.]*)):8080$","required":false,"strategy":"re2"}`), p.Rego)
	assert.NilError(t, replay(t, p, gs))
}

// Issue #21: a run-time value inside a longer env value admits only values
// of its source's form, never any text.
func TestRuntimePatternsAreNarrow(t *testing.T) {
	for path, want := range map[string]string{
		"metadata.name":      `^JAVA_TOOL_OPTIONS=-Dinstance=(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)$`,
		"spec.nodeName":      `^JAVA_TOOL_OPTIONS=-Dinstance=(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)$`,
		"metadata.uid":       `^JAVA_TOOL_OPTIONS=-Dinstance=(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`,
		"status.hostIP":      `^JAVA_TOOL_OPTIONS=-Dinstance=(?:(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-fA-F]*:[0-9a-fA-F:.]*))$`,
		"metadata.namespace": `^JAVA_TOOL_OPTIONS=-Dinstance=(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)$`,
	} {
		doc := genPod(rand.New(rand.NewPCG(3, 4)), "env: [{name: V, valueFrom: {fieldRef: {fieldPath: "+path+"}}}, {name: JAVA_TOOL_OPTIONS, value: \"-Dinstance=$(V)\"}]", "")
		if path == "metadata.namespace" {
			doc = strings.Replace(doc, "namespace: shop", "namespace: \"\"", 1)
		}
		p, gs, err := generateGuest(t, doc, CompatGuest)
		assert.NilError(t, err, path)
		re := regexp.MustCompile(want)
		assert.Assert(t, !re.MatchString("JAVA_TOOL_OPTIONS=-Dinstance=x -javaagent:/tmp/evil.jar"), path)
		rule, _ := json.Marshal(map[string]any{"pattern": want, "required": false, "strategy": "re2"})
		assert.Assert(t, strings.Contains(p.Rego, string(rule)), "%s: want %s in\n%s", path, rule, p.Rego)
		assert.NilError(t, replay(t, p, gs), path)
	}
}

// The namespace case: ConfigMap cfg in namespaces shop and other, a
// Deployment in shop reading cfg: both models take shop's.
func TestNamespacedObjects(t *testing.T) {
	doc := genPod(rand.New(rand.NewPCG(5, 6)), "env: [{name: COLOR, valueFrom: {configMapKeyRef: {name: cfg, key: COLOR}}}]", "")
	p, gs, err := generateGuest(t, doc, CompatGuest)
	assert.NilError(t, err)
	assert.Equal(t, len(p.Corrections), 0)
	assert.Assert(t, strings.Contains(p.Rego, `"COLOR=blue"`))
	assert.Assert(t, slices.Contains(gs[len(gs)-len(gs)].Env, "COLOR=blue") || slices.ContainsFunc(gs, func(c guest.Container) bool { return slices.Contains(c.Env, "COLOR=blue") }))
	assert.NilError(t, replay(t, p, gs))
}

// A pod that mounts its own /etc/resolv.conf: formats 1.x and 1.2 also list
// the default mount there; an unused extra policy mount is harmless, so
// there is nothing to correct.
func TestOwnResolvConfNeedsNoCorrection(t *testing.T) {
	doc := genPod(rand.New(rand.NewPCG(7, 8)), "volumeMounts: [{name: config, mountPath: /etc/resolv.conf}]", "")
	for _, format := range []string{Format2, Format1, Format12} {
		nodes := readStream(t, []byte(doc+"---\n"+guestObjects))
		pods := inputs(t, nodes)
		p, err := Generate(pods[0], guestImages, podspec.ObjectsFrom(nodes), Options{Format: format})
		assert.NilError(t, err)
		assert.Equal(t, len(p.Corrections), 0, "%s: %v", format, p.Corrections)
	}
}

// Empty values as Kubernetes reads them: `env:` with no value is an empty
// list, and a ConfigMap or Secret key whose value is "" sets the variable to
// "". Compat guest writes what the guest receives; confcom stops on both.
func TestEmptyValues(t *testing.T) {
	doc := genPod(rand.New(rand.NewPCG(9, 10)), "env:\nvolumeMounts:\nports:\ncommand:\nargs:", "")
	p, gs, err := generateGuest(t, doc, CompatGuest)
	assert.NilError(t, err, doc)
	assert.Equal(t, len(p.Corrections), 0, "%v", p.Corrections)
	assert.NilError(t, replay(t, p, gs))
	_, _, err = generateGuest(t, doc, CompatConfcom)
	assert.ErrorIs(t, err, ErrUnsupported)

	empty := "---\napiVersion: v1\nkind: Secret\nmetadata: {name: trivy, namespace: shop}\ndata: {gitHubToken: \"\"}\n" +
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: opts, namespace: shop}\ndata: {EXTRA: \"\"}\n"
	doc = genPod(rand.New(rand.NewPCG(9, 10)), "env: [{name: GITHUB_TOKEN, valueFrom: {secretKeyRef: {name: trivy, key: gitHubToken}}}, {name: EXTRA, valueFrom: {configMapKeyRef: {name: opts, key: EXTRA}}}, {name: NONE, value: null}]", "") + empty
	p, gs, err = generateGuest(t, doc, CompatGuest)
	assert.NilError(t, err, doc)
	assert.Equal(t, len(p.Corrections), 0, "%v", p.Corrections)
	assert.Assert(t, strings.Contains(p.Rego, `{"pattern":"GITHUB_TOKEN=","required":false,"strategy":"string"}`), p.Rego)
	assert.Assert(t, strings.Contains(p.Rego, `{"pattern":"EXTRA=","required":false,"strategy":"string"}`), p.Rego)
	assert.Assert(t, strings.Contains(p.Rego, `{"pattern":"NONE=","required":false,"strategy":"string"}`), p.Rego)
	assert.NilError(t, replay(t, p, gs))
	assert.Assert(t, slices.ContainsFunc(gs, func(c guest.Container) bool { return slices.Contains(c.Env, "GITHUB_TOKEN=") }))
	_, _, err = generateGuest(t, doc, CompatConfcom)
	assert.ErrorIs(t, err, ErrUnsupported)
}

// Corrections never show envFrom values, nor text holding a Secret's value.
func TestCorrectionsHideValues(t *testing.T) {
	doc := genPod(rand.New(rand.NewPCG(11, 12)), "envFrom: [{secretRef: {name: creds}}, {configMapRef: {name: cfg}}]\nenv: [{name: T, valueFrom: {secretKeyRef: {name: creds, key: TOKEN}}}, {name: URL, value: \"https://u:$(T)@db\"}]", "")
	p, _, err := generateGuest(t, doc, CompatGuest)
	assert.NilError(t, err, doc)
	var names []string
	for _, c := range p.Corrections {
		msg := c.Message()
		assert.Assert(t, c.Hidden, msg)
		assert.Assert(t, !strings.Contains(msg, "s3cret") && !strings.Contains(msg, "blue"), msg)
		names = append(names, c.Variable)
	}
	assert.Assert(t, slices.Contains(names, "TOKEN") && slices.Contains(names, "COLOR") && slices.Contains(names, "URL"), "%v", names)
	assert.Assert(t, strings.Contains(p.Rego, "TOKEN=s3cret"), "the policy itself pins the value")
}
