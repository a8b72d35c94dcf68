// Command bench measures cocofy against the physical floor and against the
// tools users would pick instead, in one run, and prints ratios and the
// figures of issue #14 (Performance), each with its goal and verdict. `make
// bench` runs it; BENCHMARKS.md records its output.
//
// The data set is made here, deterministically: a Debian rootfs layer (from
// `debootstrap --variant=minbase`, tarred with fixed owners and times) and
// 40 small images in a loopback registry with injectable latency, a stream
// of 100 Deployments using those 40 images, their lock file, and generated
// streams rendered from that lock file (100 Deployments of 3 images, 5,000
// workloads, 20 MB and 100 MB).
//
//	go run ./hack/bench -only 'pin|peers' -reps 1   # some groups only
//	go run ./hack/bench -gen-stream 20000000 -o out/stream20.yaml
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
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"

	"cocofy.dev/cocofy/internal/layerhash"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

var (
	rootfs    = flag.String("rootfs", "out/rootfs", "debootstrap --variant=minbase folder (made by hack/rootfs.sh)")
	reps      = flag.Int("reps", 5, "repetitions of each measurement")
	bigReps   = flag.Int("big-reps", 2, "repetitions of the 20 MB and 100 MB streams and the 5,000 workloads (at most -reps)")
	outDir    = flag.String("out", "out/bench", "where results and the plot go")
	cocofy    = flag.String("cocofy", "bin/cocofy", "cocofy binary")
	gnuTime   = flag.String("time", "/usr/bin/time", "GNU time, for the peak RSS of each command")
	dmverity  = flag.String("dmverity-vhd", "bin/tools/dmverity-vhd", "dmverity-vhd binary (hcsshim v0.12.9)")
	kbld      = flag.String("kbld", "bin/tools/kbld", "kbld binary (peer; hack/install-tools.sh kbld)")
	digester  = flag.String("k8s-digester", "bin/tools/k8s-digester", "k8s-digester binary (peer; hack/install-tools.sh k8s-digester)")
	only      = flag.String("only", "", "run only the measurement groups whose name matches this regular expression; groups: "+strings.Join(groupNames, ", "))
	genSize   = flag.Int64("gen-stream", 0, "write a deterministic pod-sandbox stream of at least this many bytes to -o, with its lock file and config beside it, and exit")
	genOut    = flag.String("o", "out/bench/stream.yaml", "the stream -gen-stream writes")
	rssCap    = flag.Int64("rss-cap", 6000, "stop any measured command whose resident memory passes this many MB (10^6 bytes)")
	onlyRegex *regexp.Regexp
)

// groupNames are the measurement groups, in the order they run.
var groupNames = []string{"floor", "dmverity", "render", "fragments", "pin", "peers", "offline", "vn-ratio", "scale", "rss"}

// want says whether the group runs.
func want(group string) bool { return onlyRegex == nil || onlyRegex.MatchString(group) }

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
	// Stopped says the command passed -rss-cap and was killed.
	Stopped bool `json:"stopped,omitempty"`
	// Failed is why the command failed; the repetitions stopped there.
	Failed string `json:"failed,omitempty"`
}

func (s sample) min() time.Duration { return slices.Min(s.Times) }
func (s sample) median() time.Duration {
	t := slices.Clone(s.Times)
	slices.Sort(t)
	return t[len(t)/2]
}

// Names of the measurements the figures read.
const (
	nColdRender  = "render 100 workloads, cold cache"
	nWarmRender  = "render 100 workloads, warm cache"
	nPin0        = "pin 100 workloads / 40 images, 0 ms RTT"
	nPin20       = "pin 100 workloads / 40 images, 20 ms RTT"
	nKbld0       = "kbld -f, 100 workloads, 0 ms RTT"
	nKbld20      = "kbld -f, 100 workloads, 20 ms RTT"
	nDigester0   = "k8s-digester, 100 workloads, 0 ms RTT"
	nDigester20  = "k8s-digester, 100 workloads, 20 ms RTT"
	nVN100       = "virtual-node, 100 Deployments / 3 images, lock, cache off"
	nSandbox100  = "pod-sandbox, 100 Deployments / 3 images, lock, cache off"
	nScale5000   = "virtual-node, 5,000 workloads, lock, cold cache"
	nStream20MB  = "pod-sandbox, 20 MB stream, lock, cache off"
	nStream100MB = "pod-sandbox, 100 MB stream, lock, cache off"
)

// Stream sizes of the peak RSS figure, in bytes.
const (
	size20MB  = 20_000_000
	size100MB = 100_000_000
)

