package fn

import (
	"context"

	"cocofy.dev/cocofy/internal/cache"
	"cocofy.dev/cocofy/internal/lockfile"
	"cocofy.dev/cocofy/internal/registry"
	"cocofy.dev/cocofy/pipeline"
)

// RegistryDeps builds the real services from a config: the registry client
// with the on-disk cache, behind the lock file when one is configured. In
// lockMode use no registry client is made at all.
func RegistryDeps(ctx context.Context, c *Config) (Deps, error) {
	imgs := c.Spec.Images
	var reg *registry.Client
	if imgs.LockMode != string(lockfile.Use) {
		reg = registry.New(registry.Options{Insecure: imgs.InsecureRegistries, Cache: cache.Default()})
	}
	if imgs.LockFile == "" {
		return Deps{Deps: pipeline.Deps{Resolver: reg, Inspector: reg}}, nil
	}
	var up lockfile.Upstream
	if reg != nil {
		up = reg
	}
	src, err := lockfile.Open(c.LockFile(), lockfile.Mode(imgs.LockMode), imgs.Platform, up)
	if err != nil {
		return Deps{}, err
	}
	return Deps{Deps: pipeline.Deps{Resolver: src, Inspector: src}, Commit: src.Commit}, nil
}
