// Command bench measures cocofy against the physical floor and against the
// tools users would pick instead, in one run, and prints ratios. `make
// bench` runs it; BENCHMARKS.md records its output.
//
// The data set is made here, deterministically: a Debian rootfs layer (from
// `debootstrap --variant=minbase`, tarred with fixed owners and times) and
// 40 small images in a loopback registry, and a stream of 100 Deployments
// using those 40 images.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"

	"cocofy.dev/cocofy/internal/layerhash"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

var (
	rootfs   = flag.String("rootfs", "out/rootfs", "debootstrap --variant=minbase folder (made by hack/rootfs.sh)")
	reps     = flag.Int("reps", 5, "repetitions of each measurement")
	outDir   = flag.String("out", "out/bench", "where results and the plot go")
	cocofy   = flag.String("cocofy", "bin/cocofy", "cocofy binary")
	gnuTime  = flag.String("time", "/usr/bin/time", "GNU time, for the peak RSS of each command")
	dmverity = flag.String("dmverity-vhd", "bin/tools/dmverity-vhd", "dmverity-vhd binary (hcsshim v0.12.9)")
)

// harness implements registrytest.TB for a program.
type harness struct{ cleanups []func() }

func (*harness) Helper()                        {}
func (*harness) Fatal(args ...any)              { log.Fatal(args...) }
func (*harness) Fatalf(format string, a ...any) { log.Fatalf(format, a...) }
func (h *harness) Cleanup(f func())             { h.cleanups = append(h.cleanups, f) }
func (h *harness) close() {
	slices.Reverse(h.cleanups)
	for _, f := range h.cleanups {
		f()
	}
}

// sample is one measurement: its repetitions and the peak RSS of a child.
type sample struct {
	Name    string          `json:"name"`
	Times   []time.Duration `json:"times"`
	PeakRSS int64           `json:"peakRSSKiB,omitempty"`
	Note    string          `json:"note,omitempty"`
}

