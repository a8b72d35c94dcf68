// Package lockfile reads and writes cocofy's image lock file: a reviewed,
// committed YAML file (kind ImageLock) that records, per image reference
// and platform, the pinned digest, the platform manifest digest, the image
// config facts and the layers. With it a render needs no network at all.
package lockfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/atomicfile"
)

// APIVersion and Kind identify a lock file.
const (
	APIVersion = "cocofy.dev/v1alpha1"
	Kind       = "ImageLock"
)

const header = "# Image lock file written by `cocofy` with lockMode: update.\n" +
	"# Review changes to it like code: it decides which images your pods run.\n"

// File is the lock file's content.
type File struct {
	APIVersion string        `yaml:"apiVersion"`
	Kind       string        `yaml:"kind"`
	Images     []image.Facts `yaml:"-"`
	Entries    []entry       `yaml:"images"`
}

// entry is one image in the file, in reading order.
type entry struct {
	Ref            string  `yaml:"ref"`
	Platform       string  `yaml:"platform"`
	Digest         string  `yaml:"digest"`
	ManifestDigest string  `yaml:"manifestDigest,omitempty"`
	OS             string  `yaml:"os,omitempty"`
	Architecture   string  `yaml:"architecture,omitempty"`
	Config         config  `yaml:"config,omitempty"`
	Layers         []layer `yaml:"layers,omitempty"`
	// Fragments are the signed policy fragments attached to the image,
	// recorded for policy.imageFragments so that lockMode use replays
	// them offline; they are checked again at every render.
	Fragments []lockedFragment `yaml:"fragments,omitempty"`
}

// lockedFragment is a signed fragment envelope and its digest.
type lockedFragment struct {
	Digest string `yaml:"digest"`
	// Envelope is the COSE_Sign1 envelope, standard base64.
	Envelope string `yaml:"envelope"`
}

// maxFragment bounds a recorded envelope, as the registry client does.
const maxFragment = 1 << 20

func (l lockedFragment) check() (image.AttachedFragment, error) {
	if !digestRE.MatchString(l.Digest) {
		return image.AttachedFragment{}, fmt.Errorf("digest %q: %s", l.Digest, wantDigest)
	}
	raw, err := base64.StdEncoding.DecodeString(l.Envelope)
	if err != nil || len(raw) > maxFragment {
		return image.AttachedFragment{}, fmt.Errorf("envelope: want standard base64 of at most %d bytes", maxFragment)
	}
	if sum := sha256.Sum256(raw); "sha256:"+hex.EncodeToString(sum[:]) != l.Digest {
		return image.AttachedFragment{}, fmt.Errorf("envelope: its sha256 is not digest %s", l.Digest)
	}
	return image.AttachedFragment{Digest: l.Digest, Envelope: raw}, nil
}

type config struct {
	Entrypoint []string `yaml:"entrypoint,omitempty"`
	Cmd        []string `yaml:"cmd,omitempty"`
	Env        []string `yaml:"env,omitempty"`
	WorkingDir string   `yaml:"workingDir,omitempty"`
	User       string   `yaml:"user,omitempty"`
	StopSignal string   `yaml:"stopSignal,omitempty"`
}

type layer struct {
	Digest   string `yaml:"digest"`
	RootHash string `yaml:"rootHash,omitempty"`
	// EtcGroup is optional: lock files of an older cocofy, or written
	// without hashing, have none, and then the image's groups cannot be
	// checked (a warning says so).
	EtcGroup *etcGroup `yaml:"etcGroup,omitempty,flow"`
}

type etcGroup struct {
	Change string   `yaml:"change"`
	GIDs   []uint32 `yaml:"gids,omitempty,flow"`
}

func toLayer(l image.Layer) layer {
	out := layer{Digest: l.Digest, RootHash: l.RootHash}
	if g := l.EtcGroup; g != nil {
		out.EtcGroup = &etcGroup{Change: g.Change, GIDs: g.GIDs}
	}
	return out
}

func (l layer) facts() image.Layer {
	out := image.Layer{Digest: l.Digest, RootHash: l.RootHash}
	if g := l.EtcGroup; g != nil {
		out.EtcGroup = &image.EtcGroup{Change: g.Change, GIDs: g.GIDs}
	}
	return out
}

