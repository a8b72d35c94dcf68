package registry_test

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/registry"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// A config without os or architecture says so.
func TestConfigWithoutPlatform(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	img := registrytest.Image(t, "noplat", "linux/amd64", v1.Config{})
	cf, err := img.ConfigFile()
	assert.NilError(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "", ""
	noPlatform, err := mutate.ConfigFile(img, cf)
	assert.NilError(t, err)
	reg.Push(t, "noplat:1", noPlatform)
	cf.OS = "linux"
	noArch, err := mutate.ConfigFile(img, cf)
	assert.NilError(t, err)
	reg.Push(t, "noarch:1", noArch)

	c := registry.New(registry.Options{Keychain: anon})
	_, err = c.Inspect(context.Background(), reg.Ref("noplat:1"), "linux/amd64")
	assert.ErrorContains(t, err, "the image config sets no os/architecture: cannot tell whether the image runs on linux/amd64")
	_, err = c.Inspect(context.Background(), reg.Ref("noarch:1"), "linux/amd64")
	assert.ErrorContains(t, err, "the image config sets no architecture: cannot tell")
}