func (s sample) min() time.Duration { return slices.Min(s.Times) }
func (s sample) median() time.Duration {
	t := slices.Clone(s.Times)
	slices.Sort(t)
	return t[len(t)/2]
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	h := &harness{}
	defer h.close()
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		log.Fatal(err)
	}

	log.Printf("building the data set")
	debian := rootfsLayer(h)
	reg := registrytest.Start(h)
	debianRef := reg.Ref("bench/debian:bookworm")
	reg.Push(h, "bench/debian:bookworm", registrytest.Image(h, "debian", "linux/amd64", v1.Config{Cmd: []string{"bash"}}, debian))
	small := smallImages(h, reg)
	chart := chartStream(small)
	chartFile := filepath.Join(*outDir, "chart.yaml")
	must(os.WriteFile(chartFile, []byte(chart), 0o644))
	dsz, _ := debian.Size()
	log.Printf("debian layer: %.1f MB compressed, %.1f MB uncompressed; %d small images", mb(dsz), mb(uncompressedSize(debian)), len(small))

	var results []sample
	add := func(s sample) {
		results = append(results, s)
		log.Printf("%-44s min %8s  median %8s  %s", s.Name, s.min().Round(time.Millisecond), s.median().Round(time.Millisecond), rss(s.PeakRSS))
	}

	// 1. The floor: gunzip + sha256 of the uncompressed stream.
	layers := append([]v1.Layer{debian}, smallLayers(small)...)
	add(timeIt("floor: gunzip+sha256 (all layers)", func() { floor(layers) }))
	add(timeIt("floor: gunzip+sha256 (debian layer)", func() { floor(layers[:1]) }))

	// 2. cocofy's layer hashing, cold (no cache), in process.
	hasher := &layerhash.Hasher{Jobs: 2}
	add(timeIt("cocofy layerhash cold (all layers)", func() { hashAll(hasher, layers) }))
	add(timeIt("cocofy layerhash cold (debian layer)", func() { hashAll(hasher, layers[:1]) }))

	// 3. dmverity-vhd vs cocofy on the same images from the registry.
	if _, err := os.Stat(*dmverity); err == nil {
		add(timeCmd("dmverity-vhd roothash (debian image)", noEnv, "", *dmverity, "roothash", "-i", debianRef))
		add(timeCmd("cocofy render, cold cache (debian image)", cold(h), onePod(debianRef), *cocofy, "--quiet", "--config", vnConfig(h)))
	} else {
		log.Printf("skipping dmverity-vhd: %s not found (make tools)", *dmverity)
	}

	// 4. The whole chart: cold, warm, and from the lock file offline.
	cfg := vnConfig(h)
	warm := []string{"COCOFY_CACHE_DIR=" + mkdir(h), "DOCKER_CONFIG=" + mkdir(h)}
	before := reg.Blobs.Load()
	coldLog := filepath.Join(*outDir, "render-cold.stderr")
	must(os.WriteFile(coldLog, []byte(run(coldEnv(h), chart, *cocofy, "--config", cfg)), 0o644))
	before = reg.Blobs.Load()
	add(timeCmd("render 100 workloads, cold cache", cold(h), chart, *cocofy, "--quiet", "--config", cfg))
	coldBlobs := (reg.Blobs.Load() - before) / int64(*reps)
	run(warm, chart, *cocofy, "--quiet", "--config", cfg) // fill the warm cache
	before = reg.Blobs.Load()
	add(timeCmd("render 100 workloads, warm cache", same(warm), chart, *cocofy, "--quiet", "--config", cfg))
	warmBlobs := (reg.Blobs.Load() - before) / int64(*reps)
	lock := filepath.Join(mkdir(h), "images.lock.yaml")
	run(coldEnv(h), chart, *cocofy, "--quiet", "--config", cfg, "--lock", lock, "--lock-mode", "update")

	// 5. Pinning alone, at 0 and 20 ms round trip.
	pinCfg := writeTemp(h, "apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec: {target: pod-sandbox}\n")
	add(timeCmd("pin 100 workloads / 40 images, 0 ms RTT", cold(h), chart, *cocofy, "--quiet", "--config", pinCfg))
	reg.SetLatency(20 * time.Millisecond)
	s := timeCmd("pin 100 workloads / 40 images, 20 ms RTT", cold(h), chart, *cocofy, "--quiet", "--config", pinCfg)
	ideal := 40 * 20 * time.Millisecond / 16
	s.Note = fmt.Sprintf("ideal %s (40 round trips / 16 at a time)", ideal)
	add(s)
	reg.SetLatency(0)

	reg.Stop()
	add(timeCmd("render 100 workloads, lock file, registry stopped", cold(h), chart, *cocofy, "--quiet", "--config", cfg, "--lock", lock, "--lock-mode", "use"))

	get := func(name string) sample {
		for _, r := range results {
			if r.Name == name {
				return r
			}
		}
		return sample{Times: []time.Duration{0}}
	}
	ratio := func(a, b string) string {
		x, y := get(a).median(), get(b).median()
		if y == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", float64(x)/float64(y))
	}
	fmt.Println()
	fmt.Println("| ratio (medians) | value | target |")
	fmt.Println("|---|---:|---|")
	fmt.Printf("| cocofy layer hashing / gunzip+sha256 floor (all layers) | %s | ≤ 1.2 |\n", ratio("cocofy layerhash cold (all layers)", "floor: gunzip+sha256 (all layers)"))
	fmt.Printf("| cocofy layer hashing / floor (debian layer) | %s | ≤ 1.2 |\n", ratio("cocofy layerhash cold (debian layer)", "floor: gunzip+sha256 (debian layer)"))
	fmt.Printf("| dmverity-vhd / cocofy (debian image, from registry) | %s | ≥ 2 |\n", ratio("dmverity-vhd roothash (debian image)", "cocofy render, cold cache (debian image)"))
	fmt.Printf("| warm / cold render (100 workloads) | %s | |\n", ratio("render 100 workloads, warm cache", "render 100 workloads, cold cache"))
	fmt.Printf("| warm render, ms | %d | < 150 |\n", get("render 100 workloads, warm cache").median().Milliseconds())
	fmt.Printf("| layer downloads: cold / warm render | %d / %d | warm = 0 |\n", coldBlobs, warmBlobs)
	fmt.Printf("| pinning at 20 ms / ideal | %.2f | |\n", float64(get("pin 100 workloads / 40 images, 20 ms RTT").median())/float64(ideal))
	var peak int64
	for _, r := range results {
		peak = max(peak, r.PeakRSS)
	}
	fmt.Printf("| peak RSS of any cocofy run, MB | %.0f | < 300 |\n", float64(peak)/1024)

	b, _ := json.MarshalIndent(results, "", "  ")
	must(os.WriteFile(filepath.Join(*outDir, "results.json"), b, 0o644))
	must(os.WriteFile(filepath.Join(*outDir, "stages.svg"), []byte(plot(results)), 0o644))
	log.Printf("wrote %s and %s", filepath.Join(*outDir, "results.json"), filepath.Join(*outDir, "stages.svg"))
}

