package fn_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"

	"cocofy.dev/cocofy/fn"
)

var replayKey = regexp.MustCompile(`(enforcer(?:/| entry of )sha256[-:])[0-9a-f]{64}`)

// vnConfig writes a config for target virtual-node, which uses every kind
// of cache entry: image facts, layer root hashes, passed enforcer replays.
// check: warn, because the registry stream's debug Pod has an ephemeral
// container, which the guest refuses (an error by default).
func vnConfig(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "vn.yaml")
	assert.NilError(t, os.WriteFile(cfg, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec: {target: virtual-node, policy: {check: warn}}\n"), 0o644))
	return cfg
}

// captureWarnings collects what RegistryDeps reports when progress lines
// are off.
func captureWarnings(t *testing.T) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	t.Cleanup(fn.SetWarnings(&b))
	return &b
}

// An entry of the cache copied over another's file (of each kind: facts,
// root hash, passed replay) is not used: the output is the same as with
// a fresh cache, and each is reported.
func TestCacheEntryUnderTheWrongName(t *testing.T) {
	reg := shopRegistry(t)
	in := registryInput(t, reg)
	cfg := vnConfig(t)
	dir := os.Getenv("COCOFY_CACHE_DIR")
	want, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", cfg)
	assert.NilError(t, err, stderr)

	var moved []string
	for _, kind := range []string{"facts", "roothash", "enforcer"} {
		files, err := filepath.Glob(filepath.Join(dir, kind, "*.json"))
		assert.NilError(t, err)
		sort.Strings(files)
		assert.Assert(t, len(files) >= 2, "%s: %v", kind, files)
		b, err := os.ReadFile(files[0])
		assert.NilError(t, err)
		assert.NilError(t, os.WriteFile(files[1], b, 0o644))
		moved = append(moved, files[1])
		if kind == "facts" {
			// Only the misfiled facts are left, so that every image is
			// inspected again and reads its layers' root hashes.
			for _, f := range append(files[:1], files[2:]...) {
				assert.NilError(t, os.Remove(f))
			}
		}
	}

	warnings := captureWarnings(t)
	out, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Equal(t, out, want, "the policies must be those of the images' own layers")
	for _, f := range moved {
		assert.Assert(t, strings.Contains(warnings.String(), "warning: cache: "+f+" holds the "), "want a warning about %s in:\n%s", f, warnings)
	}
	assert.Equal(t, strings.Count(warnings.String(), "\n"), len(moved), warnings.String())
	// Images are inspected in parallel: sort. Replay keys hash the policy,
	// which names the registry's port.
	lines := strings.SplitAfter(warnings.String(), "\n")
	sort.Strings(lines)
	msg := replayKey.ReplaceAllString(strings.ReplaceAll(strings.Join(lines, ""), dir, "$COCOFY_CACHE_DIR"), "${1}<policy and pod hash>")
	golden.Assert(t, "# A cache entry copied over another's file (one of each kind: image facts, layer root hash, passed enforcer replay): each is ignored with a warning and recomputed; the run succeeds with the right policies\n"+msg,
		filepath.Join("registry", "errors", "cache-wrong-name.golden"))

	// Recomputed and stored again: the next run is quiet.
	warnings.Reset()
	out, _, err = runWith(t, fn.RegistryDeps, in, "--config", cfg)
	assert.NilError(t, err)
	assert.Equal(t, out, want)
	assert.Equal(t, warnings.String(), "")
}

// A cache that cannot be written (here its path is a regular file) is
// optional: one warning, and the run succeeds.
func TestUnwritableCacheIsAWarning(t *testing.T) {
	reg := shopRegistry(t)
	in := registryInput(t, reg)
	cfg := vnConfig(t)
	want, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", cfg)
	assert.NilError(t, err, stderr)

	blocked := filepath.Join(t.TempDir(), "cache")
	assert.NilError(t, os.WriteFile(blocked, []byte("a file, not a folder\n"), 0o644))
	t.Setenv("COCOFY_CACHE_DIR", blocked)
	warnings := captureWarnings(t)
	out, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", cfg)
	assert.NilError(t, err, stderr)
	assert.Equal(t, out, want)
	assert.Equal(t, strings.Count(warnings.String(), "warning: cache: "), 1, "warn once:\n%s", warnings)
	msg := strings.ReplaceAll(warnings.String(), blocked, "$COCOFY_CACHE_DIR")
	golden.Assert(t, "# A cache that cannot be written, here because COCOFY_CACHE_DIR is a regular file (also a read-only folder or a full disk): one warning, and the run goes on without the cache\n"+msg,
		filepath.Join("registry", "errors", "cache-unwritable.golden"))

	// With progress lines on, the warning goes with them to the command's stderr.
	warnings.Reset()
	out, stderr, err = runWith(t, fn.RegistryDeps, in, "--config", cfg, "--progress")
	assert.NilError(t, err, stderr)
	assert.Equal(t, out, want)
	assert.Equal(t, strings.Count(stderr, "warning: cache: cannot write"), 1, stderr)
	assert.Equal(t, warnings.String(), "")
}
