package fn_test

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/internal/ccpolicy"
	"cocofy.dev/cocofy/internal/fragment"
	"cocofy.dev/cocofy/internal/testing/registrytest"
	"cocofy.dev/cocofy/internal/testing/testca"
	"cocofy.dev/cocofy/pipeline"
)

// fragImage is an image of one layer of its own on the loopback registry,
// and a count of the requests for that layer's blob.
type fragImage struct {
	ref   string // host/repo:1
	layer string // the layer's digest
	blobs *atomic.Int64
}

func pushFragImage(t *testing.T, reg *registrytest.Registry, repo string) fragImage {
	t.Helper()
	img := registrytest.Image(t, repo, "linux/amd64", v1.Config{Cmd: []string{"/app"}, Env: []string{"PATH=/bin"}},
		registrytest.Layer(t, registrytest.File{Name: "bin/", Typeflag: tar.TypeDir},
			registrytest.File{Name: "bin/app", Body: "#!/bin/sh\necho " + repo + "\n", Mode: 0o755}))
	reg.Push(t, repo+":1", img)
	layers, err := img.Layers()
	assert.NilError(t, err)
	d, err := layers[0].Digest()
	assert.NilError(t, err)
	return fragImage{ref: reg.Ref(repo + ":1"), layer: d.String(), blobs: &atomic.Int64{}}
}

// countLayerBlobs counts, for each image, the requests for its layer.
func countLayerBlobs(reg *registrytest.Registry, imgs ...fragImage) {
	reg.SetFault(func(_ http.ResponseWriter, r *http.Request) bool {
		for _, im := range imgs {
			if strings.Contains(r.URL.Path, "/blobs/"+im.layer) {
				im.blobs.Add(1)
			}
		}
		return false
	})
}

// fragPod is a Pod running ref as container app, with args when given.
func fragPod(name, ref string, command ...string) string {
	s := "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: shop}\nspec:\n  containers:\n  - name: app\n    image: " + ref + "\n"
	if len(command) > 0 {
		b, _ := json.Marshal(command)
		s += "    command: " + string(b) + "\n"
	}
	return s
}

func fragConfig(t *testing.T, entries string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "cocofy.yaml")
	body := "apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: virtual-node\n"
	if entries != "" {
		body += "  policy:\n    imageFragments:\n" + entries
	}
	assert.NilError(t, os.WriteFile(cfg, []byte(body), 0o644))
	return cfg
}

// policies returns each rendered pod's policy Rego, by pod name.
func policies(t *testing.T, out string) map[string]string {
	t.Helper()
	nodes, err := kio.FromBytes([]byte(out))
	assert.NilError(t, err)
	got := map[string]string{}
	for _, n := range nodes {
		v, err := n.Pipe(yaml.Lookup("metadata", "annotations", pipeline.AnnotationCCEPolicy))
		assert.NilError(t, err)
		assert.Assert(t, v != nil, out)
		rego, err := ccpolicy.Decode(v.YNode().Value)
		assert.NilError(t, err)
		got[n.GetName()] = rego
	}
	return got
}

// fragmentRego is a fragment describing exactly the containers given (a
// publisher who wrote the virtual-node container its chart runs).
func fragmentRego(t *testing.T, svn string, containers ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(containers)
	assert.NilError(t, err)
	return fmt.Sprintf("package shop\n\nsvn := %q\nframework_version := \"0.2.3\"\n\nfragments := []\n\ncontainers := %s\n", svn, b)
}

// A chart user's render with an image-attached fragment, through the CLI
// and a registry: the pod that runs the image as the fragment describes
// imports it and leaves its container out; the pod that changes the
// command lists its container with the fragment's layer root hashes; and
// no layer of the image is downloaded.
func TestRenderWithImageFragments(t *testing.T) {
	for name, opts := range map[string][]registrytest.Option{
		"tag-schema":    nil,
		"referrers-api": {registrytest.WithReferrersAPI()},
	} {
		t.Run(name, func(t *testing.T) { renderWithImageFragments(t, registrytest.Start(t, opts...)) })
	}
}