// ideal is the time pinning takes at 20 ms round trip when each of the 40
// images costs one round trip, 16 at a time.
const ideal = 40 * 20 * time.Millisecond / 16

func main() {
	parseFlags()
	h := &harness{}
	defer h.close()
	if *genSize > 0 {
		genStream(h, *genSize, *genOut)
		return
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		log.Fatal(err)
	}
	b := newBench(h)
	b.runFloor()
	b.runDMVerity()
	b.runRender()
	b.runFragments()
	b.runPinning()
	b.runFromLock()
	b.printRatios()
	figs := b.figures()
	printFigures(figs)
	b.writeResults(figs)
}

// parseFlags parses the flags, sets up the log and compiles -only, which
// must match some group.
func parseFlags() {
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	if *only == "" {
		return
	}
	onlyRegex = regexp.MustCompile(*only)
	var none = true
	for _, g := range groupNames {
		none = none && !want(g)
	}
	if none {
		log.Fatalf("-only %q matches no group (%s)", *only, strings.Join(groupNames, ", "))
	}
}

// bench is one run: the data set, the registry it is served from, and the
// measurements so far.
type bench struct {
	h     *harness
	reg   *registrytest.Registry
	small []smallImage
	// debian is the Debian rootfs layer and debianRef its image in reg;
	// both are set only for the groups floor and dmverity.
	debian    v1.Layer
	debianRef string
	// chart is the 100-workload chart's stream, also written to chartFile.
	chart, chartFile string
	// cfg and pinCfg are the virtual-node and pod-sandbox configs.
	cfg, pinCfg string
	// lock is the lock file of the small images; streamLock is the same
	// for the generated streams' fixed host; refs are those streams'
	// images. off is the environment with the cache off.
	lock, streamLock string
	refs             []string
	off              func() []string
	// coldBlobs and warmBlobs are the layer downloads of a cold and of a
	// warm render of the chart.
	coldBlobs, warmBlobs int64
	// frag is what the fragments group measured.
	frag    fragRun
	results []sample
	skipped map[string]string // measurement -> why it did not run
}

// newBench builds the data set: the small images in a loopback registry,
// the Debian layer and image when a group needs it, and the chart's stream.
func newBench(h *harness) *bench {
	log.Printf("building the data set")
	b := &bench{h: h, skipped: map[string]string{}}
	b.reg, b.small = registryImages(h)
	if want("floor") || want("dmverity") {
		b.debian = rootfsLayer(h)
		b.debianRef = b.reg.Ref("bench/debian:bookworm")
		b.reg.Push(h, "bench/debian:bookworm", registrytest.Image(h, "debian", "linux/amd64", v1.Config{Cmd: []string{"bash"}}, b.debian))
		dsz, _ := b.debian.Size()
		log.Printf("debian layer: %.1f MB compressed, %.1f MB uncompressed", mb(dsz), mb(uncompressedSize(b.debian)))
	}
	b.chart = chartStream(b.small)
	b.chartFile = filepath.Join(*outDir, "chart.yaml")
	must(os.WriteFile(b.chartFile, []byte(b.chart), 0o644))
	log.Printf("%d small images in a registry at %s", len(b.small), b.reg.Host)
	b.cfg = vnConfig(h)
	b.pinCfg = writeTemp(h, "apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec: {target: pod-sandbox}\n")
	return b
}

// add records a measurement and logs it.
func (b *bench) add(s sample) {
	b.results = append(b.results, s)
	log.Printf("%-58s min %8s  median %8s  %s", s.Name, s.min().Round(time.Millisecond), s.median().Round(time.Millisecond), rss(s.PeakRSS))
	if s.Note != "" {
		log.Printf("%-58s (%s)", "", s.Note)
	}
}

// has says whether the measurement name ran.
func (b *bench) has(name string) bool {
	return slices.ContainsFunc(b.results, func(r sample) bool { return r.Name == name })
}

// get is the measurement name, else a sample of one zero time.
func (b *bench) get(name string) sample {
	for _, r := range b.results {
		if r.Name == name {
			return r
		}
	}
	return sample{Times: []time.Duration{0}}
}

// runFloor measures the floor (group floor): gunzip + sha256 of the
// uncompressed stream, and cocofy's layer hashing, cold (no cache), in
// process.
func (b *bench) runFloor() {
	if !want("floor") {
		return
	}
	layers := append([]v1.Layer{b.debian}, smallLayers(b.small)...)
	b.add(timeIt("floor: gunzip+sha256 (all layers)", func() { floor(layers) }))
	b.add(timeIt("floor: gunzip+sha256 (debian layer)", func() { floor(layers[:1]) }))
	// A new Hasher each time: a Hasher remembers what it hashed.
	b.add(timeIt("cocofy layerhash cold (all layers)", func() { hashAll(&layerhash.Hasher{Jobs: 2}, layers) }))
	b.add(timeIt("cocofy layerhash cold (debian layer)", func() { hashAll(&layerhash.Hasher{Jobs: 2}, layers[:1]) }))
}

