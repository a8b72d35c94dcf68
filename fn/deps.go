package fn

import (
	"context"
	"errors"
)

// RegistryDeps builds the real services from a config: the registry, the
// on-disk cache and the lock file.
func RegistryDeps(ctx context.Context, c *Config) (Deps, error) {
	return Deps{}, errors.New("TODO: registry deps")
}