func renderWithImageFragments(t *testing.T, reg *registrytest.Registry) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	p := newPublisher(t)
	im := pushFragImage(t, reg, "shop/app")

	// The publisher describes the container as a virtual node runs it.
	t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
	out, stderr, err := runWith(t, fn.RegistryDeps, fragPod("app", im.ref), "--config", fragConfig(t, ""))
	assert.NilError(t, err, stderr)
	described := policyContainers(t, out)[0]
	feed := reg.Host + "/shop/app"
	cose, stderr, err := runWith(t, testDeps, "", "fragment", "sign", "--key", p.key, "--chain", p.chain, "--feed", feed,
		p.write(t, "shop.rego", fragmentRego(t, "2", described)))
	assert.NilError(t, err, stderr)
	_, stderr, err = runWith(t, testDeps, "", "fragment", "attach", "--image", im.ref, p.write(t, "shop.rego.cose", cose))
	assert.NilError(t, err, stderr)
	issuer, err := fragment.DidX509(p.ca.Certs)
	assert.NilError(t, err)

	// The chart user trusts the publisher's issuer, with an empty cache.
	t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
	countLayerBlobs(reg, im)
	cfg := fragConfig(t, "    - {issuer: '"+issuer+"', feed: '"+feed+"', minimumSVN: '2'}\n")
	in := fragPod("same", im.ref) + "---\n" + fragPod("changed", im.ref, "/app", "--other")
	out, stderr, err = runWith(t, fn.RegistryDeps, in, "--config", cfg, "-v")
	assert.NilError(t, err, stderr)
	assert.Equal(t, im.blobs.Load(), int64(0), "layer blob requests")
	assert.Assert(t, strings.Contains(stderr, "the layer root hashes come from the policy fragment sha256:"), stderr)

	pols := policies(t, out)
	same, err := ccpolicy.Containers(pols["same"])
	assert.NilError(t, err)
	assert.Equal(t, len(same), 1, "only the pause container: %v", same)
	assert.Assert(t, same[0]["name"] != "app", same)
	for _, s := range []string{`"issuer":"` + issuer + `"`, `"feed":"` + feed + `"`, `"minimum_svn":"2"`} {
		assert.Assert(t, strings.Contains(strings.ReplaceAll(pols["same"], " ", ""), s), pols["same"])
	}
	assert.Assert(t, strings.Contains(stderr, "containers app are left out of the CCE policy"), stderr)

	changed, err := ccpolicy.Containers(pols["changed"])
	assert.NilError(t, err)
	assert.Equal(t, changed[0]["name"], "app")
	assert.DeepEqual(t, changed[0]["layers"], described["layers"])
	assert.Assert(t, !strings.Contains(pols["changed"], issuer), "imports only what covers a container")

	// verify accepts what render wrote: the covered container is replayed
	// with the fragment loaded, as the guest does.
	verified, stderr, err := runWith(t, fn.RegistryDeps, out, "verify", "--config", cfg, "-v")
	assert.NilError(t, err, stderr)
	assert.Equal(t, verified, out)
	assert.Equal(t, strings.Count(stderr, "verified: the enforcer allows every container"), 2, stderr)
	assert.Equal(t, strings.Count(stderr, "the enforcer loaded the policy fragment sha256:"), 1, stderr)

	// The lock file records the fragment: lockMode use replays it offline.
	lockCfg := filepath.Join(t.TempDir(), "cocofy.yaml")
	cfgText, err := os.ReadFile(cfg)
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(lockCfg, append(cfgText, "  images: {lockFile: images.lock.yaml}\n"...), 0o644))
	online, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", lockCfg, "--lock-mode", "update")
	assert.NilError(t, err, stderr)
	assert.Equal(t, online, out)
	lock, err := os.ReadFile(filepath.Join(filepath.Dir(lockCfg), "images.lock.yaml"))
	assert.NilError(t, err)
	sum := sha256.Sum256([]byte(cose))
	assert.Assert(t, strings.Contains(string(lock), "fragments:\n      - digest: sha256:"+hex.EncodeToString(sum[:])), string(lock))
	reg.Stop()
	offline, stderr, err := runWith(t, fn.RegistryDeps, in, "--config", lockCfg, "--lock-mode", "use", "-v")
	assert.NilError(t, err, stderr)
	assert.Assert(t, offline == out, stderr)
	assert.Assert(t, strings.Contains(stderr, "containers app are left out of the CCE policy"), stderr)
}

