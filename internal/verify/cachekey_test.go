package verify

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"gotest.tools/v3/assert"
)

// The cache key changes with each thing that decides a verdict: the
// framework's and the API's text, the hcsshim and OPA modules, and this
// package's replay code.
func TestCacheKey(t *testing.T) {
	deps := []*debug.Module{
		{Path: "github.com/Microsoft/hcsshim", Version: "v0.14.1", Sum: "h1:a"},
		{Path: "github.com/open-policy-agent/opa", Version: "v1.22.2", Sum: "h1:b"},
		{Path: "example.com/other", Version: "v1.0.0"},
	}
	sources := fstest.MapFS{"uvm.go": {Data: []byte("package verify\n")}}
	base := cacheKeyOf("framework", "api", deps, sources)
	assert.Assert(t, strings.HasPrefix(base, "sha256:"))
	assert.Equal(t, cacheKeyOf("framework", "api", deps, sources), base)

	with := func(i int, m debug.Module) []*debug.Module {
		out := slices.Clone(deps)
		out[i] = &m
		return out
	}
	for name, key := range map[string]string{
		"framework":     cacheKeyOf("framework 2", "api", deps, sources),
		"api":           cacheKeyOf("framework", "api 2", deps, sources),
		"hcsshim":       cacheKeyOf("framework", "api", with(0, debug.Module{Path: "github.com/Microsoft/hcsshim", Version: "v0.14.2", Sum: "h1:c"}), sources),
		"opa sum":       cacheKeyOf("framework", "api", with(1, debug.Module{Path: "github.com/open-policy-agent/opa", Version: "v1.22.2", Sum: "h1:d"}), sources),
		"opa replaced":  cacheKeyOf("framework", "api", with(1, debug.Module{Path: "github.com/open-policy-agent/opa", Version: "v1.22.2", Sum: "h1:b", Replace: &debug.Module{Path: "../opa", Version: "(devel)"}}), sources),
		"no build info": cacheKeyOf("framework", "api", nil, sources),
		"replay code":   cacheKeyOf("framework", "api", deps, fstest.MapFS{"uvm.go": {Data: []byte("package verify\n\n")}}),
		"another file":  cacheKeyOf("framework", "api", deps, fstest.MapFS{"uvm.go": {Data: []byte("package verify\n")}, "new.go": {}}),
	} {
		assert.Assert(t, key != base, name)
	}
	// Other modules do not count.
	assert.Equal(t, cacheKeyOf("framework", "api", deps[:2], sources), base)
	assert.Equal(t, CacheKey(), CacheKey())
}

// Every non-test Go file of the package is part of the cache key.
func TestCacheKeySources(t *testing.T) {
	files, err := filepath.Glob("*.go")
	assert.NilError(t, err)
	var want []string
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") && f != "doc.go" {
			want = append(want, f)
		}
	}
	entries, err := replayRules.ReadDir(".")
	assert.NilError(t, err)
	var got []string
	for _, e := range entries {
		b, err := replayRules.ReadFile(e.Name())
		assert.NilError(t, err)
		on, err := os.ReadFile(e.Name())
		assert.NilError(t, err)
		assert.Equal(t, string(b), string(on))
		got = append(got, e.Name())
	}
	slices.Sort(want)
	assert.DeepEqual(t, got, want)
}