// runDMVerity measures dmverity-vhd and cocofy on the same Debian image
// from the registry (group dmverity).
func (b *bench) runDMVerity() {
	if !want("dmverity") {
		return
	}
	if _, err := os.Stat(*dmverity); err != nil {
		log.Printf("skipping dmverity-vhd: %s not found (make tools)", *dmverity)
		return
	}
	b.add(timeCmd("dmverity-vhd roothash (debian image)", noEnv, text(""), *dmverity, "roothash", "-i", b.debianRef))
	b.add(timeCmd("cocofy render, cold cache (debian image)", cold(b.h), text(onePod(b.debianRef)), *cocofy, "--quiet", "--config", vnConfig(b.h)))
}

// runRender measures rendering the whole chart from the registry, cold
// and warm (group render), and counts the layers each downloads.
func (b *bench) runRender() {
	if !want("render") {
		return
	}
	h, reg, chart, cfg := b.h, b.reg, b.chart, b.cfg
	warm := []string{"COCOFY_CACHE_DIR=" + mkdir(h), "DOCKER_CONFIG=" + mkdir(h)}
	coldLog := filepath.Join(*outDir, "render-cold.stderr")
	must(os.WriteFile(coldLog, []byte(run(coldEnv(h), text(chart), *cocofy, "--config", cfg)), 0o644)) // the results of a cold render, for reading
	before := reg.Blobs.Load()
	s := timeCmd(nColdRender, cold(h), text(chart), *cocofy, "--quiet", "--config", cfg)
	b.coldBlobs = (reg.Blobs.Load() - before) / int64(len(s.Times))
	b.add(s)
	run(warm, text(chart), *cocofy, "--quiet", "--config", cfg) // fill the warm cache
	before = reg.Blobs.Load()
	s = timeCmd(nWarmRender, same(warm), text(chart), *cocofy, "--quiet", "--config", cfg)
	b.warmBlobs = (reg.Blobs.Load() - before) / int64(len(s.Times))
	b.add(s)
}

// peer is a tool users would pin images with instead of cocofy, and why
// it does not run ("" when it does).
type peer struct{ name, bin, why string }

// findPeers are kbld and k8s-digester, each saying so when its binary is
// missing.
func findPeers() []*peer {
	peers := []*peer{{"kbld", *kbld, ""}, {"k8s-digester", *digester, ""}}
	for _, p := range peers {
		if _, err := os.Stat(p.bin); err != nil {
			p.why = fmt.Sprintf("%s not found (hack/install-tools.sh %s)", p.bin, p.name)
		}
	}
	return peers
}

// runPinning measures pinning alone, at 0 and 20 ms round trip (group
// pin), and the peers side by side with it, at each latency in turn
// (group peers).
func (b *bench) runPinning() {
	peers := findPeers()
	if !want("pin") && !want("peers") {
		return
	}
	if err := checkPinned("cocofy", coldEnv(b.h), text(b.chart), *cocofy, "--quiet", "--config", b.pinCfg); err != nil {
		log.Printf("cocofy's pinning: FAILED: %v", err)
	}
	rl := resourceList(b.chart)
	for _, rtt := range []time.Duration{0, 20 * time.Millisecond} {
		b.reg.SetLatency(rtt)
		b.pinAt(rtt)
		if !want("peers") {
			continue
		}
		for _, p := range peers {
			b.peerAt(p, rtt, rl)
		}
		log.Printf("(%d ms RTT done)", rtt.Milliseconds())
	}
	b.reg.SetLatency(0)
}

// pinAt measures cocofy's pinning of the chart at the registry's latency
// rtt, with the registry requests of a run.
func (b *bench) pinAt(rtt time.Duration) {
	reqs := b.reg.Requests.Load()
	s := timeCmd(map[bool]string{true: nPin0, false: nPin20}[rtt == 0], cold(b.h), text(b.chart), *cocofy, "--quiet", "--config", b.pinCfg)
	s.Note = fmt.Sprintf("%d registry requests a run", (b.reg.Requests.Load()-reqs)/int64(len(s.Times)))
	if rtt > 0 {
		s.Note += fmt.Sprintf("; ideal %s (40 round trips / 16 at a time)", ideal)
	}
	b.add(s)
}

