package ccpolicy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/golden"

	"cocofy.dev/cocofy/internal/podspec"
)

// TestOptions renders the basic_command_args sample with each option. The
// golden files are cocofy's output; the checks below state what each option
// must change, following confcom's code.
func TestOptions(t *testing.T) {
	dir := filepath.Join("testdata", "vn2", "basic_command_args")
	data, err := os.ReadFile(filepath.Join(dir, "virtual_node.yaml"))
	assert.NilError(t, err)
	nodes := readStream(t, data)
	in := inputs(t, nodes)[0]
	facts := readFacts(t, filepath.Join(dir, "images.json"))

	tests := map[string]struct {
		opts  Options
		check func(t *testing.T, p Policy, cs []map[string]any)
	}{
		"debug": {
			opts: Options{Debug: true},
			check: func(t *testing.T, p Policy, cs []map[string]any) {
				assert.Check(t, is.Contains(p.Rego, "allow_dump_stacks := true\nallow_runtime_logging := true\n"))
				assert.Check(t, is.Contains(p.Rego, `"exec_processes":[{"allow_stdio_access":true,"command":["/bin/sh"],"signals":[]},{"allow_stdio_access":true,"command":["/bin/bash"],"signals":[]}]`))
				assert.Check(t, is.Len(cs[1]["exec_processes"], 0)) // not the pause container
			},
		},
		"disable_stdio": {
			opts: Options{DisableStdio: true},
			check: func(t *testing.T, p Policy, cs []map[string]any) {
				for _, c := range cs {
					assert.Check(t, is.Equal(c["allow_stdio_access"], false))
				}
			},
		},
		"omit_id": {
			opts: Options{OmitID: true},
			check: func(t *testing.T, p Policy, cs []map[string]any) {
				assert.Check(t, !strings.Contains(p.Rego, `"id":`))
				assert.Check(t, is.Equal(cs[0]["name"], "app"))
			},
		},
		"exclude_default_fragments": {
			opts: Options{ExcludeDefaultFragments: true},
			check: func(t *testing.T, p Policy, cs []map[string]any) {
				assert.Check(t, is.Contains(p.Rego, "\nfragments := []\n"))
			},
		},
		"infra_svn_and_fragment": {
			opts: Options{InfraSVN: "7", Fragments: []Fragment{{
				Issuer: "did:x509:0:sha256:abc::subject:CN:Contoso", Feed: "contoso.azurecr.io/frag", MinimumSVN: "1", Includes: []string{"containers"},
			}}},
			check: func(t *testing.T, p Policy, cs []map[string]any) {
				assert.Check(t, is.Contains(p.Rego, "    \"minimum_svn\": \"7\"\n  },\n  {\n    \"feed\": \"contoso.azurecr.io/frag\","))
			},
		},
		"format_1": {
			opts: Options{Format: Format1},
			check: func(t *testing.T, p Policy, cs []map[string]any) {
				assert.Check(t, is.Contains(p.Rego, "api_version := \"0.10.0\"\nframework_version := \"0.2.3\"\n"))
				assert.Check(t, !strings.Contains(p.Rego, "rw_mount_device"))
				assert.Check(t, is.Contains(p.Rego, `"minimum_svn": "1"`))
				assert.Check(t, is.Len(cs[0]["signals"], 0))
				_, named := cs[1]["name"]
				assert.Check(t, !named, "1.x pause container has a name")
				mounts := cs[0]["mounts"].([]any)
				assert.Check(t, is.Equal(mounts[len(mounts)-1].(map[string]any)["destination"], "/etc/resolv.conf"))
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Generate(in, facts, podspec.ObjectsFrom(nodes), tc.opts)
			assert.NilError(t, err)
			golden.Assert(t, p.Pretty+"\n", filepath.Join("options", name+".rego"))
			checkCompact(t, p)
			compileRego(t, name+".rego", p.Rego)
			cs, err := Containers(p.Rego)
			assert.NilError(t, err)
			tc.check(t, p, cs)
		})
	}
}

