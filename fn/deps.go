package fn

import (
	"context"
	"fmt"
	"io"
	"time"

	"cocofy.dev/cocofy/cache"
	"cocofy.dev/cocofy/image"
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
//
// Cache problems (an entry under the wrong name, a cache that cannot be
// written) are warnings: on progress when progress lines are on, else on
// stderr, the command's. The run goes on without the cache.
func RegistryDeps(ctx context.Context, c *Config, progress, stderr io.Writer) (Deps, error) {
	imgs := c.Spec.Images
	// One cache for the run, so that a cache that cannot be written is
	// reported once.
	dir := cache.Default()
	dir.Log = progress
	if progress == io.Discard || progress == nil {
		dir.Log = stderr
		if warnings != nil {
			dir.Log = warnings
		}
	}
	if dir.Log == nil {
		dir.Log = io.Discard
	}
	var up lockfile.Upstream
	if imgs.LockMode != string(lockfile.Use) {
		o := registry.Options{Insecure: imgs.InsecureRegistries, Cache: dir, IdleTimeout: idleTimeout}
		if c.Spec.AttachPolicy() {
			o.Hasher = &layerhash.Hasher{Cache: dir, Progress: progress}
		}
		up = offlineHinting{registry.New(o)}
	}
	if imgs.LockFile == "" {
		d := Deps{Deps: pipeline.Deps{Resolver: up, Inspector: up, Checks: dir}}
		if fs, ok := up.(image.FragmentSource); ok {
			d.Fragments = fs
		}
		return d, nil
	}
	src, err := lockfile.Open(c.LockFile(), lockfile.Mode(imgs.LockMode), imgs.Platform, up)
	if err != nil {
		return Deps{}, hintMount(err)
	}
	src.NeedRootHashes = c.Spec.AttachPolicy()
	return Deps{Deps: pipeline.Deps{Resolver: src, Inspector: src, Fragments: src, Checks: dir}, Commit: commitLock(src, c.LockFile(), stderr)}, nil
}

// commitLock writes the lock file and reports on stderr one line per
// reference it added or changed: a reviewer of the file's diff should
// not be the first to see that a tag moved.
func commitLock(src *lockfile.Source, path string, stderr io.Writer) func() error {
	return func() error {
		changes := src.Changes()
		if err := src.Commit(); err != nil {
			return err
		}
		if stderr == nil {
			stderr = io.Discard
		}
		for _, c := range changes {
			fmt.Fprintf(stderr, "info: lock file %s: %s\n", path, c)
		}
		return nil
	}
}

// idleTimeout is how long a registry response body may send nothing;
// zero means registry.DefaultIdleTimeout. Tests shorten it.
var idleTimeout time.Duration

// warnings, when set, receives the cache problems RegistryDeps would
// report on stderr. Only tests set it (SetWarnings).
var warnings io.Writer
