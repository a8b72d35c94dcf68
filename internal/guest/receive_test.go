package guest_test

import (
	"encoding/base64"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/guest"
	"cocofy.dev/cocofy/internal/podspec"
)

// distroless is an image like confcom's fixtures use: one layer, PATH, no
// Entrypoint, Cmd, WorkingDir or User.
var distroless = image.Facts{
	Layers: []image.Layer{{RootHash: "243e1b3ce08093f2f0d9cd6a9eafde8737f64fec105ed59c346d309fbe760b58"}},
	Config: image.Config{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
}

var app = image.Facts{
	Layers: []image.Layer{{RootHash: "aa"}, {RootHash: "bb"}},
	Config: image.Config{
		Entrypoint: []string{"/entrypoint.sh"},
		Cmd:        []string{"serve", "--port=80"},
		Env:        []string{"PATH=/bin", "MODE=image"},
		WorkingDir: "/app",
		User:       "www:staff",
	},
}

var images = map[string]image.Facts{"distroless": distroless, "app": app}

// receive runs Receive on a Pod written in YAML.
func receive(template string, imgs map[string]image.Facts, objects ...*yaml.RNode) ([]guest.Container, error) {
	return guest.Receive(podspec.New("Pod", "", "", yaml.MustParse(template), nil), imgs, podspec.ObjectsFrom(objects))
}

// fromPod runs Receive on a Pod written in YAML and returns its only
// container.
func fromPod(t *testing.T, template string, objects ...*yaml.RNode) guest.Container {
	t.Helper()
	cs, err := receive(template, images, objects...)
	assert.NilError(t, err)
	assert.Assert(t, is.Len(cs, 1))
	return cs[0]
}

func TestFromPodCommand(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		container string
		want      []string
	}{
		"image Entrypoint and Cmd": {`{name: c, image: app}`, []string{"/entrypoint.sh", "serve", "--port=80"}},
		"args replace Cmd":         {`{name: c, image: app, args: [debug]}`, []string{"/entrypoint.sh", "debug"}},
		"command replaces both":    {`{name: c, image: app, command: [/bin/app]}`, []string{"/bin/app"}},
		"command and args":         {`{name: c, image: app, command: [/bin/app], args: [-v]}`, []string{"/bin/app", "-v"}},
		"nothing at all":           {`{name: c, image: distroless}`, []string{}},
		"$(VAR) expanded, $$ escaped, unknown kept": {
			`{name: c, image: app, command: [echo, "$(GREETING) $(HOSTNAME) $$(GREETING) $(KUBERNETES_SERVICE_PORT)"], env: [{name: GREETING, value: hi}]}`,
			[]string{"echo", "hi $(HOSTNAME) $(GREETING) 443"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := fromPod(t, "spec: {containers: ["+tc.container+"]}")
			assert.DeepEqual(t, c.Command, tc.want)
		})
	}
}