func timeIt(name string, f func()) sample {
	s := sample{Name: name}
	for range *reps {
		start := time.Now()
		f()
		s.Times = append(s.Times, time.Since(start))
	}
	return s
}

// timeCmd runs a command reps times, each with the environment env gives,
// and records its wall time and the largest peak RSS. The RSS is GNU time's
// (%M): the rusage of a child forked by this large harness would include
// the harness's own peak.
func timeCmd(name string, env func() []string, stdin string, prog string, args ...string) sample {
	s := sample{Name: name}
	for range *reps {
		rssFile := filepath.Join(os.TempDir(), "cocofy-bench-rss")
		start := time.Now()
		run(env(), stdin, *gnuTime, append([]string{"-f", "%M", "-o", rssFile, prog}, args...)...)
		s.Times = append(s.Times, time.Since(start))
		b, err := os.ReadFile(rssFile)
		must(err)
		kib, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		must(err)
		s.PeakRSS = max(s.PeakRSS, kib)
	}
	return s
}

// noEnv, same and cold give timeCmd the environment of each repetition:
// nothing extra, the same each time, or a new empty cache each time.
func noEnv() []string { return nil }

func same(env []string) func() []string { return func() []string { return env } }

func cold(h *harness) func() []string { return func() []string { return coldEnv(h) } }

// run runs a command, stopping the bench if it fails, and returns its
// stderr.
func run(env []string, stdin string, prog string, args ...string) string {
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errOut
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s %v: %v\n%s", prog, args, err, errOut.String())
	}
	return errOut.String()
}

func coldEnv(h *harness) []string {
	return []string{"COCOFY_CACHE_DIR=" + mkdir(h), "DOCKER_CONFIG=" + mkdir(h)}
}

