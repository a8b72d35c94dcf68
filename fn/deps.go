package fn

import (
	"context"
	"io"

	"cocofy.dev/cocofy/internal/cache"
	"cocofy.dev/cocofy/internal/layerhash"
	"cocofy.dev/cocofy/internal/lockfile"
	"cocofy.dev/cocofy/internal/registry"
	"cocofy.dev/cocofy/pipeline"
)

// RegistryDeps builds the real services from a config: the registry client
// with the on-disk cache, behind the lock file when one is configured. In
// lockMode use no registry client is made at all.
//
// For target virtual-node the client also computes the dm-verity root hash
// of every layer that is not cached (downloading it), printing progress.
func RegistryDeps(ctx context.Context, c *Config, progress io.Writer) (Deps, error) {
	imgs := c.Spec.Images
	var reg *registry.Client
	if imgs.LockMode != string(lockfile.Use) {
		o := registry.Options{Insecure: imgs.InsecureRegistries, Cache: cache.Default()}
		if c.Spec.AttachPolicy() {
			o.Hasher = &layerhash.Hasher{Cache: cache.Default(), Progress: progress}
		}
		reg = registry.New(o)
	}
	checks := cache.Default()
	if imgs.LockFile == "" {
		return Deps{Deps: pipeline.Deps{Resolver: reg, Inspector: reg, Checks: checks}}, nil
	}
	var up lockfile.Upstream
	if reg != nil {
		up = reg
	}
	src, err := lockfile.Open(c.LockFile(), lockfile.Mode(imgs.LockMode), imgs.Platform, up)
	if err != nil {
		return Deps{}, err
	}
	src.NeedRootHashes = c.Spec.AttachPolicy()
	return Deps{Deps: pipeline.Deps{Resolver: src, Inspector: src, Checks: checks}, Commit: src.Commit}, nil
}
