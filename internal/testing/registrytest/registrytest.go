// Package registrytest runs real OCI registries on 127.0.0.1 for tests
// (go-containerregistry's pkg/registry, in process) and pushes deterministic
// images to them: the same arguments always give the same digests.
package registrytest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TB is the part of testing.TB the image builders use, so that programs
// (hack/demoimages) can build the same images.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Registry is a running loopback registry.
type Registry struct {
	// Host is "127.0.0.1:<port>".
	Host string
	// Requests counts the HTTP requests the registry served; Blobs the
	// blob requests among them.
	Requests  atomic.Int64
	Blobs     atomic.Int64
	server    *httptest.Server
	latency   atomic.Int64 // nanoseconds added to every request
	fault     atomic.Pointer[Fault]
	user      string
	password  string
	referrers bool
}

// Fault intercepts requests before the registry sees them, as a faulty
// registry or proxy would: it returns true when it has answered.
type Fault func(w http.ResponseWriter, r *http.Request) bool

// SetFault installs f (nil removes it).
func (r *Registry) SetFault(f Fault) {
	if f == nil {
		r.fault.Store(nil)
		return
	}
	r.fault.Store(&f)
}

// Option configures a Registry.
type Option func(*Registry)

// WithBasicAuth makes every request need the given credentials.
func WithBasicAuth(user, password string) Option {
	return func(r *Registry) { r.user, r.password = user, password }
}

// WithReferrersAPI turns on the OCI 1.1 referrers API. Without it the
// registry answers 404 there, like registries that need the referrers tag
// schema.
func WithReferrersAPI() Option {
	return func(r *Registry) { r.referrers = true }
}

// Start runs a registry until the test ends.
func Start(t TB, opts ...Option) *Registry {
	t.Helper()
	r := &Registry{}
	for _, o := range opts {
		o(r)
	}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(r.referrers))
	r.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.Requests.Add(1)
		if strings.Contains(req.URL.Path, "/blobs/") {
			r.Blobs.Add(1)
		}
		if d := time.Duration(r.latency.Load()); d > 0 {
			time.Sleep(d)
		}
		if f := r.fault.Load(); f != nil && (*f)(w, req) {
			return
		}
		if r.user != "" {
			u, p, ok := req.BasicAuth()
			if !ok || u != r.user || p != r.password {
				w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(r.server.Close)
	r.Host = strings.TrimPrefix(r.server.URL, "http://")
	return r
}

// Stop shuts the registry down; later requests fail to connect.
func (r *Registry) Stop() { r.server.Close() }

// SetLatency changes the latency added to every request.
func (r *Registry) SetLatency(d time.Duration) { r.latency.Store(int64(d)) }

// Ref returns "<host>/<repo>".
func (r *Registry) Ref(repo string) string { return r.Host + "/" + repo }

// Push writes img (an image or an index) under ref ("repo:tag" on this
// registry) and returns its digest.
func (r *Registry) Push(t TB, ref string, img any) string {
	t.Helper()
	tag, err := name.NewTag(r.Host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var auth []remote.Option
	if r.user != "" {
		auth = append(auth, remote.WithAuth(&authn.Basic{Username: r.user, Password: r.password}))
	}
	var d v1.Hash
	switch v := img.(type) {
	case v1.Image:
		err = remote.Write(tag, v, auth...)
		if err == nil {
			d, err = v.Digest()
		}
	case v1.ImageIndex:
		err = remote.WriteIndex(tag, v, auth...)
		if err == nil {
			d, err = v.Digest()
		}
	default:
		t.Fatalf("registrytest: cannot push %T", img)
	}
	if err != nil {
		t.Fatalf("registrytest: push %s: %v", ref, err)
	}
	return d.String()
}

// File is one entry of a layer tarball.
type File struct {
	Name     string
	Body     string
	Mode     int64
	Typeflag byte
	Linkname string
}

// Layer builds a gzipped layer from files, with fixed times and owners.
func Layer(t TB, files ...File) v1.Layer {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: f.Mode, Typeflag: f.Typeflag, Linkname: f.Linkname,
			ModTime: time.Unix(1700000000, 0).UTC(), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(f.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(f.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	zw.ModTime = time.Time{}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return static.NewLayer(gz.Bytes(), types.DockerLayer)
}

// Image builds a deterministic image for platform ("os/arch") from cfg and
// layers. With no layers it gets one small layer named after seed, so
// different seeds give different digests.
func Image(t TB, seed, platform string, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	if len(layers) == 0 {
		layers = []v1.Layer{Layer(t, File{Name: "etc/", Typeflag: tar.TypeDir},
			File{Name: "etc/seed", Body: seed + " " + platform + "\n"})}
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config = cfg
	cf.Created = v1.Time{Time: time.Unix(1700000000, 0).UTC()}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Index builds a multi-arch index of one image per platform.
func Index(t TB, seed string, cfg v1.Config, platforms ...string) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, pl := range platforms {
		p, err := v1.ParsePlatform(pl)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{
			Add:        Image(t, seed, pl, cfg),
			Descriptor: v1.Descriptor{Platform: p},
		})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.DockerManifestList), adds...)
}

// MustDigest returns the digest of an image or index.
func MustDigest(t TB, x interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	d, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}