func toEntry(f image.Facts) entry {
	e := entry{Ref: f.Ref, Platform: f.Platform, Digest: f.Digest, ManifestDigest: f.ManifestDigest,
		OS: f.OS, Architecture: f.Architecture, Config: config(f.Config)}
	for _, l := range f.Layers {
		e.Layers = append(e.Layers, toLayer(l))
	}
	for _, a := range f.Fragments {
		e.Fragments = append(e.Fragments, lockedFragment{Digest: a.Digest, Envelope: base64.StdEncoding.EncodeToString(a.Envelope)})
	}
	return e
}

func (e entry) facts() image.Facts {
	f := image.Facts{Pin: image.Pin{Ref: e.Ref, Digest: e.Digest}, Platform: e.Platform,
		ManifestDigest: e.ManifestDigest, OS: e.OS, Architecture: e.Architecture, Config: image.Config(e.Config)}
	for _, l := range e.Layers {
		f.Layers = append(f.Layers, l.facts())
	}
	for _, l := range e.Fragments {
		if a, err := l.check(); err == nil { // check refused the others
			f.Fragments = append(f.Fragments, a)
		}
	}
	return f
}

// Load reads a lock file and checks every value: digests are "sha256:"
// and 64 lowercase hex digits, root hashes 64 lowercase hex digits, and
// two entries for one reference and platform must be identical (the
// duplicate is dropped). Errors name the file and each bad entry.
func Load(path string) (*File, error) {
	b, err := atomicfile.Read(path, MaxSize)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("lock file %s is empty: want apiVersion %s, kind %s and images (delete it and render with lockMode: update to write it again)", path, APIVersion, Kind)
		}
		return nil, fmt.Errorf("lock file %s: %w", path, plainError(err))
	}
	if f.APIVersion != APIVersion || f.Kind != Kind {
		return nil, fmt.Errorf("lock file %s: want apiVersion %s, kind %s; got %q, %q", path, APIVersion, Kind, f.APIVersion, f.Kind)
	}
	if problems := f.check(); len(problems) > 0 {
		return nil, fmt.Errorf("lock file %s: invalid:\n%s", path, strings.Join(problems, "\n"))
	}
	return &f, nil
}

// MaxSize bounds the lock file read: one of a thousand images is a few
// megabytes.
const MaxSize = 64 << 20

// check checks f.Entries, moves the valid ones to f.Images (a duplicate
// once) and returns the problems: invalid values, and two entries of one
// ref and platform, or of one digest and platform, that differ (the image
// behind a digest never changes, so one of them is wrong).
func (f *File) check() []string {
	var problems []string
	first := map[string]int{}       // ref + " " + platform: index of its first entry
	firstDigest := map[string]int{} // digest + " " + platform: index of its first entry
	for i, e := range f.Entries {
		name := fmt.Sprintf("images[%d] (ref %q, platform %q)", i, e.Ref, e.Platform)
		bad := e.check()
		for _, p := range bad {
			problems = append(problems, name+": "+p)
		}
		if len(bad) > 0 {
			continue
		}
		key := e.Ref + " " + e.Platform
		j, dup := first[key]
		k, sameDigest := firstDigest[e.Digest+" "+e.Platform]
		switch {
		case dup && !reflect.DeepEqual(e, f.Entries[j]):
			problems = append(problems, fmt.Sprintf("%s: conflicts with images[%d], of the same ref and platform: they differ in %s; keep one of them", name, j, strings.Join(differ(f.Entries[j], e), ", ")))
		case sameDigest && len(disagree(f.Entries[k], e)) > 0:
			problems = append(problems, fmt.Sprintf("%s: conflicts with images[%d], of the same digest and platform: they differ in %s; keep one of them", name, k, strings.Join(disagree(f.Entries[k], e), ", ")))
		case !dup:
			first[key] = i
			if !sameDigest {
				firstDigest[e.Digest+" "+e.Platform] = i
			}
			f.Images = append(f.Images, e.facts())
		}
	}
	f.Entries = nil
	return problems
}