// TestKitchenSink covers the behaviours the confcom samples do not, in
// confcom's reading (compat confcom: the input has strings where the API
// server wants booleans, which confcom accepts).
func TestKitchenSink(t *testing.T) {
	dir := filepath.Join("testdata", "cases", "kitchen_sink")
	data, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
	assert.NilError(t, err)
	nodes := readStream(t, data)
	ins := inputs(t, nodes)
	assert.Equal(t, len(ins), 1)
	p, err := Generate(ins[0], readFacts(t, filepath.Join(dir, "images.json")), podspec.ObjectsFrom(nodes), Options{Compat: CompatConfcom})
	assert.NilError(t, err)
	golden.Assert(t, p.Pretty+"\n", filepath.Join("cases", "kitchen_sink", "policy.rego"))
	checkCompact(t, p)
	compileRego(t, "kitchen_sink.rego", p.Rego)

	cs, err := Containers(p.Rego)
	assert.NilError(t, err)
	assert.Equal(t, len(cs), 3)
	main, init := cs[0], cs[1]

	var patterns []string
	for _, r := range main["env_rules"].([]any) {
		patterns = append(patterns, r.(map[string]any)["pattern"].(string))
	}
	assert.DeepEqual(t, patterns[:13], []string{
		"HOSTNAME=fixed",
		"GREETING=héllo <wörld> & \"quotes\" \U0001F600",
		"MODE=fast",
		"BLOB=é",
		"LIMIT=1.5", // PyYAML reads 1.50 as a float
		"ADDR=.*",
		"AZURE_CLIENT_ID=.+", "AZURE_TENANT_ID=.+", "AZURE_FEDERATED_TOKEN_FILE=.+", "AZURE_AUTHORITY_HOST=.+",
		"PATH=/usr/bin:/bin",
		"TERM=linux", // suppresses the injected TERM=xterm
		"EQ=a=b",
	})
	assert.Equal(t, patterns[13], "(?i)(FABRIC)_.+=.+") // HOSTNAME=.+ is suppressed too
	assert.Assert(t, strings.Contains(p.Rego, `\u00e9`) && strings.Contains(p.Rego, `\ud83d\ude00`))

	assert.DeepEqual(t, main["command"], []any{"/entry", "--serve"})
	assert.Equal(t, main["working_dir"], "/srv")
	assert.Equal(t, main["no_new_privileges"], true)
	assert.DeepEqual(t, main["signals"], []any{json.Number("9"), json.Number("15")})
	assert.DeepEqual(t, main["exec_processes"], []any{map[string]any{"command": []any{"check"}, "signals": []any{}}})
	assert.DeepEqual(t, main["user"], map[string]any{
		"group_idnames": []any{map[string]any{"pattern": "1000", "strategy": "id"}},
		"umask":         "0022",
		"user_idname":   map[string]any{"pattern": "app", "strategy": "name"},
	})
	bounding := main["capabilities"].(map[string]any)["bounding"].([]any)
	assert.Check(t, is.Contains(bounding, "NET_ADMIN"))
	assert.Check(t, is.Contains(bounding, "CAP_SYS_TIME"))
	for _, c := range bounding {
		assert.Check(t, c != "CAP_MKNOD")
	}
	var dests []string
	for _, m := range main["mounts"].([]any) {
		m := m.(map[string]any)
		dests = append(dests, m["destination"].(string)+":"+m["options"].([]any)[2].(string))
	}
	assert.DeepEqual(t, dests, []string{
		"/var/run/secrets/azure/tokens:ro",
		"/cache:rw",
		"/etc/resolv.conf:ro", // the configMap volume; no default resolv.conf after it
		"/data:ro",            // readOnly: "false" is a non-empty string
		"/var/run/secrets/kubernetes.io/serviceaccount:ro",
		"/etc/hosts:rw",
		"/dev/termination-log:rw",
		"/etc/hostname:rw",
	})

	assert.Equal(t, init["name"], "example.com/init:1")
	assert.Equal(t, init["allow_elevated"], true)
	assert.Equal(t, len(init["capabilities"].(map[string]any)["inheritable"].([]any)), 41)
	assert.DeepEqual(t, init["command"], []any{"/init"})
	assert.DeepEqual(t, init["signals"], []any{json.Number("9"), json.Number("15"), json.Number("2")})
	assert.DeepEqual(t, init["user"].(map[string]any)["user_idname"], map[string]any{"pattern": "0", "strategy": "id"})
	for _, m := range init["mounts"].([]any) {
		assert.Check(t, !strings.HasPrefix(m.(map[string]any)["destination"].(string), "/sys"), "a string privileged gets no /sys mounts")
	}
}