// peerAt measures the peer p's pinning of the chart at the registry's
// latency rtt; rl is the chart as a ResourceList. At 0 ms it first checks
// that p pins every image: when p fails, it is skipped from then on.
func (b *bench) peerAt(p *peer, rtt time.Duration, rl string) {
	name := map[string]string{"kbld": nKbld0, "k8s-digester": nDigester0}[p.name]
	if rtt > 0 {
		name = map[string]string{"kbld": nKbld20, "k8s-digester": nDigester20}[p.name]
	}
	if p.why != "" {
		b.skipped[name] = p.why
		log.Printf("skipping %s: %s", name, p.why)
		return
	}
	// kbld -f FILE writes the resolved stream on stdout. k8s-digester is
	// a KRM function: a ResourceList on stdin, offline (no Kubernetes API
	// server for pull secrets: its default), as `kpt fn eval --exec
	// digester` runs it.
	stdin, args := text(""), []string{"-f", b.chartFile}
	if p.name == "k8s-digester" {
		stdin, args = text(rl), nil
	}
	if rtt == 0 {
		if err := checkPinned(p.name, coldEnv(b.h), stdin, p.bin, args...); err != nil {
			p.why = "failed: " + firstLine(err.Error())
			log.Printf("%s: FAILED: %v", p.name, err)
		}
	}
	if p.why != "" {
		b.skipped[name] = p.why
		return
	}
	reqs := b.reg.Requests.Load()
	s := timeCmd(name, cold(b.h), stdin, p.bin, args...)
	s.Note = fmt.Sprintf("%d registry requests a run", (b.reg.Requests.Load()-reqs)/int64(len(s.Times)))
	b.add(s)
}

// runFromLock runs the groups that render from the lock file (offline,
// vn-ratio, scale, rss) with no registry: every request now fails, and
// the renders must make none.
func (b *bench) runFromLock() {
	if want("offline") || want("vn-ratio") || want("scale") || want("rss") {
		b.lock = makeLock(b.h, b.reg, b.small)
		b.streamLock = filepath.Join(mkdir(b.h), "stream.lock.yaml")
		fixedLock(b.lock, b.reg.Host, b.streamLock)
		b.reg.SetFault(func(w http.ResponseWriter, _ *http.Request) bool {
			http.Error(w, "the bench's registry is off", http.StatusServiceUnavailable)
			return true
		})
	}
	reqsBefore := b.reg.Requests.Load()
	if want("offline") {
		b.add(timeCmd("render 100 workloads, lock file, no registry", cold(b.h), text(b.chart), *cocofy, "--quiet", "--config", b.cfg, "--lock", b.lock, "--lock-mode", "use"))
	}
	b.refs = streamRefs(b.small, b.reg.Host)
	b.off = same([]string{"COCOFY_CACHE_DIR=off", "DOCKER_CONFIG=" + mkdir(b.h)})
	b.runVNRatio()
	b.runScale()
	b.runRSS()
	if n := b.reg.Requests.Load() - reqsBefore; n != 0 {
		log.Printf("WARNING: the renders from the lock file sent %d requests to the registry (all refused): lockMode use should send none", n)
	}
	b.reg.SetFault(nil)
}

// vnLock and sbLock are the arguments of a virtual-node and a pod-sandbox
// render of a generated stream from its lock file.
func (b *bench) vnLock() []string {
	return []string{"--quiet", "--config", b.cfg, "--lock", b.streamLock, "--lock-mode", "use"}
}

func (b *bench) sbLock() []string {
	return []string{"--quiet", "--config", b.pinCfg, "--lock", b.streamLock, "--lock-mode", "use"}
}

// runVNRatio measures figure 1 (group vn-ratio): virtual-node and
// pod-sandbox on 100 Deployments of 3 images, each with its own
// environment, from the lock file, no cache.
func (b *bench) runVNRatio() {
	if !want("vn-ratio") {
		return
	}
	f := filepath.Join(*outDir, "stream-100x3.yaml")
	writeStream(f, b.refs[:3], 100, 0)
	b.add(timeCmd(nSandbox100, b.off, file(f), *cocofy, b.sbLock()...))
	b.add(timeCmd(nVN100, b.off, file(f), *cocofy, b.vnLock()...))
}

// runScale measures figure 4 (group scale): 5,000 virtual-node workloads
// from the lock file, the chart's stream made 50 times longer (40
// distinct pods).
func (b *bench) runScale() {
	if !want("scale") {
		return
	}
	f := filepath.Join(*outDir, "stream-5000.yaml")
	must(os.WriteFile(f, []byte(chartStreamN(b.refs, 5000)), 0o644))
	b.add(timeCmdN(nScale5000, min(*bigReps, *reps), cold(b.h), file(f), *cocofy, b.vnLock()...))
}

