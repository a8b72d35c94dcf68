package verify

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"runtime/debug"
	"sync"

	opaversion "github.com/open-policy-agent/opa/v1/version"
)

// replayRules are this package's own sources: how the guest's steps are
// replayed and how the fast enforcer follows hcsshim's. Every non-test Go
// file of the package is listed (TestCacheKeySources checks it), so that a
// change to any of them is a change of [CacheKey].
//
//go:embed errors.go fast.go frame.go jsonrules.go shape.go uvm.go uvm_stub.go verify.go cachekey.go
var replayRules embed.FS

// enforcerModules are the modules whose code decides a verdict: hcsshim's
// enforcer and the OPA it runs.
var enforcerModules = []string{"github.com/Microsoft/hcsshim", "github.com/open-policy-agent/opa"}

// CacheKey identifies what decides a verdict of [Policy], for caches of
// verdicts kept across runs: hcsshim's framework.rego and api.rego text,
// the versions (and sums) of hcsshim and OPA this binary was built with
// (from its build information; OPA's own version string too, for test
// binaries, which carry no module information), and this package's replay
// code. A cached verdict is valid only under the
// same CacheKey; it changes by itself whenever one of them does, with no
// version string to bump by hand. It is computed once per process.
func CacheKey() string { return cacheKey() }

var cacheKey = sync.OnceValue(func() string {
	var deps []*debug.Module
	if info, ok := debug.ReadBuildInfo(); ok {
		deps = info.Deps
	}
	framework, api := enforcerText()
	return cacheKeyOf(framework, api+"\x00opa "+opaversion.Version, deps, replayRules)
})

// cacheKeyOf hashes the framework and API text, the enforcer modules
// among deps (a module not found counts as "unknown": a binary built
// without module information) and every file of sources.
func cacheKeyOf(framework, api string, deps []*debug.Module, sources fs.FS) string {
	h := sha256.New()
	part := func(s string) { fmt.Fprintf(h, "%d:%s", len(s), s) }
	part(framework)
	part(api)
	for _, path := range enforcerModules {
		part(path + " " + moduleVersion(deps, path))
	}
	_ = fs.WalkDir(sources, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sources, name)
		part(name)
		part(string(b))
		return err
	})
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// moduleVersion is the version and sum of the module at path in deps, or
// of its replacement.
func moduleVersion(deps []*debug.Module, path string) string {
	for _, m := range deps {
		if m.Path != path {
			continue
		}
		if m.Replace != nil {
			m = m.Replace
		}
		return m.Path + "@" + m.Version + " " + m.Sum
	}
	return "unknown"
}
