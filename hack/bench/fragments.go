package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"cocofy.dev/cocofy/internal/fragment"
	"cocofy.dev/cocofy/internal/testing/testca"
)

// Names of the fragments group's measurements.
const (
	nFragBase = "4 pipelines, 20-image chart, cold caches, no fragments"
	nFragUsed = "4 pipelines, 20-image chart, cold caches, image-attached fragments"
	// fragImages and pipelines are the chart's images and the pipelines
	// that render it, each with an empty cache.
	fragImages = 20
	pipelines  = 4
)

// fragRun is what the fragments group measured: the layer bytes the
// registry served for the 4 pipelines, without and with the fragments.
type fragRun struct {
	baseBytes, usedBytes int64
	ran                  bool
}

// runFragments measures what image-attached fragments save (group
// fragments): the publisher of each of the first 20 small images makes,
// signs and attaches a fragment (cocofy fragment generate and attach);
// then 4 pipelines, each with an empty cache, render a chart of 20
// Deployments, one image each, without policy.imageFragments (every layer
// is downloaded and hashed) and with it (only manifests, configs and
// fragments are read). Each repetition runs the 4 pipelines one after the
// other, without then with; its time is theirs together, and the layer
// bytes are counted at the registry.
func (b *bench) runFragments() {
	if !want("fragments") {
		return
	}
	imgs := b.small[:fragImages]
	issuer := b.attachFragments(imgs)
	var refs []string
	for _, im := range imgs {
		refs = append(refs, im.ref)
	}
	chart := oneImageChart(refs)
	base := vnConfig(b.h)
	used := writeTemp(b.h, "apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: virtual-node\n  policy:\n    imageFragments:\n    - {issuer: '"+issuer+"', minimumSVN: '1'}\n")
	results := run(coldEnv(b.h), text(chart), *cocofy, "-v", "--config", used)
	if got := strings.Count(results, "the layer root hashes come from the policy fragment"); got != fragImages {
		log.Printf("WARNING: the render with fragments took the root hashes of %d images of %d from their fragments", got, fragImages)
	}
	// cocofy fragment generate writes ACI containers, not the virtual
	// node's: the fragments give root hashes and cover no container.
	log.Printf("the fragments cover %d containers of %d", strings.Count(results, "are left out of the CCE policy"), fragImages)
	layerBytes := b.countLayerBytes(imgs)
	baseS, usedS := sample{Name: nFragBase}, sample{Name: nFragUsed}
	for range *reps {
		for _, m := range []struct {
			s     *sample
			cfg   string
			bytes *int64
		}{{&baseS, base, &b.frag.baseBytes}, {&usedS, used, &b.frag.usedBytes}} {
			layerBytes.Store(0)
			m.s.Times = append(m.s.Times, b.pipelines(chart, m.cfg))
			*m.bytes = layerBytes.Load()
		}
	}
	b.reg.SetFault(nil)
	b.frag.ran = true
	baseS.Note = fmt.Sprintf("%.1f MB of layers a repetition", mb(b.frag.baseBytes))
	usedS.Note = fmt.Sprintf("%.1f MB of layers a repetition", mb(b.frag.usedBytes))
	b.add(baseS)
	b.add(usedS)
}

// attachFragments makes a throw-away publisher (a P-384 CA chain) and
// attaches a signed fragment of each image to it, with cocofy's own
// commands; it returns the publisher's issuer.
func (b *bench) attachFragments(imgs []smallImage) string {
	chain := testca.New(b.h, "Bench Publisher", testca.P384)
	dir := mkdir(b.h)
	key, chainPEM := filepath.Join(dir, "key.pem"), filepath.Join(dir, "chain.pem")
	must(os.WriteFile(key, chain.KeyPEM, 0o600))
	must(os.WriteFile(chainPEM, chain.ChainPEM, 0o644))
	env := coldEnv(b.h)
	for i, im := range imgs {
		signed := filepath.Join(dir, fmt.Sprintf("app%d.rego.cose", i))
		repo := im.ref[:strings.LastIndex(im.ref, ":")] // the host has a port: cut the tag only
		out := command(env, text(""), *cocofy, "fragment", "generate", "--image", im.ref, "--namespace", fmt.Sprintf("app%d", i), "--svn", "1",
			"--key", key, "--chain", chainPEM, "--feed", repo)
		body, err := out.Output()
		if err != nil {
			log.Fatalf("cocofy fragment generate --image %s: %v", im.ref, err)
		}
		must(os.WriteFile(signed, body, 0o644))
		if msg := run(env, text(""), *cocofy, "fragment", "attach", "--image", im.ref, signed); strings.Contains(msg, "rror") {
			log.Fatalf("cocofy fragment attach --image %s: %s", im.ref, msg)
		}
	}
	issuer, err := fragment.DidX509(chain.Certs)
	must(err)
	log.Printf("attached a signed fragment to each of %d images (issuer %s)", len(imgs), issuer)
	return issuer
}

// countLayerBytes counts at the registry the bytes of the layer blobs of
// imgs that are fetched (GET), each at its compressed size.
func (b *bench) countLayerBytes(imgs []smallImage) *atomic.Int64 {
	sizes := map[string]int64{}
	for _, l := range smallLayers(imgs) {
		d, err := l.Digest()
		must(err)
		n, err := l.Size()
		must(err)
		sizes["/blobs/"+d.String()] = n
	}
	var total atomic.Int64
	b.reg.SetFault(func(_ http.ResponseWriter, r *http.Request) bool {
		if i := strings.Index(r.URL.Path, "/blobs/"); i >= 0 && r.Method == http.MethodGet {
			total.Add(sizes[r.URL.Path[i:]])
		}
		return false
	})
	return &total
}

// pipelines renders chart with cfg in 4 pipelines one after the other,
// each with an empty cache, and returns their time together.
func (b *bench) pipelines(chart, cfg string) time.Duration {
	start := time.Now()
	for range pipelines {
		if _, err := watchRun(coldEnv(b.h), text(chart), *cocofy, "--quiet", "--config", cfg); err != nil {
			log.Printf("a pipeline FAILED: %s", tail(err.Error(), 3000))
		}
	}
	return time.Since(start)
}

// oneImageChart is a chart of one Deployment per image.
func oneImageChart(refs []string) string {
	var s strings.Builder
	for i, ref := range refs {
		fmt.Fprintf(&s, "---\n# Source: bench/templates/app.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app%02d\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: %s\n        resources: {limits: {cpu: 100m, memory: 128Mi}}\n", i, ref)
	}
	return s.String()
}

// fragmentRatios are the ratio table's rows of the fragments group.
func (b *bench) fragmentRatios(row func(label, value, target string, need ...string)) {
	if !b.frag.ran {
		return
	}
	row(fmt.Sprintf("image-attached fragments / none: time of %d cold pipelines, %d-image chart", pipelines, fragImages),
		fmt.Sprintf("%s (%s / %s)", b.ratio(nFragUsed, nFragBase), ms(b.get(nFragUsed).median()), ms(b.get(nFragBase).median())), "< 1", nFragUsed, nFragBase)
	row("same, layer bytes downloaded", fmt.Sprintf("%.2f (%.1f MB / %.1f MB)", float64(b.frag.usedBytes)/float64(max(b.frag.baseBytes, 1)), mb(b.frag.usedBytes), mb(b.frag.baseBytes)), "0", nFragUsed, nFragBase)
}