// runRSS measures figure 3 (group rss): the peak RSS of 20 MB and 100 MB
// streams, pod-sandbox, from the lock file, no cache.
func (b *bench) runRSS() {
	if !want("rss") {
		return
	}
	for _, st := range []struct {
		name string
		size int64
	}{{nStream20MB, size20MB}, {nStream100MB, size100MB}} {
		f := filepath.Join(*outDir, fmt.Sprintf("stream-%dMB.yaml", st.size/1e6))
		n, written := writeStream(f, b.refs, -1, st.size)
		s := timeCmdN(st.name, min(*bigReps, *reps), b.off, file(f), *cocofy, b.sbLock()...)
		s.Note = strings.TrimSuffix(fmt.Sprintf("%d Deployments, %d bytes; %s", n, written, s.Note), "; ")
		b.add(s)
		must(os.Remove(f))
	}
}

// ratio is the median of the measurement num over that of den, or n/a.
func (b *bench) ratio(num, den string) string {
	x, y := b.get(num).median(), b.get(den).median()
	if y == 0 || x == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", float64(x)/float64(y))
}

// printRatios prints the table of the ratios of the measurements; a row
// whose measurements did not run is left out.
func (b *bench) printRatios() {
	fmt.Println()
	fmt.Println("| ratio (medians) | value | target |")
	fmt.Println("|---|---:|---|")
	row := func(label, value, target string, need ...string) {
		for _, n := range need {
			if !b.has(n) {
				return
			}
		}
		fmt.Printf("| %s | %s | %s |\n", label, value, target)
	}
	row("cocofy layer hashing / gunzip+sha256 floor (all layers)", b.ratio("cocofy layerhash cold (all layers)", "floor: gunzip+sha256 (all layers)"), "≤ 1.2", "cocofy layerhash cold (all layers)")
	row("cocofy layer hashing / floor (debian layer)", b.ratio("cocofy layerhash cold (debian layer)", "floor: gunzip+sha256 (debian layer)"), "≤ 1.2", "cocofy layerhash cold (debian layer)")
	row("dmverity-vhd / cocofy (debian image, from registry)", b.ratio("dmverity-vhd roothash (debian image)", "cocofy render, cold cache (debian image)"), "≥ 2", "dmverity-vhd roothash (debian image)")
	row("warm / cold render (100 workloads)", b.ratio(nWarmRender, nColdRender), "", nWarmRender)
	row("warm render, ms", fmt.Sprint(b.get(nWarmRender).median().Milliseconds()), "< 150", nWarmRender)
	row("layer downloads: cold / warm render", fmt.Sprintf("%d / %d", b.coldBlobs, b.warmBlobs), "warm = 0", nWarmRender)
	b.fragmentRatios(row)
	row("pinning at 20 ms / ideal", fmt.Sprintf("%.2f", float64(b.get(nPin20).median())/float64(ideal)), "", nPin20)
	if peak := b.peak100(); peak > 0 {
		row("peak RSS of any cocofy run on 100 workloads, MB", fmt.Sprintf("%.0f", rssMB(peak)), "< 300")
	}
}

// peak100 is the largest peak RSS of the cocofy runs on the 100-workload
// chart and streams, in KiB.
func (b *bench) peak100() int64 {
	var peak int64
	for _, r := range b.results {
		if strings.HasPrefix(r.Name, "cocofy") || strings.HasPrefix(r.Name, "render") || strings.HasPrefix(r.Name, "pin ") || r.Name == nVN100 || r.Name == nSandbox100 {
			peak = max(peak, r.PeakRSS)
		}
	}
	return peak
}

// figures are the figures of issue #14, in order, each with its goal and
// verdict.
func (b *bench) figures() []figure {
	figs := []figure{b.figVNRatio(), b.figColdRender()}
	figs = append(figs, b.figStreamRSS()...)
	figs = append(figs, b.figScale(), b.figPinIdeal())
	return append(figs, b.figPeers()...)
}

// checked is f, unless a measurement in need did not run (its value and
// verdict then say so, with why it was skipped) or failed.
func (b *bench) checked(f figure, need ...string) figure {
	for _, n := range need {
		if !b.has(n) {
			f.Value, f.Verdict = "not run", "not run"
			if why := b.skipped[n]; why != "" {
				f.Value = why
			}
			break
		}
		if why := b.get(n).Failed; why != "" {
			f.Value, f.Verdict = "failed: "+firstLine(why), "**failed**"
			break
		}
	}
	return f
}