// A fragment the guest would refuse, or one the config does not trust, is
// ignored with an info result naming why, and the policy is computed from
// the image's layers.
func TestRenderIgnoresUntrustedImageFragments(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	p := newPublisher(t)
	other := testca.New(t, "Contoso", testca.P384)
	issuer, err := fragment.DidX509(p.ca.Certs)
	assert.NilError(t, err)
	reg := registrytest.Start(t, registrytest.WithReferrersAPI())
	rego := fragmentRego(t, "2", map[string]any{"id": "x", "name": "app", "layers": []string{strings.Repeat("0", 64)}})
	sign := func(chain *testca.Chain, feed string) []byte {
		raw, err := fragment.Sign([]byte(rego), chain.KeyPEM, chain.ChainPEM, fragment.SignOptions{Feed: feed})
		assert.NilError(t, err)
		return raw
	}
	for name, tc := range map[string]struct {
		envelope   func(feed string) []byte
		minimum    string
		configFeed string
		why        string
	}{
		"flipped-byte": {envelope: func(feed string) []byte {
			raw := sign(p.ca, feed)
			i := strings.Index(string(raw), "containers := ")
			raw[i] = 'C'
			return raw
		}, minimum: "1", why: "the guest would refuse it: signature does not verify"},
		"wrong-feed":       {envelope: func(feed string) []byte { return sign(p.ca, feed+"-other") }, minimum: "1", configFeed: "same", why: "is not one spec.policy.imageFragments lists for its issuer"},
		"untrusted-issuer": {envelope: func(feed string) []byte { return sign(other, feed) }, minimum: "1", why: "is not one of spec.policy.imageFragments"},
		"lower-svn":        {envelope: func(feed string) []byte { return sign(p.ca, feed) }, minimum: "3", why: "bad svn: svn 2 is below the minimum 3"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
			im := pushFragImage(t, reg, "shop/"+name)
			feed := reg.Host + "/shop/" + name
			_, err := fragment.Attach(context.Background(), im.ref, tc.envelope(feed), fragment.AttachOptions{})
			assert.NilError(t, err)
			countLayerBlobs(reg, im)
			entry := "    - {issuer: '" + issuer + "', minimumSVN: '" + tc.minimum + "'"
			if tc.configFeed != "" {
				entry += ", feed: '" + feed + "'"
			}
			out, stderr, err := runWith(t, fn.RegistryDeps, fragPod("app", im.ref), "--config", fragConfig(t, entry+"}\n"), "-v")
			assert.NilError(t, err, stderr)
			assert.Assert(t, strings.Contains(stderr, "ignored the policy fragment sha256:"), stderr)
			assert.Assert(t, strings.Contains(stderr, tc.why), stderr)
			assert.Assert(t, im.blobs.Load() > 0, "the layers are hashed")
			cs := policyContainers(t, out)
			assert.Equal(t, cs[0]["name"], "app")
			assert.Assert(t, cs[0]["layers"].([]any)[0] != strings.Repeat("0", 64))
		})
	}
}

