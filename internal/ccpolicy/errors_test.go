package ccpolicy

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/podspec"
)

const testImage = "example.com/app@sha256:0000000000000000000000000000000000000000000000000000000000000001"

func testFacts() map[string]image.Facts {
	return map[string]image.Facts{testImage: {
		OS: "linux", Architecture: "amd64",
		Config: image.Config{Env: []string{"PATH=/usr/bin:/bin"}},
		Layers: []image.Layer{{Digest: "sha256:aa", RootHash: strings.Repeat("ab", 32)}},
	}}
}

// generate runs Generate on the first workload of a YAML stream.
func generate(t *testing.T, stream string, images map[string]image.Facts, opts Options) (Policy, error) {
	t.Helper()
	nodes := readStream(t, []byte(stream))
	ins := inputs(t, nodes)
	assert.Assert(t, len(ins) > 0)
	return Generate(ins[0], images, podspec.ObjectsFrom(nodes), opts)
}

// deployment returns a Deployment in namespace prod whose container "web"
// has the given extra lines (indented for the container), plus more documents.
func deployment(container string, more ...string) string {
	d := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  template:
    spec:
      containers:
      - name: web
        image: ` + testImage + "\n" + container
	for _, m := range more {
		d += "---\n" + m
	}
	return d
}

func TestGenerateErrors(t *testing.T) {
	secret := `apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: prod
data:
  token: "!!not-base64-s3cr3t"
  empty: ""
`
	tests := map[string]struct {
		stream string
		images map[string]image.Facts
		opts   Options
		is     error
		want   string
	}{
		"missing ConfigMap": {
			stream: deployment(`        env:
        - name: FOO
          valueFrom:
            configMapKeyRef: {name: cfg, key: foo}
`),
			is:   ErrNotFound,
			want: `Deployment prod/web: spec.template.spec.containers[name=web].env[name=FOO].valueFrom.configMapKeyRef: ConfigMap "cfg" not found in the input`,
		},
		"ConfigMap in another namespace": {
			stream: deployment(`        env:
        - name: FOO
          valueFrom:
            configMapKeyRef: {name: cfg, key: foo}
`, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: dev}\ndata: {foo: bar}\n"),
			is:   ErrNotFound,
			want: `ConfigMap "cfg" not found in the input`,
		},
		"ConfigMap without the key": {
			stream: deployment(`        env:
        - name: FOO
          valueFrom:
            configMapKeyRef: {name: cfg, key: foo}
`, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {other: bar}\n"),
			opts: Options{WildcardMissingRefs: true}, // confcom crashes here even with -y
			is:   ErrNotFound,
			want: `env[name=FOO].valueFrom.configMapKeyRef: ConfigMap "cfg" has no key "foo": not found in the input`,
		},
		"missing Secret": {
			stream: deployment(`        env:
        - name: TOKEN
          valueFrom:
            secretKeyRef: {name: nope, key: token}
`),
			is:   ErrNotFound,
			want: `env[name=TOKEN].valueFrom.secretKeyRef: Secret "nope" not found in the input`,
		},
		"Secret without the key": {
			stream: deployment(`        env:
        - name: TOKEN
          valueFrom:
            secretKeyRef: {name: creds, key: missing}
`, secret),
			is:   ErrNotFound,
			want: `Secret "creds" has no key "missing"`,
		},
		"Secret key with an empty value, compat confcom": {
			stream: deployment(`        env:
        - name: TOKEN
          valueFrom:
            secretKeyRef: {name: creds, key: empty}
`, secret),
			opts: Options{Compat: CompatConfcom},
			is:   ErrUnsupported,
			want: `Secret "creds": key "empty" has an empty value, which confcom takes for a missing value (not supported): it asks whether to write the wildcard NAME=.*, as -y does; set policy.wildcardMissingRefs to write it, or use policy.compat: guest`,
		},
		"ConfigMap key with an empty value, compat confcom": {
			stream: deployment(`        env:
        - name: FOO
          valueFrom:
            configMapKeyRef: {name: cfg, key: foo}
`, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: prod}\ndata: {foo: \"\"}\n"),
			opts: Options{Compat: CompatConfcom, WildcardMissingRefs: true},
			is:   ErrUnsupported,
			want: `ConfigMap "cfg": key "foo" has an empty value, which confcom cannot read (not supported): it then decodes binaryData["foo"], which is missing, and stops with a TypeError; use policy.compat: guest`,
		},
		"null env, compat confcom": {
			stream: deployment(`        env:
`),
			opts: Options{Compat: CompatConfcom},
			is:   ErrUnsupported,
			want: `spec.template.spec.containers[name=web].env: not supported: env is null (env: with no value), which confcom cannot read (it stops with a TypeError and writes no policy); write env: [] or leave it out, or use policy.compat: guest`,
		},
		"Secret value is not base64": {
			stream: deployment(`        env:
        - name: TOKEN
          valueFrom:
            secretKeyRef: {name: creds, key: token}
`, secret),
			is:   ErrInvalid,
			want: `env[name=TOKEN].valueFrom.secretKeyRef: Secret "creds": data.token: invalid: not base64`,
		},
		"no image facts": {
			stream: deployment(""),
			images: map[string]image.Facts{},
			is:     ErrNoImageFacts,
			want:   `Deployment prod/web: spec.template.spec.containers[name=web].image: "` + testImage + `": no image facts`,
		},
		"no root hash": {
			stream: deployment(""),
			images: map[string]image.Facts{testImage: {OS: "linux", Architecture: "amd64", Layers: []image.Layer{{Digest: "sha256:aa"}}}},
			is:     ErrNoImageFacts,
			want:   `no image facts: a layer has no dm-verity root hash`,
		},
		"arm64 image": {
			stream: deployment(""),
			images: map[string]image.Facts{testImage: {OS: "linux", Architecture: "arm64", Layers: []image.Layer{{RootHash: "ab"}}}},
			is:     ErrUnsupported,
			want:   `platform linux/arm64, want linux/amd64`,
		},
		"resourceFieldRef to another container": {
			stream: deployment(`        env:
        - name: CPU
          valueFrom:
            resourceFieldRef: {containerName: sidecar, resource: requests.cpu}
`),
			opts: Options{Compat: CompatConfcom},
			is:   ErrUnsupported,
			want: `containers[name=web].env[name=CPU].valueFrom.resourceFieldRef.containerName: not supported: "sidecar" is not this container ("web")`,
		},
		"resourceFieldRef without containerName": {
			stream: deployment(`        env:
        - name: CPU
          valueFrom:
            resourceFieldRef: {resource: requests.cpu}
`),
			opts: Options{Compat: CompatConfcom},
			is:   ErrUnsupported,
			want: `resourceFieldRef.containerName: not supported: "None" is not this container`,
		},
		"unquoted number env value": {
			stream: deployment("        env:\n        - {name: PORT, value: 8080}\n"),
			is:     ErrUnsupported,
			want:   `env[name=PORT].value: not supported: a YAML int; quote it`,
		},
		"unquoted bool arg": {
			stream: deployment("        args: [--flag, yes]\n"),
			is:     ErrUnsupported,
			want:   `containers[name=web].args[1]: not supported: a YAML bool; quote it`,
		},
		"exec probe without command": {
			stream: deployment("        livenessProbe:\n          exec: {command: []}\n"),
			is:     ErrInvalid,
			want:   `containers[name=web].livenessProbe.exec.command: invalid: missing`,
		},
		"Localhost seccomp profile": {
			stream: deployment("        securityContext:\n          seccompProfile: {type: Localhost, localhostProfile: p.json}\n"),
			is:     ErrUnsupported,
			want:   `securityContext.seccompProfile: type Localhost: not supported`,
		},
		"runAsUser is a string": {
			stream: deployment("        securityContext: {runAsUser: \"1000\"}\n"),
			is:     ErrInvalid,
			want:   `containers[name=web].securityContext.runAsUser: invalid: want a non-negative integer`,
		},
		"capability add is not a list": {
			stream: deployment("        securityContext: {capabilities: {add: NET_ADMIN}}\n"),
			is:     ErrInvalid,
			want:   `securityContext.capabilities.add: invalid: not a list`,
		},
		"stop signal is a number": {
			stream: deployment(""),
			images: map[string]image.Facts{testImage: {OS: "linux", Architecture: "amd64", Config: image.Config{StopSignal: "3"}, Layers: []image.Layer{{RootHash: "ab"}}}},
			is:     ErrUnsupported,
			want:   `stop signal "3" is not a SIG name`,
		},
		"sidecar image": {
			stream: strings.Replace(deployment(""), testImage, "mcr.microsoft.com/aci/msi-atlas-adapter:1.0", 1),
			is:     ErrUnsupported,
			want:   `is an ACI sidecar image`,
		},
		"sidecar image pinned without its tag": {
			stream: strings.Replace(deployment(""), testImage, "mcr.microsoft.com/aci/msi-atlas-adapter@sha256:"+strings.Repeat("a", 64), 1),
			is:     ErrUnsupported,
			want:   `is an ACI sidecar image`,
		},
		"no containers": {
			stream: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n",
			is:     ErrInvalid,
			want:   `Pod p: spec.containers: invalid: no containers`,
		},
		"no template": {
			stream: "",
			is:     ErrInvalid,
			want:   `Pod p: invalid: no pod template`,
		},
		"unknown format": {
			stream: deployment(""),
			opts:   Options{Format: "3.x"},
			is:     ErrUnsupported,
			want:   `format "3.x": not supported`,
		},
		"infraSVN with excluded fragments": {
			stream: deployment(""),
			opts:   Options{ExcludeDefaultFragments: true, InfraSVN: "5"},
			is:     ErrInvalid,
			want:   `infraSVN: invalid: cannot be combined with excludeDefaultFragments`,
		},
		"bad fragment": {
			stream: deployment(""),
			opts:   Options{Fragments: []Fragment{{Feed: "example.com/frag", Issuer: "did:x509:0:x", MinimumSVN: "v1"}}},
			is:     ErrInvalid,
			want:   `fragments[0].minimumSVN: invalid: "v1" is not a number`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			images := tc.images
			if images == nil {
				images = testFacts()
			}
			var err error
			if tc.stream == "" {
				_, err = Generate(podspec.New("Pod", "", "p", nil, nil), images, podspec.Objects{}, tc.opts)
			} else {
				_, err = generate(t, tc.stream, images, tc.opts)
			}
			assert.ErrorIs(t, err, tc.is)
			assert.ErrorContains(t, err, tc.want)
			assert.Assert(t, !strings.Contains(err.Error(), "s3cr3t"), "a Secret value leaked: %v", err)
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	stream := `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: a
    image: missing-a
  - name: b
    image: ` + testImage + `
    env:
    - name: X
      valueFrom: {configMapKeyRef: {name: gone, key: x}}
  initContainers:
  - name: c
    image: missing-c
`
	_, err := generate(t, stream, testFacts(), Options{})
	assert.ErrorContains(t, err, `spec.containers[name=a].image: "missing-a": no image facts`)
	assert.ErrorContains(t, err, `spec.containers[name=b].env[name=X].valueFrom.configMapKeyRef: ConfigMap "gone" not found`)
	assert.ErrorContains(t, err, `spec.initContainers[name=c].image: "missing-c": no image facts`)
}

func TestWildcardMissingRefs(t *testing.T) {
	stream := deployment(`        env:
        - name: FROM_CM
          valueFrom: {configMapKeyRef: {name: cfg, key: foo}}
        - name: FROM_SECRET
          valueFrom: {secretKeyRef: {name: creds, key: token}}
`)
	p, err := generate(t, stream, testFacts(), Options{WildcardMissingRefs: true})
	assert.NilError(t, err)
	cs, err := Containers(p.Rego)
	assert.NilError(t, err)
	rules := cs[0]["env_rules"].([]any)
	assert.DeepEqual(t, rules[0], map[string]any{"pattern": "FROM_CM=.*", "required": false, "strategy": "re2"})
	assert.DeepEqual(t, rules[1], map[string]any{"pattern": "FROM_SECRET=.*", "required": false, "strategy": "re2"})
	assert.Check(t, is.Contains(p.Rego, `"pattern":"PATH=/usr/bin:/bin"`))
}

// A missing Secret's variable in the command line needs its value, which
// policy.wildcardMissingRefs cannot give; $$(VAR) is an escape the kubelet
// leaves as text, so there the wildcard is still the remedy.
func TestMissingRefInCommandLine(t *testing.T) {
	for args, want := range map[string]string{
		`[--requirepass, $(PASS)]`:  "$(PASS) is also in the container's command line, which needs the value itself",
		`[--requirepass, $$(PASS)]`: "for an env value only, policy.wildcardMissingRefs writes PASS=.* instead",
		`[--requirepass, $(OTHER)]`: "for an env value only, policy.wildcardMissingRefs writes PASS=.* instead",
	} {
		stream := deployment(`        args: ` + args + `
        env:
        - name: PASS
          valueFrom: {secretKeyRef: {name: redis, key: auth}}
`)
		_, err := generate(t, stream, testFacts(), Options{})
		assert.ErrorContains(t, err, want, args)
	}
}