// yaml.v3's messages name Go types: "field image not found in type
// lockfile.File", "cannot unmarshal !!str `x` into int".
var (
	unknownFieldRE = regexp.MustCompile("^line ([0-9]+): field (.*) not found in type .*$")
	typeErrorRE    = regexp.MustCompile("^line ([0-9]+): cannot unmarshal !!([a-z]+)(?: `(.*)`)? into (.*)$")
)

// plainError rewrites a decoding error without Go type names.
func plainError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		msgs[i] = e
		if m := unknownFieldRE.FindStringSubmatch(e); m != nil {
			msgs[i] = fmt.Sprintf("line %s: unknown field %q", m[1], m[2])
		} else if m := typeErrorRE.FindStringSubmatch(e); m != nil {
			what := map[string]string{"map": "a map", "seq": "a list"}[m[2]]
			if what == "" {
				what = fmt.Sprintf("%q", m[3])
			}
			msgs[i] = fmt.Sprintf("line %s: cannot read %s as %s", m[1], what, yamlKind(m[4]))
		}
	}
	return errors.New(strings.Join(msgs, "; "))
}

// yamlKind names what a Go type reads, in YAML words.
func yamlKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "a map" // the lock file's named types are structs
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case goType == "bool":
		return "true or false"
	}
	return "a string"
}

var (
	digestRE   = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	rootHashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

const (
	wantDigest   = `want "sha256:" and 64 lowercase hex digits`
	wantRootHash = "want 64 lowercase hex digits"
	wantEtcGroup = "want change kept, removed or unknown without gids, or written with gids in ascending order"
)

// check returns what is wrong with e.
func (e entry) check() []string {
	var bad []string
	if e.Ref == "" {
		bad = append(bad, "ref is required")
	}
	if e.Platform == "" {
		bad = append(bad, "platform is required")
	}
	if !digestRE.MatchString(e.Digest) {
		bad = append(bad, fmt.Sprintf("digest %q: %s", e.Digest, wantDigest))
	}
	if _, _, d := image.Split(e.Ref); d != "" {
		switch {
		case !digestRE.MatchString(d):
			bad = append(bad, fmt.Sprintf("the digest %q in ref: %s", d, wantDigest))
		case d != e.Digest && digestRE.MatchString(e.Digest):
			bad = append(bad, fmt.Sprintf("ref names digest %s but digest is %s", d, e.Digest))
		}
	}
	if e.ManifestDigest != "" && !digestRE.MatchString(e.ManifestDigest) {
		bad = append(bad, fmt.Sprintf("manifestDigest %q: %s", e.ManifestDigest, wantDigest))
	}
	for j, l := range e.Layers {
		if !digestRE.MatchString(l.Digest) {
			bad = append(bad, fmt.Sprintf("layers[%d].digest %q: %s", j, l.Digest, wantDigest))
		}
		if l.RootHash != "" && !rootHashRE.MatchString(l.RootHash) {
			bad = append(bad, fmt.Sprintf("layers[%d].rootHash %q: %s", j, l.RootHash, wantRootHash))
		}
		if g := l.EtcGroup; g != nil && !(&image.EtcGroup{Change: g.Change, GIDs: g.GIDs}).Valid() {
			bad = append(bad, fmt.Sprintf("layers[%d].etcGroup {change: %q, gids: %v}: %s", j, g.Change, g.GIDs, wantEtcGroup))
		}
	}
	for j, l := range e.Fragments {
		if _, err := l.check(); err != nil {
			bad = append(bad, fmt.Sprintf("fragments[%d].%v", j, err))
		}
	}
	return bad
}

// differ names the fields in which a and b differ.
func differ(a, b entry) []string {
	var d []string
	for _, f := range []struct {
		name string
		a, b any
	}{
		{"digest", a.Digest, b.Digest},
		{"manifestDigest", a.ManifestDigest, b.ManifestDigest},
		{"os", a.OS, b.OS},
		{"architecture", a.Architecture, b.Architecture},
		{"config", a.Config, b.Config},
		{"layers", a.Layers, b.Layers},
		{"fragments", a.Fragments, b.Fragments},
	} {
		if !reflect.DeepEqual(f.a, f.b) {
			d = append(d, f.name)
		}
	}
	return d
}

// disagree names the fields in which two entries of one digest and
// platform contradict each other: values both give that differ. One may
// lack what the other has (an entry written without hashing has no root
// hashes, an older one no etcGroup); the image behind a digest is one.
func disagree(a, b entry) []string {
	var d []string
	both := func(x, y string) bool { return x != "" && y != "" && x != y }
	if both(a.ManifestDigest, b.ManifestDigest) {
		d = append(d, "manifestDigest")
	}
	if both(a.OS, b.OS) || both(a.Architecture, b.Architecture) {
		d = append(d, "platform")
	}
	if !reflect.DeepEqual(a.Config, config{}) && !reflect.DeepEqual(b.Config, config{}) && !reflect.DeepEqual(a.Config, b.Config) {
		d = append(d, "config")
	}
	if len(a.Layers) > 0 && len(b.Layers) > 0 && !sameLayers(a.Layers, b.Layers) {
		d = append(d, "layers")
	}
	return d
}

// sameLayers reports whether a and b list the same layer digests with no
// root hash or etcGroup that both give and that differ.
func sameLayers(a, b []layer) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Digest != y.Digest || (x.RootHash != "" && y.RootHash != "" && x.RootHash != y.RootHash) ||
			(x.EtcGroup != nil && y.EtcGroup != nil && !reflect.DeepEqual(x.EtcGroup, y.EtcGroup)) {
			return false
		}
	}
	return true
}