func TestFromPodEnv(t *testing.T) {
	t.Parallel()
	objects := []*yaml.RNode{
		yaml.MustParse(`{apiVersion: v1, kind: ConfigMap, metadata: {name: cm}, data: {color: blue, size: L}, binaryData: {bin: ` + base64.StdEncoding.EncodeToString([]byte("raw")) + `}}`),
		yaml.MustParse(`{apiVersion: v1, kind: Secret, metadata: {name: s}, data: {token: ` + base64.StdEncoding.EncodeToString([]byte("t0k3n")) + `}, stringData: {plain: text}}`),
	}
	c := fromPod(t, `
metadata: {name: web-0, labels: {app: web}}
spec:
  containers:
  - name: c
    image: app
    envFrom:
    - {prefix: CM_, configMapRef: {name: cm}}
    - configMapRef: {name: elsewhere}
    env:
    - {name: MODE, value: pod}
    - {name: HOST, value: db}
    - {name: URL, value: "http://$(HOST):$(PORT)/$(LATER)"}
    - {name: LATER, value: x}
    - {name: COLOR, valueFrom: {configMapKeyRef: {name: cm, key: color}}}
    - {name: BIN, valueFrom: {configMapKeyRef: {name: cm, key: bin}}}
    - {name: TOKEN, valueFrom: {secretKeyRef: {name: s, key: token}}}
    - {name: PLAIN, valueFrom: {secretKeyRef: {name: s, key: plain}}}
    - {name: GONE, valueFrom: {secretKeyRef: {name: s, key: gone, optional: true}}}
    - {name: OTHER, valueFrom: {configMapKeyRef: {name: unknown, key: k}}}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
    - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory}}}
    - {name: CPU, valueFrom: {resourceFieldRef: {resource: requests.cpu}}}
    - {name: MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: THIM, value: "===VIRTUALNODE2.CC.THIM.ENDPOINT==="}
    resources: {limits: {memory: 128Mi, cpu: 250m}}
`, objects...)
	assert.DeepEqual(t, c.Env, []string{
		"HOSTNAME=web-0",
		"PATH=/bin",
		"MODE=pod", // the pod's value replaces the image's
		"CM_bin=raw",
		"CM_color=blue",
		"CM_size=L",
		"HOST=db",
		"URL=http://db:$(PORT)/$(LATER)", // LATER is defined after URL
		"LATER=x",
		"COLOR=blue",
		"BIN=raw",
		"TOKEN=t0k3n",
		"PLAIN=text",
		"OTHER={cocofy-runtime:OTHER}",
		"POD=web-0",
		"APP=web",
		"IP={cocofy-runtime/ip:IP}",
		"MEM=134217728",
		"CPU=1", // requests default to limits; 250m rounds up
		"MEM_MI=128",
		"THIM=http://169.254.128.1:2377/metadata/THIM/amd/certification",
		"KUBERNETES_SERVICE_HOST=10.0.0.1",
		"KUBERNETES_SERVICE_PORT=443",
		"KUBERNETES_SERVICE_PORT_HTTPS=443",
		"KUBERNETES_PORT=tcp://10.0.0.1:443",
		"KUBERNETES_PORT_443_TCP=tcp://10.0.0.1:443",
		"KUBERNETES_PORT_443_TCP_PROTO=tcp",
		"KUBERNETES_PORT_443_TCP_PORT=443",
		"KUBERNETES_PORT_443_TCP_ADDR=10.0.0.1",
		"TERM=xterm",
	})
	assert.DeepEqual(t, c.Unresolved, []string{`envFrom configMap "elsewhere"`, "OTHER", "IP"})
}

func TestFromPodWorkloadIdentity(t *testing.T) {
	t.Parallel()
	cs, err := receive(`
metadata:
  labels: {azure.workload.identity/use: "true"}
  annotations: {azure.workload.identity/skip-containers: sidecar}
spec:
  containers:
  - {name: c, image: distroless, env: [{name: AZURE_CLIENT_ID, value: mine}]}
  - {name: sidecar, image: distroless}
`, images)
	assert.NilError(t, err)
	assert.Assert(t, is.Len(cs, 2))
	assert.Assert(t, is.Contains(cs[0].Env, "AZURE_CLIENT_ID=mine"))
	assert.Assert(t, is.Contains(cs[0].Env, "AZURE_FEDERATED_TOKEN_FILE=/var/run/secrets/azure/tokens/azure-identity-token"))
	assert.DeepEqual(t, cs[0].Mounts[0], guest.EmptyDir("azure-identity-token", "/var/run/secrets/azure/tokens", true))
	for _, e := range cs[1].Env {
		assert.Assert(t, e[:6] != "AZURE_", e)
	}
	assert.Equal(t, len(cs[1].Mounts), 5)
}

func TestFromPodMounts(t *testing.T) {
	t.Parallel()
	c := fromPod(t, `
spec:
  automountServiceAccountToken: false
  volumes:
  - {name: cfg, configMap: {name: cm}}
  - {name: data, persistentVolumeClaim: {claimName: pvc, readOnly: true}}
  - {name: scratch, emptyDir: {}}
  - {name: share, azureFile: {secretName: s, shareName: x}}
  containers:
  - name: c
    image: distroless
    terminationMessagePath: /tmp/done
    volumeMounts:
    - {name: cfg, mountPath: /etc/cfg, readOnly: false}
    - {name: data, mountPath: /data}
    - {name: scratch, mountPath: /scratch}
    - {name: share, mountPath: /share, readOnly: true}
    - {name: scratch, mountPath: /etc/resolv.conf, subPath: resolv.conf}
`)
	assert.DeepEqual(t, c.Mounts, []guest.Mount{
		guest.EmptyDir("cfg", "/etc/cfg", true), // configMap volumes are read-only
		guest.EmptyDir("data", "/data", true),
		guest.EmptyDir("scratch", "/scratch", false),
		guest.EmptyDir("share", "/share", true),
		guest.EmptyDir("scratch/resolv.conf", "/etc/resolv.conf", false),
		// no service account token: automountServiceAccountToken is false
		guest.EmptyDir("kube-hosts", "/etc/hosts", false),
		guest.EmptyDir("kube-termination-log", "/tmp/done", false),
		guest.EmptyDir("hostname", "/etc/hostname", false),
	})
}

