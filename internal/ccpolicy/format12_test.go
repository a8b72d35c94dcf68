package ccpolicy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/golden"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/podspec"
)

// The format 1.2 tests state what confcom 1.2.3 to 1.2.7 write, read from
// their source (testdata/format_1_2/README.md). No confcom 1.2 output of a
// VN2 pod is at hand: the golden files under testdata/format_1_2/ are
// cocofy's own output (-update rewrites them), and the checks below are what
// keeps them honest.

// vn2Format generates one confcom sample in a format, compat confcom.
func vn2Format(t *testing.T, name, format string, debug bool) Policy {
	t.Helper()
	dir := filepath.Join("testdata", "vn2", name)
	data, err := os.ReadFile(filepath.Join(dir, "virtual_node.yaml"))
	assert.NilError(t, err)
	nodes := readStream(t, data)
	ins := inputs(t, nodes)
	assert.Equal(t, len(ins), 1)
	p, err := Generate(ins[0], readFacts(t, filepath.Join(dir, "images.json")), podspec.ObjectsFrom(nodes),
		Options{Format: format, Compat: CompatConfcom, Debug: debug})
	assert.NilError(t, err)
	return p
}

// destinations lists a policy container's mount destinations.
func destinations(c map[string]any) []string {
	var out []string
	for _, m := range c["mounts"].([]any) {
		out = append(out, m.(map[string]any)["destination"].(string))
	}
	return out
}

var vn2DefaultMounts = []string{
	"/var/run/secrets/kubernetes.io/serviceaccount",
	"/etc/hosts",
	"/dev/termination-log",
	"/etc/hostname",
}

// TestFormat12BasicCommandArgs renders samples/vn2/basic_command_args in
// format 1.2 and checks it against format 1.x field by field: the header
// and fragments are 1.x's, the user containers differ only in where
// /etc/resolv.conf is mounted, and the pause container gains its name.
func TestFormat12BasicCommandArgs(t *testing.T) {
	p12 := vn2Format(t, "basic_command_args", Format12, false)
	p1 := vn2Format(t, "basic_command_args", Format1, false)
	golden.Assert(t, p12.Pretty+"\n", filepath.Join("format_1_2", "basic_command_args.cocofy.rego"))
	checkCompact(t, p12)
	compileRego(t, "format12.rego", p12.Rego)
	compileRego(t, "format12-pretty.rego", p12.Pretty)

	// Header: confcom 1.2's template with api_version "0.10.0", framework
	// 0.2.3 as fixed text, no rw_mount_device; the infrastructure fragment
	// at minimum_svn "1".
	assert.Check(t, strings.HasPrefix(p12.Rego, "package policy\n\nimport future.keywords.every\nimport future.keywords.in\n\napi_version := \"0.10.0\"\nframework_version := \"0.2.3\"\n\nfragments := [\n  {\n    \"feed\": \"mcr.microsoft.com/aci/aci-cc-infra-fragment\",\n    \"includes\": [\n      \"containers\",\n      \"fragments\"\n    ],\n    \"issuer\": \"did:x509:0:sha256:I__iuL25oXEVFdTP_aBLx_eT1RPHbCQ_ECBQfYZpt9s::eku:1.3.6.1.4.1.311.76.59.1.3\",\n    \"minimum_svn\": \"1\"\n  }\n]\n\ncontainers := "))
	assert.Check(t, strings.HasSuffix(p12.Rego, "scratch_unmount := data.framework.scratch_unmount\n\nreason := {\"errors\": data.framework.errors}"))
	assert.Check(t, !strings.Contains(p12.Rego, "rw_mount_device"))
	head := func(rego string) string { return rego[:strings.Index(rego, "\ncontainers := ")] }
	tail := func(rego string) string { return rego[strings.Index(rego, "\n\nallow_properties_access"):] }
	assert.Equal(t, head(p12.Rego), head(p1.Rego))
	assert.Equal(t, tail(p12.Rego), tail(p1.Rego))

	cs12, err := Containers(p12.Rego)
	assert.NilError(t, err)
	cs1, err := Containers(p1.Rego)
	assert.NilError(t, err)
	assert.Equal(t, len(cs12), 2)

	// The user container: /etc/resolv.conf first, then the VN2 defaults.
	app := cs12[0]
	assert.DeepEqual(t, destinations(app), append([]string{"/etc/resolv.conf"}, vn2DefaultMounts...))
	assert.DeepEqual(t, destinations(cs1[0]), append(slices.Clone(vn2DefaultMounts), "/etc/resolv.conf"))
	assert.DeepEqual(t, app["signals"], []any{}) // no stop signal in the image
	app1 := cs1[0]
	app1["mounts"] = reorder1x(app1["mounts"].([]any))
	assert.DeepEqual(t, app, app1)

	// The pause container: named, signals [], stdio allowed by default.
	pause := cs12[1]
	assert.Check(t, is.Equal(pause["name"], "pause-container"))
	assert.Check(t, is.DeepEqual(pause["signals"], []any{}))
	assert.Check(t, is.Equal(pause["allow_stdio_access"], true))
	_, named := cs1[1]["name"]
	assert.Check(t, !named, "1.x pause container has a name")
	delete(pause, "name")
	assert.DeepEqual(t, pause, cs1[1])

	// The default compat mode writes the same bytes for this pod.
	p, err := Generate(inputsOf(t, "basic_command_args"), readFacts(t, filepath.Join("testdata", "vn2", "basic_command_args", "images.json")), podspec.Objects{}, Options{Format: Format12})
	assert.NilError(t, err)
	assert.Equal(t, len(p.Corrections), 0)
	assert.Equal(t, p.Rego, p12.Rego)
}