func mkdir(h *harness) string {
	d, err := os.MkdirTemp("", "cocofy-bench-")
	must(err)
	h.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func writeTemp(h *harness, body string) string {
	p := filepath.Join(mkdir(h), "config.yaml")
	must(os.WriteFile(p, []byte(body), 0o644))
	return p
}

func vnConfig(h *harness) string {
	return writeTemp(h, "apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: virtual-node\n")
}

func onePod(ref string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: " + ref + "\n"
}

func floor(layers []v1.Layer) {
	for _, l := range layers {
		rc, err := l.Compressed()
		must(err)
		zr, err := gzip.NewReader(rc)
		must(err)
		h := sha256.New()
		_, err = io.Copy(h, zr)
		must(err)
		rc.Close()
	}
}

func hashAll(h *layerhash.Hasher, layers []v1.Layer) {
	if _, err := h.RootHashes(context.Background(), layers); err != nil {
		log.Fatal(err)
	}
}

// uncompressedSize gunzips the blob (a static layer's Uncompressed gives
// the blob as it is).
func uncompressedSize(l v1.Layer) int64 {
	rc, err := l.Compressed()
	must(err)
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	must(err)
	n, err := io.Copy(io.Discard, zr)
	must(err)
	return n
}

// rootfsLayer is the Debian rootfs as one layer, made deterministically.
func rootfsLayer(h *harness) v1.Layer {
	if _, err := os.Stat(filepath.Join(*rootfs, "usr")); err != nil {
		log.Fatalf("%s: %v (hack/rootfs.sh makes it with debootstrap)", *rootfs, err)
	}
	return registrytest.DirLayer(h, *rootfs)
}

type smallImage struct {
	ref string
	img v1.Image
}

// smallImages pushes 40 images (10 repositories × 4 tags) of 3 layers each,
// 64 KiB to 2 MiB of seeded random-ish files per layer.
func smallImages(h *harness, reg *registrytest.Registry) []smallImage {
	rng := rand.New(rand.NewPCG(1, 2))
	var out []smallImage
	for r := range 10 {
		for t := range 4 {
			var layers []v1.Layer
			for l := range 3 {
				var files []registrytest.File
				size := 64<<10 + rng.IntN(2<<20)
				for f := 0; size > 0; f++ {
					n := min(size, 8<<10+rng.IntN(256<<10))
					body := make([]byte, n)
					for i := range body {
						body[i] = byte('a' + rng.IntN(16)) // compressible, like text
					}
					files = append(files, registrytest.File{Name: fmt.Sprintf("app%d/l%d/f%03d", r, l, f), Body: string(body)})
					size -= n
				}
				layers = append(layers, registrytest.Layer(h, files...))
			}
			ref := fmt.Sprintf("bench/app%d:%d", r, t)
			img := registrytest.Image(h, ref, "linux/amd64", v1.Config{Entrypoint: []string{"/app"}, Env: []string{"PATH=/bin"}}, layers...)
			reg.Push(h, ref, img)
			out = append(out, smallImage{reg.Ref(ref), img})
		}
	}
	return out
}

func smallLayers(imgs []smallImage) []v1.Layer {
	var ls []v1.Layer
	for _, im := range imgs {
		l, err := im.img.Layers()
		must(err)
		ls = append(ls, l...)
	}
	return ls
}

// chartStream is what `helm template` of a 100-workload chart gives.
func chartStream(imgs []smallImage) string {
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "---\n# Source: bench/templates/app.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app%03d\nspec:\n  template:\n    spec:\n      containers:\n", i)
		for j, im := range []smallImage{imgs[i%40], imgs[(i*7+3)%40]} {
			fmt.Fprintf(&b, "      - name: c%d\n        image: %s\n        resources: {limits: {cpu: 100m, memory: 128Mi}}\n", j, im.ref)
		}
	}
	return b.String()
}

// plot draws the median time of each measurement as a horizontal bar.
func plot(results []sample) string {
	var longest time.Duration
	for _, r := range results {
		longest = max(longest, r.median())
	}
	const w, barH, left = 900, 22, 360
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, w, 40+len(results)*(barH+6))
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14">cocofy bench: median wall time per measurement (linear scale; make bench)</text>`)
	for i, r := range results {
		y := 34 + i*(barH+6)
		bw := int(float64(w-left-90) * float64(r.median()) / float64(max(longest, 1)))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-8, y+15, escape(r.Name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#3b7dd8"/>`, left, y, max(bw, 1), barH)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`, left+max(bw, 1)+6, y+15, r.median().Round(time.Millisecond))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func rss(kib int64) string {
	if kib == 0 {
		return ""
	}
	return fmt.Sprintf("peak RSS %.0f MB", float64(kib)/1024)
}

func mb(n int64) float64 { return float64(n) / 1e6 }

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