// verdict is a figure's verdict: met, or missed.
func verdict(ok bool) string { return map[bool]string{true: "met", false: "**missed**"}[ok] }

// figVNRatio is figure 1: virtual-node / pod-sandbox time.
func (b *bench) figVNRatio() figure {
	vn, sb := b.get(nVN100).median(), b.get(nSandbox100).median()
	r := float64(vn) / float64(max(sb, 1))
	return b.checked(figure{"1", "virtual-node / pod-sandbox time, 100 Deployments / 3 images, lock file, cache off",
		fmt.Sprintf("%.1f (%s / %s)", r, ms(vn), ms(sb)), "≤ 4 (was 23: 3.9 s / 0.17 s)", verdict(r <= 4)}, nVN100, nSandbox100)
}

// figColdRender is figure 2: the cold render of the chart.
func (b *bench) figColdRender() figure {
	t := b.get(nColdRender).median()
	return b.checked(figure{"2", "cold render, 100-workload chart, virtual-node, from the registry",
		ms(t) + ", " + rss(b.get(nColdRender).PeakRSS), "≤ 0.9 s (was 2.3 s)", verdict(t <= 900*time.Millisecond)}, nColdRender)
}

// figStreamRSS are figure 3: the peak RSS of the 20 MB and 100 MB streams.
func (b *bench) figStreamRSS() []figure {
	var figs []figure
	for _, st := range []struct {
		name, label string
		size        int64
	}{{nStream20MB, "20 MB", size20MB}, {nStream100MB, "100 MB", size100MB}} {
		s := b.get(st.name)
		goal := 6*float64(st.size) + 100e6
		got := float64(s.PeakRSS) * 1024
		value := fmt.Sprintf("%.0f MB in %s", got/1e6, ms(s.median()))
		if s.Stopped {
			value = fmt.Sprintf("> %.0f MB: stopped after %s", got/1e6, ms(s.median()))
		}
		figs = append(figs, b.checked(figure{"3", "peak RSS, " + st.label + " stream, pod-sandbox, lock file, cache off",
			value, fmt.Sprintf("≤ %.0f MB (6 × input + 100 MB)", goal/1e6), verdict(got <= goal && !s.Stopped)}, st.name))
	}
	return figs
}

// figScale is figure 4: 5,000 virtual-node workloads.
func (b *bench) figScale() figure {
	s := b.get(nScale5000)
	value := ms(s.median()) + ", " + rss(s.PeakRSS)
	if s.Stopped {
		value = "stopped: " + s.Note
	}
	return b.checked(figure{"4", "5,000 virtual-node workloads, lock file",
		value, "≤ 5 s (was 15.5 s, 623 MB)", verdict(s.median() <= 5*time.Second && !s.Stopped)}, nScale5000)
}

// figPinIdeal is figure 5: pinning at 20 ms round trip against the ideal.
func (b *bench) figPinIdeal() figure {
	r := float64(b.get(nPin20).median()) / float64(ideal)
	return b.checked(figure{"5", "pinning at 20 ms RTT / ideal (" + ms(ideal) + ")",
		fmt.Sprintf("%.2f (%s)", r, ms(b.get(nPin20).median())), "≤ 2 (was 3.6)", verdict(r <= 2)}, nPin20)
}

// figPeers are figure 6: cocofy's pinning against each peer's, at each
// latency.
func (b *bench) figPeers() []figure {
	var figs []figure
	for _, p := range []struct{ peer, cocofy, label, version string }{
		{nKbld0, nPin0, "cocofy / kbld, 0 ms", "kbld v0.42.0"},
		{nKbld20, nPin20, "cocofy / kbld, 20 ms", "kbld v0.42.0"},
		{nDigester0, nPin0, "cocofy / k8s-digester, 0 ms", "k8s-digester v0.1.16"},
		{nDigester20, nPin20, "cocofy / k8s-digester, 20 ms", "k8s-digester v0.1.16"},
	} {
		c, q := b.get(p.cocofy).median(), b.get(p.peer).median()
		r := float64(c) / float64(max(q, 1))
		figs = append(figs, b.checked(figure{"6", "pinning, " + p.label + " RTT (" + p.version + ")",
			fmt.Sprintf("%.2f (%s / %s)", r, ms(c), ms(q)), "≤ 1", verdict(r <= 1)}, p.cocofy, p.peer))
	}
	return figs
}

// printFigures prints the table of the figures.
func printFigures(figs []figure) {
	fmt.Println()
	fmt.Println("| # | figure (issue #14) | value | goal | verdict |")
	fmt.Println("|---|---|---|---|---|")
	for _, f := range figs {
		fmt.Printf("| %s | %s | %s | %s | %s |\n", f.N, f.Name, f.Value, f.Goal, f.Verdict)
	}
}