// Marshal renders f deterministically: entries sorted by ref and platform.
func (f *File) Marshal() ([]byte, error) {
	out := File{APIVersion: APIVersion, Kind: Kind}
	for _, im := range f.Images {
		out.Entries = append(out.Entries, toEntry(im))
	}
	sort.Slice(out.Entries, func(i, j int) bool {
		a, b := out.Entries[i], out.Entries[j]
		if a.Ref != b.Ref {
			return a.Ref < b.Ref
		}
		return a.Platform < b.Platform
	})
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Mode says how a Source uses its lock file.
type Mode string

const (
	// Auto uses locked entries and asks the registry for the rest; it does
	// not write the file.
	Auto Mode = "auto"
	// Use never touches the network: an entry missing from the file is an
	// error.
	Use Mode = "use"
	// Update asks the registry for every reference and, on Commit, writes
	// the file with the references of this run refreshed. Entries of other
	// references are kept, so one lock file can serve several renders;
	// delete the file and update again to drop stale entries.
	Update Mode = "update"
)

// Upstream is where a Source gets what the lock file does not have.
type Upstream interface {
	image.Resolver
	image.Inspector
}

// Source answers Resolve and Inspect from a lock file, falling back to
// Upstream as Mode allows. It is safe for concurrent use.
type Source struct {
	// NeedRootHashes makes entries without layer root hashes count as
	// missing (CCE policies need them).
	NeedRootHashes bool

	path     string
	mode     Mode
	platform string
	upstream Upstream

	mu      sync.Mutex
	locked  []image.Facts
	fetched map[string]image.Facts // ref + " " + platform
}

// Open reads the lock file at path (which need not exist unless mode is
// Use) and returns a Source. upstream may be nil only in Use mode.
func Open(path string, mode Mode, platform string, upstream Upstream) (*Source, error) {
	s := &Source{path: path, mode: mode, platform: platform, upstream: upstream, fetched: map[string]image.Facts{}}
	switch mode {
	case Auto, Use, Update:
	default:
		return nil, fmt.Errorf("lock mode %q: must be auto, use or update", mode)
	}
	if mode != Use && upstream == nil {
		return nil, fmt.Errorf("lock mode %s needs a registry", mode)
	}
	f, err := Load(path)
	switch {
	case err == nil:
		s.locked = f.Images
	case errors.Is(err, fs.ErrNotExist) && mode != Use:
	default:
		return nil, err
	}
	return s, nil
}

// Resolve implements image.Resolver.
func (s *Source) Resolve(ctx context.Context, ref string) (image.Pin, error) {
	if s.mode == Update {
		f, err := s.fetch(ctx, ref, s.platform)
		return f.Pin, err
	}
	e, err := s.lookup(ref, s.platform)
	if err != nil {
		return image.Pin{}, err
	}
	if e != nil {
		return image.Pin{Ref: ref, Digest: e.Digest}, nil
	}
	if s.mode == Use {
		if _, _, d := image.Split(ref); d != "" {
			// Already pinned and we may not verify it: keep it as written.
			return image.Pin{Ref: ref, Digest: d}, nil
		}
		return image.Pin{}, s.missing(ref)
	}
	return s.upstream.Resolve(ctx, ref)
}

// Inspect implements image.Inspector.
func (s *Source) Inspect(ctx context.Context, ref, platform string) (image.Facts, error) {
	if s.mode == Update {
		return s.fetch(ctx, ref, platform)
	}
	e, err := s.lookup(ref, platform)
	if err != nil {
		return image.Facts{}, err
	}
	complete := e != nil && e.ManifestDigest != "" && (!s.NeedRootHashes || e.HasRootHashes())
	if complete {
		f := *e
		f.Ref = ref
		return f, nil
	}
	if s.mode == Use {
		if e != nil {
			return image.Facts{}, fmt.Errorf("the lock file %s has no layer root hashes for %s; add them with lockMode: update and target: virtual-node", s.path, ref)
		}
		return image.Facts{}, s.missing(ref)
	}
	return s.upstream.Inspect(ctx, ref, platform)
}

// Attached implements image.FragmentSource. In Update mode it records
// the fragments upstream finds with the facts (root hashes included, as
// Resolve records them in this mode); otherwise it answers from a locked
// entry (what was attached when it was written; none when it records
// none), else, in Auto mode, from upstream.
func (s *Source) Attached(ctx context.Context, ref, platform string) (image.Facts, []image.AttachedFragment, error) {
	if s.mode == Update {
		return s.fetchAttached(ctx, ref, platform)
	}
	e, err := s.lookup(ref, platform)
	if err != nil {
		return image.Facts{}, nil, err
	}
	if e != nil && e.ManifestDigest != "" {
		f := *e
		f.Ref = ref
		return f, f.Fragments, nil
	}
	if s.mode == Use {
		return image.Facts{}, nil, s.missing(ref)
	}
	up, ok := s.upstream.(image.FragmentSource)
	if !ok {
		return image.Facts{}, nil, errors.New("the registry client lists no attached fragments")
	}
	return up.Attached(ctx, ref, platform)
}

// fetchAttached is fetch, and the fragments upstream finds, recorded.
func (s *Source) fetchAttached(ctx context.Context, ref, platform string) (image.Facts, []image.AttachedFragment, error) {
	up, ok := s.upstream.(image.FragmentSource)
	if !ok {
		return image.Facts{}, nil, errors.New("the registry client lists no attached fragments")
	}
	f, err := s.fetch(ctx, ref, platform)
	if err != nil {
		return image.Facts{}, nil, err
	}
	_, frags, err := up.Attached(ctx, ref, platform)
	if err != nil {
		return image.Facts{}, nil, err
	}
	f.Fragments = frags
	s.mu.Lock()
	s.fetched[ref+" "+platform] = f
	s.mu.Unlock()
	return f, frags, nil
}

func (s *Source) missing(ref string) error {
	return fmt.Errorf("%s is not in the lock file %s (lockMode: use never asks the registry); add it with lockMode: update", ref, s.path)
}

// fetch asks upstream for everything about ref and records it.
func (s *Source) fetch(ctx context.Context, ref, platform string) (image.Facts, error) {
	key := ref + " " + platform
	s.mu.Lock()
	f, ok := s.fetched[key]
	s.mu.Unlock()
	if ok {
		return f, nil
	}
	f, err := s.upstream.Inspect(ctx, ref, platform)
	if err != nil {
		return image.Facts{}, err
	}
	if _, _, d := image.Split(ref); d != "" && d != f.Digest {
		return image.Facts{}, fmt.Errorf("resolving %s: registry returned digest %s", ref, f.Digest)
	}
	s.mu.Lock()
	s.fetched[key] = f
	s.mu.Unlock()
	return f, nil
}

// lookup finds ref's entry. A reference that is already pinned
// (repo[:tag]@digest, as cocofy writes them) matches an entry of the same
// repository, tag and digest, so a render of cocofy's own output finds
// the entries of the original references. A pinned reference whose tag is
// locked to another digest is an error.
func (s *Source) lookup(ref, platform string) (*image.Facts, error) {
	// ref's own entry first: that of the pinned reference records what
	// was looked up with it (its attached fragments).
	for i := range s.locked {
		if e := &s.locked[i]; e.Platform == platform && e.Ref == ref {
			return e, nil
		}
	}
	repo, tag, digest := image.Split(ref)
	var conflict *image.Facts
	for i := range s.locked {
		e := &s.locked[i]
		if e.Platform != platform {
			continue
		}
		if e.Ref == ref {
			return e, nil
		}
		if digest == "" {
			continue
		}
		erepo, etag, ed := image.Split(e.Ref)
		if etag == "" && ed == "" {
			etag = "latest" // what cocofy writes for a reference without a tag
		}
		if erepo != repo || (tag != "" && etag != tag) {
			continue
		}
		if ed == "" {
			ed = e.Digest
		}
		if ed == digest && e.Digest == digest {
			return e, nil
		}
		if tag != "" && etag == tag {
			conflict = e
		}
	}
	if conflict != nil && s.mode == Use {
		return nil, fmt.Errorf("%s: the lock file %s pins %s to %s", ref, s.path, conflict.Ref, conflict.Digest)
	}
	return nil, nil
}

// Changes lists, one line each, the references Commit adds to the lock
// file or changes in it: "added REF (PLATFORM): DIGEST", "changed REF
// (PLATFORM): OLD -> NEW", or, when the digest stayed, "changed REF
// (PLATFORM): FIELDS". Sorted; none in the modes other than Update.
func (s *Source) Changes() []string {
	if s.mode != Update {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := map[string]image.Facts{}
	for _, e := range s.locked {
		old[e.Ref+" "+e.Platform] = e
	}
	var lines []string
	for _, key := range slices.Sorted(maps.Keys(s.fetched)) {
		f := s.fetched[key]
		ref, platform, _ := strings.Cut(key, " ")
		o, ok := old[key]
		switch {
		case !ok:
			lines = append(lines, fmt.Sprintf("added %s (%s): %s", ref, platform, f.Digest))
		case o.Digest != f.Digest:
			lines = append(lines, fmt.Sprintf("changed %s (%s): %s -> %s", ref, platform, o.Digest, f.Digest))
		default:
			if d := differ(toEntry(o), toEntry(f)); len(d) > 0 {
				lines = append(lines, fmt.Sprintf("changed %s (%s): %s", ref, platform, strings.Join(d, ", ")))
			}
		}
	}
	return lines
}

// Commit writes the lock file in Update mode: the entries of this run,
// plus the entries of references this run did not see, as the file holds
// them now. Runs committing at the same time take turns (an flock on the
// file's folder) and each reads the file again, so that no run's entries
// are lost. It leaves the file alone when nothing changed, and does
// nothing in the other modes.
func (s *Source) Commit() error {
	if s.mode != Update {
		return nil
	}
	unlock, err := lockFolder(s.path)
	if err != nil {
		return fmt.Errorf("lock file %s: %w", s.path, err)
	}
	defer unlock()
	s.mu.Lock()
	onDisk := s.locked
	s.mu.Unlock()
	if now, err := Load(s.path); err == nil {
		onDisk = now.Images
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.mu.Lock()
	f := &File{}
	for _, e := range onDisk {
		if _, seen := s.fetched[e.Ref+" "+e.Platform]; !seen {
			f.Images = append(f.Images, e)
		}
	}
	for _, e := range s.fetched {
		f.Images = append(f.Images, e)
	}
	s.mu.Unlock()
	b, err := f.Marshal()
	if err != nil {
		return fmt.Errorf("lock file: %w", err)
	}
	if old, err := atomicfile.Read(s.path, MaxSize); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := atomicfile.Write(s.path, b, 0o644); err != nil {
		return fmt.Errorf("lock file %s: %w", s.path, err)
	}
	return nil
}