// reorder1x moves a 1.x container's last mount (/etc/resolv.conf) before the
// four VN2 default mounts, where 1.2 writes it.
func reorder1x(ms []any) []any {
	n := len(ms)
	out := slices.Clone(ms[:n-5])
	out = append(out, ms[n-1])
	return append(out, ms[n-5:n-1]...)
}

func inputsOf(t *testing.T, name string) podspec.Pod {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vn2", name, "virtual_node.yaml"))
	assert.NilError(t, err)
	return inputs(t, readStream(t, data))[0]
}

// TestFormat12Samples renders every confcom sample in formats 1.2 and 1.x:
// the containers must be the same but for the /etc/resolv.conf mount and the
// pause container's name, and the stop signal replaces the empty list.
func TestFormat12Samples(t *testing.T) {
	for _, name := range vn2Cases {
		t.Run(name, func(t *testing.T) {
			p12 := vn2Format(t, name, Format12, false)
			p1 := vn2Format(t, name, Format1, false)
			compileRego(t, name+".rego", p12.Rego)
			cs12, err := Containers(p12.Rego)
			assert.NilError(t, err)
			cs1, err := Containers(p1.Rego)
			assert.NilError(t, err)
			assert.Equal(t, len(cs12), len(cs1))
			for i := range cs1[:len(cs1)-1] {
				ms := cs1[i]["mounts"].([]any)
				assert.Equal(t, ms[len(ms)-1].(map[string]any)["destination"], "/etc/resolv.conf")
				cs1[i]["mounts"] = reorder1x(ms)
			}
			cs1[len(cs1)-1]["name"] = "pause-container"
			assert.DeepEqual(t, cs12, cs1)
		})
	}
	cs, err := Containers(vn2Format(t, "signals", Format12, false).Rego)
	assert.NilError(t, err)
	assert.DeepEqual(t, cs[0]["signals"], []any{json.Number("3")}) // SIGQUIT, not [9, 15, 3]
}

// format12Pod exercises the mount, exec and debug rules of 1.2: workload
// identity, a configMap volume on /etc/resolv.conf, a privileged container,
// the same exec command in two probes.
const format12Pod = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: quirks
spec:
  template:
    metadata:
      labels:
        azure.workload.identity/use: "true"
    spec:
      containers:
      - name: app
        image: example.com/app:1
        securityContext:
          privileged: true
        volumeMounts:
        - {name: dns, mountPath: /etc/resolv.conf}
        - {name: scratch, mountPath: /scratch}
        livenessProbe:
          exec: {command: [check]}
        readinessProbe:
          exec: {command: [check]}
      volumes:
      - name: dns
        configMap: {name: dns}
      - name: scratch
        emptyDir: {}