// writeResults writes results.json, figures.json and stages.svg to -out.
func (b *bench) writeResults(figs []figure) {
	j, _ := json.MarshalIndent(b.results, "", "  ")
	must(os.WriteFile(filepath.Join(*outDir, "results.json"), j, 0o644))
	j, _ = json.MarshalIndent(figs, "", "  ")
	must(os.WriteFile(filepath.Join(*outDir, "figures.json"), j, 0o644))
	must(os.WriteFile(filepath.Join(*outDir, "stages.svg"), []byte(plot(b.results)), 0o644))
	log.Printf("wrote %s, figures.json and stages.svg", filepath.Join(*outDir, "results.json"))
}

// figure is one figure of issue #14 with its goal and verdict.
type figure struct {
	N       string `json:"n"`
	Name    string `json:"name"`
	Value   string `json:"value"`
	Goal    string `json:"goal"`
	Verdict string `json:"verdict"`
}

// registryImages starts the loopback registry and pushes the small images.
func registryImages(h *harness) (*registrytest.Registry, []smallImage) {
	reg := registrytest.Start(h)
	return reg, smallImages(h, reg)
}

// makeLock writes the lock file of all small images, with their layer
// root hashes, as cocofy's lockMode update makes it from the registry.
func makeLock(h *harness, reg *registrytest.Registry, small []smallImage) string {
	lock := filepath.Join(mkdir(h), "images.lock.yaml")
	var err error
	for range 3 { // a cocofy under development may fail now and then
		if _, err = watchRun(coldEnv(h), text(chartStream(small)), *cocofy, "--quiet", "--config", vnConfig(h), "--lock", lock, "--lock-mode", "update"); err == nil {
			return lock
		}
		log.Printf("making the lock file: %v", tail(err.Error(), 2000))
	}
	log.Fatalf("making the lock file failed 3 times")
	return ""
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
func timeCmd(name string, env func() []string, stdin in, prog string, args ...string) sample {
	return timeCmdN(name, *reps, env, stdin, prog, args...)
}

// timeCmdN is timeCmd with n repetitions, or -big-reps when the first
// takes more than 10 s. A command whose resident memory
// passes -rss-cap is stopped (the machine is shared: a 100 MB stream once
// took 23 GB and the kernel's OOM killer); the sample then says so, and
// its peak RSS is where it was stopped.
func timeCmdN(name string, n int, env func() []string, stdin in, prog string, args ...string) sample {
	s := sample{Name: name}
	for i := 0; i < max(n, 1); i++ {
		rssFile := filepath.Join(os.TempDir(), "cocofy-bench-rss")
		start := time.Now()
		capped, err := watchRun(env(), stdin, *gnuTime, append([]string{"-f", "%M", "-o", rssFile, prog}, args...)...)
		s.Times = append(s.Times, time.Since(start))
		if err != nil {
			// Keep going: the other measurements still tell something.
			s.Failed = err.Error()
			log.Printf("%s: FAILED: %s", name, tail(s.Failed, 3000))
			break
		}
		if i == 0 && time.Since(start) > 10*time.Second {
			n = min(n, *bigReps) // a long command: -big-reps repetitions
		}
		if capped > 0 {
			s.PeakRSS = max(s.PeakRSS, capped)
			s.Stopped = true
			s.Note = fmt.Sprintf("stopped at %.0f MB (-rss-cap) after %s", rssMB(capped), ms(time.Since(start)))
			log.Printf("%s: %s", name, s.Note)
			break
		}
		b, err := os.ReadFile(rssFile)
		must(err)
		kib, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		must(err)
		s.PeakRSS = max(s.PeakRSS, kib)
	}
	return s
}

// watchRun runs GNU time (which runs the command) like run, but checks the
// resident memory of time's child every 20 ms and kills the child when it
// passes -rss-cap: it then returns the last RSS seen, in KiB, else 0. A
// failure comes back as an error with the end of stderr.
func watchRun(env []string, stdin in, prog string, args ...string) (int64, error) {
	cmd := command(env, stdin, prog, args...)
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errOut
	must(cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	capKiB := *rssCap * 1e6 / 1024
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var stopped int64
	for {
		select {
		case err := <-done:
			if stopped > 0 {
				return stopped, nil
			}
			if err != nil {
				return 0, fmt.Errorf("%s %v: %v\n%s", prog, args, err, tail(errOut.String(), 4000))
			}
			return 0, nil
		case <-tick.C:
			if stopped > 0 {
				continue
			}
			for _, child := range children(cmd.Process.Pid) {
				if kib := vmRSS(child); kib > capKiB {
					stopped = kib
					syscall.Kill(child, syscall.SIGKILL)
				}
			}
		}
	}
}

// children are the child processes of pid.
func children(pid int) []int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// vmRSS is the resident memory of pid in KiB (0 once it has gone).
func vmRSS(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// in is what a command reads on stdin: text, or the file at path.
type in struct{ text, path string }

func text(s string) in { return in{text: s} }
func file(p string) in { return in{path: p} }

// noEnv, same and cold give timeCmd the environment of each repetition:
// nothing extra, the same each time, or a new empty cache each time.
func noEnv() []string { return nil }

func same(env []string) func() []string { return func() []string { return env } }

func cold(h *harness) func() []string { return func() []string { return coldEnv(h) } }

// run runs a command and returns its stderr; a failure is logged (and its
// stderr returned), and the measurement that follows tells the rest.
func run(env []string, stdin in, prog string, args ...string) string {
	cmd := command(env, stdin, prog, args...)
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errOut
	if err := cmd.Run(); err != nil {
		log.Printf("%s %v: FAILED: %v\n%s", prog, args, err, tail(errOut.String(), 3000))
	}
	return errOut.String()
}

// checkPinned runs a pinner once and says why not unless its output has
// the chart's 200 images, each pinned to a digest.
func checkPinned(tool string, env []string, stdin in, prog string, args ...string) error {
	cmd := command(env, stdin, prog, args...)
	var stdout, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %v: %v\n%s", prog, args, err, tail(errOut.String(), 3000))
	}
	out := stdout.String()
	images := regexp.MustCompile(`(?m)^\s*-?\s*image: (\S+)`).FindAllStringSubmatch(out, -1)
	pinned := 0
	for _, m := range images {
		if strings.Contains(m[1], "@sha256:") {
			pinned++
		}
	}
	if pinned != 200 || len(images) != 200 {
		return fmt.Errorf("%s pinned %d of %d images in the chart's stream (want 200 of 200):\n%s", tool, pinned, len(images), tail(out, 2000))
	}
	return nil
}

// command is prog with its arguments, the harness's environment plus env,
// and stdin.
func command(env []string, stdin in, prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), env...)
	if stdin.path != "" {
		f, err := os.Open(stdin.path)
		must(err)
		cmd.Stdin = f // the child has its own descriptor; this one goes with f's finalizer
	} else {
		cmd.Stdin = strings.NewReader(stdin.text)
	}
	return cmd
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// tail is the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
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
	var refs []string
	for _, im := range imgs {
		refs = append(refs, im.ref)
	}
	return chartStreamN(refs, 100)
}