func TestFromPodSecurityContext(t *testing.T) {
	t.Parallel()
	root := guest.IDName{ID: "0", Name: "root"}
	unprivileged := guest.DefaultCapabilities(false).Bounding
	tests := map[string]struct {
		template string
		want     guest.Container // User, Groups, Privileged, NoNewPrivileges, Capabilities compared
	}{
		"defaults": {
			template: `spec: {containers: [{name: c, image: distroless}]}`,
			want:     guest.Container{User: root, Groups: []guest.IDName{root}, Capabilities: guest.DefaultCapabilities(false)},
		},
		"image user and group by name": {
			template: `spec: {containers: [{name: c, image: app}]}`,
			want:     guest.Container{User: guest.IDName{Name: "www"}, Groups: []guest.IDName{{Name: "staff"}}, Capabilities: guest.DefaultCapabilities(false)},
		},
		"pod runAsUser, container runAsGroup, fsGroup": {
			template: `spec:
  securityContext: {runAsUser: 1000, runAsGroup: 1001, fsGroup: 2000, supplementalGroups: [3000]}
  containers: [{name: c, image: app, securityContext: {runAsGroup: 5}}]`,
			want: guest.Container{
				User:         guest.IDName{ID: "1000"},
				Groups:       []guest.IDName{{ID: "5"}, {ID: "2000"}, {ID: "3000"}},
				Capabilities: guest.DefaultCapabilities(false),
			},
		},
		"capabilities the containerd way": {
			template: `spec: {containers: [{name: c, image: distroless, securityContext: {allowPrivilegeEscalation: false, capabilities: {add: [net_admin], drop: [KILL]}}}]}`,
			want: guest.Container{
				User: root, Groups: []guest.IDName{root}, NoNewPrivileges: true,
				Capabilities: &guest.Capabilities{
					Bounding:    append(without(unprivileged, "CAP_KILL"), "CAP_NET_ADMIN"),
					Effective:   append(without(unprivileged, "CAP_KILL"), "CAP_NET_ADMIN"),
					Inheritable: []string{},
					Permitted:   append(without(unprivileged, "CAP_KILL"), "CAP_NET_ADMIN"),
					Ambient:     []string{},
				},
			},
		},
		"drop ALL, add one": {
			template: `spec: {containers: [{name: c, image: distroless, securityContext: {capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}}}]}`,
			want: guest.Container{
				User: root, Groups: []guest.IDName{root},
				Capabilities: &guest.Capabilities{
					Bounding: []string{"CAP_NET_BIND_SERVICE"}, Effective: []string{"CAP_NET_BIND_SERVICE"},
					Inheritable: []string{}, Permitted: []string{"CAP_NET_BIND_SERVICE"}, Ambient: []string{},
				},
			},
		},
		"privileged ignores capabilities": {
			template: `spec: {containers: [{name: c, image: distroless, securityContext: {privileged: true, capabilities: {drop: [ALL]}}}]}`,
			want:     guest.Container{User: root, Groups: []guest.IDName{root}, Privileged: true, Capabilities: guest.DefaultCapabilities(true)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := fromPod(t, tc.template)
			assert.DeepEqual(t, c.User, tc.want.User)
			assert.DeepEqual(t, c.Groups, tc.want.Groups)
			assert.Equal(t, c.Privileged, tc.want.Privileged)
			assert.Equal(t, c.NoNewPrivileges, tc.want.NoNewPrivileges)
			assert.DeepEqual(t, c.Capabilities, tc.want.Capabilities)
			assert.Equal(t, c.Umask, "0022")
		})
	}
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

// seccompProfile is a small OCI seccomp profile.
const seccompProfile = `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}`

func TestFromPodSeccomp(t *testing.T) {
	t.Parallel()
	// hcsshim_test.go checks this value against the guest's own measure.
	const want = "c1250ae3787a2e42d72ff85c6c95f2e7ebad58e1c4616c17f262546fd08512e8"

	for name, tc := range map[string]struct{ pod, container, want string }{
		"none":                    {want: ""},
		"RuntimeDefault":          {pod: `{seccompProfile: {type: RuntimeDefault}}`, want: ""},
		"container wins":          {pod: `{seccompProfile: "x"}`, container: `{seccompProfile: {type: Unconfined}}`, want: ""},
		"confcom's base64 string": {container: `{seccompProfile: "` + base64.StdEncoding.EncodeToString([]byte(seccompProfile)) + `"}`, want: want},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pod, container := tc.pod, tc.container
			if pod == "" {
				pod = "{}"
			}
			if container == "" {
				container = "{}"
			}
			c := fromPod(t, `spec: {securityContext: `+pod+`, containers: [{name: c, image: distroless, securityContext: `+container+`}]}`)
			assert.Equal(t, c.SeccompProfileSHA256, tc.want)
		})
	}
}