`

// TestFormat12Quirks: the workload identity token comes first, the
// container's mounts follow, then /etc/resolv.conf although a volume is
// mounted there (1.2 does not look), then the VN2 defaults; the probes'
// command is listed twice (1.2 does not merge); the debug shells carry no
// allow_stdio_access (1.2's extract_exec_process keeps command and signals
// only).
func TestFormat12Quirks(t *testing.T) {
	nodes := readStream(t, []byte(format12Pod))
	in := inputs(t, nodes)[0]
	facts := map[string]image.Facts{"example.com/app:1": {
		OS: "linux", Architecture: "amd64",
		Layers: []image.Layer{{RootHash: strings.Repeat("ab", 32)}},
		Config: image.Config{Cmd: []string{"/app"}, StopSignal: "SIGTERM"},
	}}
	p, err := Generate(in, facts, podspec.ObjectsFrom(nodes), Options{Format: Format12, Compat: CompatConfcom, Debug: true})
	assert.NilError(t, err)
	golden.Assert(t, p.Pretty+"\n", filepath.Join("format_1_2", "quirks_debug.cocofy.rego"))
	checkCompact(t, p)
	compileRego(t, "quirks.rego", p.Rego)
	assert.Check(t, is.Contains(p.Rego, "allow_dump_stacks := true\nallow_runtime_logging := true\n"))

	cs, err := Containers(p.Rego)
	assert.NilError(t, err)
	app := cs[0]
	var got []string
	for _, m := range app["mounts"].([]any) {
		m := m.(map[string]any)
		got = append(got, m["destination"].(string)+":"+m["options"].([]any)[2].(string))
	}
	assert.DeepEqual(t, got, []string{
		"/var/run/secrets/azure/tokens:ro",
		"/etc/resolv.conf:ro",
		"/scratch:rw",
		"/sys/fs/cgroup:rw",
		"/sys:rw",
		"/etc/resolv.conf:rw",
		"/var/run/secrets/kubernetes.io/serviceaccount:ro",
		"/etc/hosts:rw",
		"/dev/termination-log:rw",
		"/etc/hostname:rw",
	})
	assert.DeepEqual(t, app["exec_processes"], []any{
		map[string]any{"command": []any{"check"}, "signals": []any{}},
		map[string]any{"command": []any{"check"}, "signals": []any{}},
		map[string]any{"command": []any{"/bin/sh"}, "signals": []any{}},
		map[string]any{"command": []any{"/bin/bash"}, "signals": []any{}},
	})
	assert.DeepEqual(t, app["signals"], []any{json.Number("15")})
	assert.Check(t, is.Len(cs[1]["exec_processes"], 0))

	// The workload identity rules follow the YAML env; the injected rules
	// are 1.2's internal_config.json lists, in that order.
	var patterns []string
	for _, r := range app["env_rules"].([]any) {
		patterns = append(patterns, r.(map[string]any)["pattern"].(string))
	}
	assert.DeepEqual(t, patterns, []string{
		"AZURE_CLIENT_ID=.+", "AZURE_TENANT_ID=.+", "AZURE_FEDERATED_TOKEN_FILE=.+", "AZURE_AUTHORITY_HOST=.+",
		"TERM=xterm",
		"(?i)(FABRIC)_.+=.+", "HOSTNAME=.+", "T(E)?MP=.+", "FabricPackageFileName=.+", "HostedServiceName=.+",
		"IDENTITY_API_VERSION=.+", "IDENTITY_HEADER=.+", "IDENTITY_SERVER_THUMBPRINT=.+",
		"azurecontainerinstance_restarted_by=.+",
		"[A-Z0-9_]+_SERVICE_HOST=.+", "[A-Z0-9_]+_SERVICE_PORT=.+", "[A-Z0-9_]+_SERVICE_PORT_[A-Z0-9_]+=.+",
		"[A-Z0-9_]+_PORT=.+", "[A-Z0-9_]+_PORT_[0-9]+_TCP=.+", "[A-Z0-9_]+_PORT_[0-9]+_TCP_PROTO=.+",
		"[A-Z0-9_]+_PORT_[0-9]+_TCP_PORT=.+", "[A-Z0-9_]+_PORT_[0-9]+_TCP_ADDR=.+",
	})
}

// TestFormat12Template: format 1.2 fills confcom 1.2's
// data/customer_rego_policy.txt, which is 1.x's: 1,222 bytes, nine
// placeholders, no trailing newline, sha256 b922c7a0… (the same file from
// 1.2.0 to 1.2.7).
func TestFormat12Template(t *testing.T) {
	prof, err := profileFor(Format12)
	assert.NilError(t, err)
	assert.Equal(t, prof.template, regoTemplate1)
	assert.Equal(t, len(prof.template), 1222)
	assert.Equal(t, strings.Count(prof.template, "%s"), 9)
	sum := sha256.Sum256([]byte(prof.template))
	assert.Equal(t, hex.EncodeToString(sum[:]), "b922c7a074c2ff6143fcf58bc30b62d2df558f43939dcdb40e83f6e68f627106")
	assert.Equal(t, prof.apiVersion, "0.10.0")
	assert.Equal(t, prof.infraSVN, "1")
	assert.Check(t, !prof.frameworkInText)
}

// TestFormat12Options: the switches act in 1.2 as in 1.x.
func TestFormat12Options(t *testing.T) {
	in := inputsOf(t, "basic_command_args")
	facts := readFacts(t, filepath.Join("testdata", "vn2", "basic_command_args", "images.json"))
	gen := func(o Options) []map[string]any {
		t.Helper()
		o.Format, o.Compat = Format12, CompatConfcom
		p, err := Generate(in, facts, podspec.Objects{}, o)
		assert.NilError(t, err)
		cs, err := Containers(p.Rego)
		assert.NilError(t, err)
		if o.InfraSVN != "" {
			assert.Check(t, is.Contains(p.Rego, `"minimum_svn": "`+o.InfraSVN+`"`))
		}
		if o.ExcludeDefaultFragments {
			assert.Check(t, is.Contains(p.Rego, "\nfragments := []\n"))
		}
		return cs
	}
	for _, c := range gen(Options{DisableStdio: true}) {
		assert.Check(t, is.Equal(c["allow_stdio_access"], false))
	}
	cs := gen(Options{OmitID: true})
	_, hasID := cs[0]["id"]
	assert.Check(t, !hasID)
	assert.Check(t, is.Equal(cs[1]["name"], "pause-container"))
	gen(Options{InfraSVN: "3"})
	gen(Options{ExcludeDefaultFragments: true})

	_, err := profileFor("1.2.7")
	assert.ErrorIs(t, err, ErrUnsupported)
	assert.ErrorContains(t, err, `want "2.x", "1.2" or "1.x"`)
}
