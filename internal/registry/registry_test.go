package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"cocofy.dev/cocofy/cache"
	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/registry"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

var anon = authn.NewMultiKeychain() // never reads the user's docker config

func TestResolveTagsAndDigests(t *testing.T) {
	reg := registrytest.Start(t)
	var digests []string
	for _, tag := range []string{"1", "2", "3"} {
		digests = append(digests, reg.Push(t, "app:"+tag, registrytest.Image(t, "app"+tag, "linux/amd64", v1.Config{})))
	}
	c := registry.New(registry.Options{Keychain: anon})
	ctx := context.Background()
	for i, tag := range []string{"1", "2", "3"} {
		pin, err := c.Resolve(ctx, reg.Ref("app:"+tag))
		assert.NilError(t, err)
		assert.Equal(t, pin.Digest, digests[i])
	}
	assert.Assert(t, digests[0] != digests[1] && digests[1] != digests[2])

	pinned := reg.Ref("app:1@" + digests[0])
	pin, err := c.Resolve(ctx, pinned)
	assert.NilError(t, err)
	assert.Equal(t, pin.Digest, digests[0])

	_, err = c.Resolve(ctx, reg.Ref("app:1@"+digests[1][:len(digests[1])-4]+"0000"))
	assert.ErrorContains(t, err, "404 Not Found: "+reg.Ref("app")+" has no manifest sha256:")

	_, err = c.Resolve(ctx, reg.Ref("app:missing"))
	assert.ErrorContains(t, err, "resolving "+reg.Ref("app:missing")+": 404 Not Found: "+reg.Ref("app")+" has no manifest missing")
}

func TestInspectIndexPicksPlatform(t *testing.T) {
	reg := registrytest.Start(t)
	cfg := v1.Config{Entrypoint: []string{"/bin/app"}, Cmd: []string{"--serve"}, Env: []string{"PATH=/bin"},
		WorkingDir: "/srv", User: "1000", StopSignal: "SIGQUIT"}
	idx := registrytest.Index(t, "multi", cfg, "linux/arm64", "linux/amd64")
	idxDigest := reg.Push(t, "multi:1", idx)
	im, err := idx.IndexManifest()
	assert.NilError(t, err)
	amd64 := im.Manifests[1].Digest.String()

	c := registry.New(registry.Options{Keychain: anon})
	f, err := c.Inspect(context.Background(), reg.Ref("multi:1"), "linux/amd64")
	assert.NilError(t, err)
	assert.Equal(t, f.Digest, idxDigest)
	assert.Equal(t, f.ManifestDigest, amd64)
	assert.Equal(t, f.Architecture, "amd64")
	assert.DeepEqual(t, f.Config, image.Config{Entrypoint: []string{"/bin/app"}, Cmd: []string{"--serve"},
		Env: []string{"PATH=/bin"}, WorkingDir: "/srv", User: "1000", StopSignal: "SIGQUIT"})
	assert.Assert(t, is.Len(f.Layers, 1))

	_, err = c.Inspect(context.Background(), reg.Ref("multi:1"), "linux/s390x")
	assert.ErrorContains(t, err, "no manifest for linux/s390x")

	reg.Push(t, "armonly:1", registrytest.Image(t, "arm", "linux/arm64", v1.Config{}))
	_, err = c.Inspect(context.Background(), reg.Ref("armonly:1"), "linux/amd64")
	assert.ErrorContains(t, err, "the image is for linux/arm64, not linux/amd64")
}

func TestInspectUsesCache(t *testing.T) {
	reg := registrytest.Start(t)
	reg.Push(t, "app:1", registrytest.Image(t, "app", "linux/amd64", v1.Config{Cmd: []string{"run"}}))
	dir := cache.Dir{Path: t.TempDir()}
	c := registry.New(registry.Options{Keychain: anon, Cache: dir})
	ctx := context.Background()
	first, err := c.Inspect(ctx, reg.Ref("app:1"), "linux/amd64")
	assert.NilError(t, err)
	before := reg.Blobs.Load()
	second, err := c.Inspect(ctx, reg.Ref("app:1"), "linux/amd64")
	assert.NilError(t, err)
	assert.DeepEqual(t, first, second)
	// Only the manifest: no config blob, no layers.
	assert.Equal(t, reg.Blobs.Load()-before, int64(0))
}

func TestBasicAuth(t *testing.T) {
	reg := registrytest.Start(t, registrytest.WithBasicAuth("ci", "s3cret-token"))
	d := reg.Push(t, "private:1", registrytest.Image(t, "private", "linux/amd64", v1.Config{}))

	_, err := registry.New(registry.Options{Keychain: anon}).Resolve(context.Background(), reg.Ref("private:1"))
	assert.ErrorContains(t, err, "401 Unauthorized: no or wrong credentials for "+reg.Host)

	kc := staticKeychain{host: reg.Host, auth: authn.FromConfig(authn.AuthConfig{Username: "ci", Password: "s3cret-token"})}
	pin, err := registry.New(registry.Options{Keychain: kc}).Resolve(context.Background(), reg.Ref("private:1"))
	assert.NilError(t, err)
	assert.Equal(t, pin.Digest, d)

	bad := staticKeychain{host: reg.Host, auth: authn.FromConfig(authn.AuthConfig{Username: "ci", Password: "wrong-password"})}
	_, err = registry.New(registry.Options{Keychain: bad}).Resolve(context.Background(), reg.Ref("private:1"))
	assert.ErrorContains(t, err, "401 Unauthorized")
	assert.Assert(t, !strings.Contains(err.Error(), "wrong-password"), "credentials in %q", err)
}

func TestRedact(t *testing.T) {
	err := registry.Redact(errors.New(`GET https://user:pw@blob.example/b/sha256:1?sig=SECRET&se=1: 403`))
	assert.Equal(t, err.Error(), `GET https://REDACTED@blob.example/b/sha256:1?REDACTED: 403`)
}

type staticKeychain struct {
	host string
	auth authn.Authenticator
}

func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == k.host {
		return k.auth, nil
	}
	return authn.Anonymous, nil
}

// An image config above MaxConfigSize is refused from the size its
// manifest gives, before any of it is read (a 3 GB config once ran cocofy
// out of memory; this one is just above the limit).
func TestInspectRefusesHugeConfig(t *testing.T) {
	reg := registrytest.Start(t)
	env := make([]string, 0, registry.MaxConfigSize/(1<<10)+1)
	for len(env) < cap(env) {
		env = append(env, "V="+strings.Repeat("x", 1<<10))
	}
	reg.Push(t, "huge:1", registrytest.Image(t, "huge", "linux/amd64", v1.Config{Env: env}))
	c := registry.New(registry.Options{Keychain: anon})
	before := reg.Blobs.Load()
	_, err := c.Inspect(context.Background(), reg.Ref("huge:1"), "linux/amd64")
	assert.ErrorContains(t, err, "the image config is ")
	assert.ErrorContains(t, err, "more than the 16777216 cocofy reads")
	assert.Equal(t, reg.Blobs.Load()-before, int64(0), "the config was fetched")
}
