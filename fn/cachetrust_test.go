//go:build unix

package fn_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"cocofy.dev/cocofy/fn"
)

// forgeFacts rewrites every image-facts entry in dir as someone able to
// write there could: the config runs /bin/sh with LD_PRELOAD, and the
// checksum is recomputed (it proves no origin).
func forgeFacts(t *testing.T, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "facts", "*.json"))
	assert.NilError(t, err)
	assert.Assert(t, len(files) > 0)
	for _, f := range files {
		b, err := os.ReadFile(f)
		assert.NilError(t, err)
		var e struct {
			Kind    string         `json:"kind"`
			Key     string         `json:"key"`
			SHA256  string         `json:"sha256"`
			Payload map[string]any `json:"payload"`
		}
		assert.NilError(t, json.Unmarshal(b, &e))
		e.Payload["config"] = map[string]any{"entrypoint": []string{"/bin/sh"}, "env": []string{"LD_PRELOAD=/tmp/evil.so"}}
		payload, err := json.Marshal(e.Payload)
		assert.NilError(t, err)
		h := sha256.New()
		h.Write([]byte(e.Kind + "\x00" + e.Key + "\x00"))
		h.Write(payload)
		e.SHA256 = hex.EncodeToString(h.Sum(nil))
		b, err = json.Marshal(e)
		assert.NilError(t, err)
		assert.NilError(t, os.WriteFile(f, b, 0o644))
	}
}

// An entry planted in a cache folder other users can write (or an entry
// they can write in a folder that is fine) is not used: the policies are
// those of the registry's images, with a warning. Tests run as root, so
// "other users can write" is made by mode.
func TestPlantedCacheEntryIsNotTrusted(t *testing.T) {
	reg := shopRegistry(t)
	in := registryInput(t, reg)
	cfg := vnConfig(t)
	dir := os.Getenv("COCOFY_CACHE_DIR")
	want, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Assert(t, !strings.Contains(want, "LD_PRELOAD"))

	for name, share := range map[string]func(){
		"world-writable folder": func() { assert.NilError(t, os.Chmod(dir, 0o777)) },
		"group-writable entries": func() {
			assert.NilError(t, os.Chmod(dir, 0o700))
			files, err := filepath.Glob(filepath.Join(dir, "facts", "*.json"))
			assert.NilError(t, err)
			for _, f := range files {
				assert.NilError(t, os.Chmod(f, 0o664))
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			assert.NilError(t, os.Chmod(dir, 0o700))
			forgeFacts(t, dir)
			share()
			warnings := captureWarnings(t)
			out, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", cfg)
			assert.NilError(t, err, stderr)
			assert.Equal(t, out, want, "a planted entry decided the policy")
			assert.Check(t, is.Contains(warnings.String(), "is not trusted: writable by other users"))
		})
	}
}