// verify loads the fragments a policy imports as the guest does: from the
// lock file (lockMode use) here, each checked as cocofy fragment verify
// checks it, then offered to hcsshim's enforcer. A pod rendered with a
// good fragment fails verify when the lock file records a fragment that
// the guest would not load, or whose container is not the pod's, and the
// error names why.
func TestVerifyLoadsImageFragments(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
	p := newPublisher(t)
	other := testca.New(t, "Fabrikam", testca.P384)
	reg := registrytest.Start(t)
	im := pushFragImage(t, reg, "shop/app")
	out, stderr, err := runWith(t, fn.RegistryDeps, fragPod("app", im.ref), "--config", fragConfig(t, ""))
	assert.NilError(t, err, stderr)
	described := policyContainers(t, out)[0]
	feed := reg.Host + "/shop/app"
	sign := func(chain *testca.Chain, feed, svn string, container map[string]any) []byte {
		raw, err := fragment.Sign([]byte(fragmentRego(t, svn, container)), chain.KeyPEM, chain.ChainPEM, fragment.SignOptions{Feed: feed})
		assert.NilError(t, err)
		return raw
	}
	good := sign(p.ca, feed, "2", described)
	_, err = fragment.Attach(context.Background(), im.ref, good, fragment.AttachOptions{})
	assert.NilError(t, err)
	issuer, err := fragment.DidX509(p.ca.Certs)
	assert.NilError(t, err)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "cocofy.yaml")
	body := "apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: virtual-node\n  images: {lockFile: images.lock.yaml}\n" +
		"  policy:\n    imageFragments:\n    - {issuer: '" + issuer + "', feed: '" + feed + "', minimumSVN: '2'}\n"
	assert.NilError(t, os.WriteFile(cfg, []byte(body), 0o644))
	out, stderr, err = runWith(t, fn.RegistryDeps, fragPod("app", im.ref), "--config", cfg, "--lock-mode", "update")
	assert.NilError(t, err, stderr)
	lock, err := os.ReadFile(filepath.Join(dir, "images.lock.yaml"))
	assert.NilError(t, err)
	reg.Stop()
	verifyWith := func(t *testing.T, envelope []byte) (string, error) {
		t.Helper()
		text := strings.Replace(string(lock), digestOf(good), digestOf(envelope), 1)
		text = strings.Replace(text, base64.StdEncoding.EncodeToString(good), base64.StdEncoding.EncodeToString(envelope), 1)
		assert.NilError(t, os.WriteFile(filepath.Join(dir, "images.lock.yaml"), []byte(text), 0o644))
		_, stderr, err := runWith(t, fn.RegistryDeps, out, "verify", "--config", cfg, "--lock-mode", "use", "-v")
		return stderr, err
	}

	stderr, err = verifyWith(t, good)
	assert.NilError(t, err, stderr)
	assert.Assert(t, strings.Contains(stderr, "the enforcer loaded the policy fragment "+digestOf(good)+" attached to "+im.ref+"@sha256:"), stderr)
	assert.Assert(t, strings.Contains(stderr, "(issuer "+issuer+", feed "+feed+"), as the guest does"), stderr)

	changed := map[string]any{}
	for k, v := range described {
		changed[k] = v
	}
	changed["command"] = []string{"/app", "--other"}
	flipped := sign(p.ca, feed, "2", described)
	flipped[strings.Index(string(flipped), "containers := ")] = 'C'
	for name, tc := range map[string]struct {
		envelope []byte
		why      string
	}{
		"flipped-byte":     {flipped, "signature does not verify"},
		"wrong-feed":       {sign(p.ca, feed+"-other", "2", described), "feed " + feed + "-other): the enforcer refuses the fragment: invalid fragment feed"},
		"untrusted-issuer": {sign(other, feed, "2", described), "the enforcer refuses the fragment: invalid fragment issuer"},
		"lower-svn":        {sign(p.ca, feed, "1", described), "bad svn: svn 1 is below the minimum 2 (the policy's import of its issuer and feed)"},
		"other-container":  {sign(p.ca, feed, "2", changed), `the enforcer denies container "app" at create_container: invalid command`},
	} {
		t.Run(name, func(t *testing.T) {
			stderr, err := verifyWith(t, tc.envelope)
			assert.ErrorContains(t, err, "error")
			assert.Assert(t, strings.Contains(stderr, tc.why), stderr)
			if name != "other-container" {
				assert.Assert(t, strings.Contains(stderr, "the policy imports the fragments of issuer "+issuer+", feed "+feed+", svn at least 2, and the guest loads none of the fragments attached to the pod's images: the policy fragment "+digestOf(tc.envelope)), stderr)
			}
		})
	}
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