// chartStreamN is the chart's stream with n workloads: Deployment i has
// two containers, refs[i%40] and refs[(i*7+3)%40], so that there are 40
// distinct pods however large n is.
func chartStreamN(refs []string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\n# Source: bench/templates/app.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app%03d\nspec:\n  template:\n    spec:\n      containers:\n", i)
		for j, ref := range []string{refs[i%len(refs)], refs[(i*7+3)%len(refs)]} {
			fmt.Fprintf(&b, "      - name: c%d\n        image: %s\n        resources: {limits: {cpu: 100m, memory: 128Mi}}\n", j, ref)
		}
	}
	return b.String()
}

// plot draws the median time of each measurement as a horizontal bar, on a
// log scale from 10 ms: the measurements span 50 ms to a minute.
func plot(results []sample) string {
	var longest time.Duration
	for _, r := range results {
		longest = max(longest, r.median())
	}
	const w, barH, left = 1000, 22, 420
	const origin = 10 * time.Millisecond
	longest = max(longest, 10*origin)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, w, 40+len(results)*(barH+6))
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14">cocofy bench: median wall time per measurement (log scale from 10 ms; make bench)</text>`)
	for i, r := range results {
		y := 34 + i*(barH+6)
		bw := int(float64(w-left-90) * math.Log(float64(max(r.median(), origin))/float64(origin)) / math.Log(float64(longest)/float64(origin)))
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

// rss shows a peak RSS given in KiB (GNU time's %M) in MB (10^6 bytes).
func rss(kib int64) string {
	if kib == 0 {
		return ""
	}
	return fmt.Sprintf("peak RSS %.0f MB", rssMB(kib))
}

func rssMB(kib int64) float64 { return float64(kib) * 1024 / 1e6 }

// ms shows a duration rounded to the millisecond.
func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

func mb(n int64) float64 { return float64(n) / 1e6 }

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