func TestFromPodWorkingDirAndOrder(t *testing.T) {
	t.Parallel()
	cs, err := receive(`
spec:
  initContainers: [{name: init, image: distroless}]
  containers:
  - {name: a, image: app}
  - {name: b, image: app, workingDir: /srv}
`, images)
	assert.NilError(t, err)
	var names, dirs []string
	for _, c := range cs {
		names = append(names, c.Name)
		dirs = append(dirs, c.WorkingDir)
		assert.Assert(t, !c.Sandbox)
	}
	assert.DeepEqual(t, names, []string{"init", "a", "b"})
	assert.DeepEqual(t, dirs, []string{"/", "/app", "/srv"})
	assert.DeepEqual(t, cs[1].Layers, []string{"aa", "bb"})
}

func TestFromPodErrors(t *testing.T) {
	t.Parallel()
	noHashes := map[string]image.Facts{"x": {Layers: []image.Layer{{Digest: "sha256:00"}}}}
	for name, tc := range map[string]struct {
		template string
		images   map[string]image.Facts
		is       error
		msg      string
	}{
		"unknown image": {
			template: `spec: {containers: [{name: web, image: "nginx:1.27"}]}`,
			is:       guest.ErrNoFacts,
			msg:      `spec.containers[name=web].image: no image facts for "nginx:1.27"`,
		},
		"no root hashes": {
			template: `spec: {initContainers: [{name: init, image: x}]}`,
			images:   noHashes,
			is:       guest.ErrNoFacts,
			msg:      `spec.initContainers[name=init].image: no image facts: "x" has no layer root hashes`,
		},
		"Localhost seccomp": {
			template: `spec: {containers: [{name: c, image: distroless, securityContext: {seccompProfile: {type: Localhost, localhostProfile: p.json}}}]}`,
			is:       guest.ErrUnsupported,
			msg:      "spec.containers[name=c].securityContext.seccompProfile: unsupported: type Localhost (the profile is on the node)",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			imgs := tc.images
			if imgs == nil {
				imgs = images
			}
			_, err := receive(tc.template, imgs)
			assert.ErrorIs(t, err, tc.is)
			assert.Error(t, err, tc.msg)
		})
	}
}

// Exec probes are expanded as the kubelet does, with the container's own
// env values only (one from valueFrom is "", the image's and the kubelet's
// variables are not known); exec lifecycle hooks are run as written.
func TestFromPodExecProcesses(t *testing.T) {
	t.Parallel()
	c := fromPod(t, `spec: {containers: [{name: c, image: app,
  env: [{name: PORT, value: "8080"}, {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}],
  livenessProbe: {exec: {command: [check, "--port=$(PORT)", "--ip=$(IP)", "$(MODE)", "$$(PORT)"]}},
  readinessProbe: {httpGet: {path: /, port: 80}},
  lifecycle: {preStop: {exec: {command: [stop, "$(PORT)"]}}}}]}`)
	assert.DeepEqual(t, c.ExecProcesses, []guest.ExecProcess{
		{Hook: "livenessProbe", Written: []string{"check", "--port=$(PORT)", "--ip=$(IP)", "$(MODE)", "$$(PORT)"}, Command: []string{"check", "--port=8080", "--ip=", "$(MODE)", "$(PORT)"}},
		{Hook: "lifecycle.preStop", Written: []string{"stop", "$(PORT)"}, Command: []string{"stop", "$(PORT)"}},
	})
}
