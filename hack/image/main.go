// Command image builds cocofy's container image (the kpt container
// function, `image:` in a Kptfile) without Docker: a linux/amd64 OCI image
// of one layer, from the static binary that `make dist` builds. With
// -argocd-cmp it builds the Argo CD plugin sidecar's image instead (see
// argocd.go; make argocd-image).
//
//	go run ./hack/image -binary dist/cocofy-linux-amd64 -layout dist/image
//	go run ./hack/image -binary dist/cocofy-linux-amd64 -push ghcr.io/you/cocofy:v1.2.3
//	go run ./hack/image -binary dist/cocofy-linux-amd64 -argocd-cmp debian:bookworm-slim@sha256:… -helm dist/argocd/helm -layout dist/argocd-image
//
// The layer holds /usr/local/bin/cocofy, /etc/passwd and /etc/group (root,
// nobody 65534, which kpt's `--user nobody` needs, and nonroot 65532), a
// world-writable /tmp and, with -ca-certificates, a CA bundle (none by
// default: the host's bundle would make the digest depend on the machine).
// The image runs as 65532:65532 with the entrypoint /usr/local/bin/cocofy
// in /, with XDG_CACHE_HOME=/tmp/cache, and carries the labels
// org.opencontainers.image.version and .source.
//
// The build is reproducible: every file time and the image's created time
// are SOURCE_DATE_EPOCH (unset: the last commit's time, as for make dist;
// outside git 0), so the same binary gives the same digest. The binary
// must be a static linux/amd64 one built with -tags rego (CGO_ENABLED=0,
// as make dist builds it). The version defaults to the one the binary
// reports (cocofy --version, on a linux/amd64 machine), else git describe;
// a -version that differs from the binary's is refused.
//
// -layout DIR writes an OCI image layout (DIR is replaced when it is one or
// empty); -push REF pushes with the docker config's credentials, over plain
// HTTP only to loopback registries (localhost, 127.0.0.0/8, ::1). The
// image's digest is printed on stdout.
package main

import (
	"archive/tar"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	binPath = "/usr/local/bin/cocofy"
	// The non-root user the image runs as (distroless's "nonroot").
	uid, gid = 65532, 65532
)

func main() {
	binary := flag.String("binary", "dist/cocofy-linux-amd64", "the static linux/amd64 cocofy binary (CGO_ENABLED=0, -tags rego, as make dist builds it)")
	version := flag.String("version", "", "org.opencontainers.image.version (default: the binary's own version, else git describe --tags --always --dirty)")
	source := flag.String("source", "https://cocofy.dev/cocofy", "org.opencontainers.image.source")
	layoutDir := flag.String("layout", "", "write an OCI image layout to this folder")
	push := flag.String("push", "", "push to this reference (host[:port]/repo:tag)")
	caCerts := flag.String("ca-certificates", "", "a CA bundle to add as /etc/ssl/certs/ca-certificates.crt (default none: the image then reaches only plain-HTTP loopback registries, even with kpt's --network)")
	argoBase := flag.String("argocd-cmp", "", "build the Argo CD plugin sidecar's image instead, on this base (with sh; named by digest)")
	helmFile := flag.String("helm", "", "with -argocd-cmp: the static linux/amd64 helm 3 binary to add")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("image: ")
	if flag.NArg() > 0 || *layoutDir == "" && *push == "" {
		log.Fatal("usage: go run ./hack/image [-binary FILE] [-version V] [-source URL] [-ca-certificates FILE | -argocd-cmp BASE -helm FILE] {-layout DIR | -push REF}...")
	}
	if (*argoBase == "") != (*helmFile == "") || *argoBase != "" && *caCerts != "" {
		log.Fatal("-argocd-cmp and -helm go together, and without -ca-certificates (the base's are used)")
	}

	body, built, err := readBinary(*binary)
	if err != nil {
		log.Fatal(err)
	}
	switch {
	case *version == "" && built != "":
		*version = built
	case *version == "":
		*version = gitDescribe()
	case built != "" && built != *version:
		log.Fatalf("%s was built as version %s, not %s: build it with that version, or leave -version out", *binary, built, *version)
	}
	epoch, err := sourceDateEpoch()
	if err != nil {
		log.Fatal(err)
	}

	var certs []byte
	if *caCerts != "" {
		if certs, err = os.ReadFile(*caCerts); err != nil {
			log.Fatal(err)
		}
	}
	var img v1.Image
	if *argoBase != "" {
		img, err = argoCDImage(*argoBase, *helmFile, body, *version, *source, epoch)
	} else {
		img, err = build(body, certs, *version, *source, epoch)
	}
	if err != nil {
		log.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		log.Fatal(err)
	}
	if *layoutDir != "" {
		if err := writeLayout(*layoutDir, img, *version); err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "image: wrote %s (cocofy %s, %s)\n", *layoutDir, *version, digest)
	}
	if *push != "" {
		ref, err := pushImage(*push, img)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "image: pushed %s@%s (cocofy %s)\n", ref, digest, *version)
	}
	fmt.Println(digest)
}

// readBinary returns the binary's bytes and the version it was built with
// ("" when it has none), after checking that it is the one the image needs.
func readBinary(path string) ([]byte, string, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("%v (make image builds it; or build it as make dist does)", err)
	}
	f, err := elf.NewFile(bytes.NewReader(body))
	if err != nil {
		return nil, "", fmt.Errorf("%s: not a Linux binary: %v", path, err)
	}
	if f.Machine != elf.EM_X86_64 {
		return nil, "", fmt.Errorf("%s: built for %s, the image is linux/amd64 (GOOS=linux GOARCH=amd64)", path, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, "", fmt.Errorf("%s: dynamically linked, the image has no C library (build with CGO_ENABLED=0)", path)
		}
	}
	info, err := buildinfo.Read(bytes.NewReader(body))
	if err != nil {
		return nil, "", fmt.Errorf("%s: no Go build information: %v", path, err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["GOOS"] != "linux" || settings["GOARCH"] != "amd64" || settings["CGO_ENABLED"] != "0" {
		return nil, "", fmt.Errorf("%s: built with GOOS=%s GOARCH=%s CGO_ENABLED=%s, the image needs linux, amd64 and 0", path, settings["GOOS"], settings["GOARCH"], settings["CGO_ENABLED"])
	}
	if !slices.Contains(strings.Split(settings["-tags"], ","), "rego") {
		return nil, "", fmt.Errorf("%s: built without -tags rego (hcsshim's enforcer: cocofy verify, and the check of every policy); build it as make dist does", path)
	}
	// -trimpath leaves -ldflags, and so the version, out of the build
	// information: ask the binary, where this machine can run it.
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return body, "", nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", err
	}
	out, err := exec.Command(abs, "--version").Output()
	if err != nil {
		return nil, "", fmt.Errorf("%s --version: %v", path, err)
	}
	m := versionLine.FindStringSubmatch(string(out))
	if m == nil {
		return nil, "", fmt.Errorf("%s --version: unexpected answer %q", path, out)
	}
	return body, m[1], nil
}

// versionLine is cocofy --version: "cocofy v1.2.3 (go1.26.8 linux/amd64, enforcer built in)".
var versionLine = regexp.MustCompile(`^cocofy (\S+) \(`)

func gitDescribe() string {
	out, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return "dev"
}

func sourceDateEpoch() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		// As hack/dist.sh: the last commit's time, else 0.
		out, err := exec.Command("git", "log", "-1", "--format=%ct").Output()
		if v = strings.TrimSpace(string(out)); err != nil || v == "" {
			v = "0"
		}
	}
	s, err := strconv.ParseInt(v, 10, 64)
	if err != nil || s < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds", v)
	}
	return time.Unix(s, 0).UTC(), nil
}

// build returns the image: one layer, OCI media types, every time epoch.
func build(binary, caCerts []byte, version, source string, epoch time.Time) (v1.Image, error) {
	root := tar.Header{Uid: 0, Gid: 0}
	files := []tarFile{
		{Header: dir(root, "etc/", 0o755)},
		{Header: file(root, "etc/group", 0o644), body: "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"},
		{Header: file(root, "etc/passwd", 0o644), body: "root:x:0:0:root:/root:/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
			"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"},
		{Header: dir(root, "etc/ssl/", 0o755)},
		{Header: dir(root, "etc/ssl/certs/", 0o755)},
		{Header: file(root, "etc/ssl/certs/ca-certificates.crt", 0o644), body: string(caCerts)},
		{Header: dir(root, "home/", 0o755)},
		{Header: dir(tar.Header{Uid: uid, Gid: gid}, "home/nonroot/", 0o700)},
		{Header: dir(root, "tmp/", 0o1777)},
		{Header: dir(root, "usr/", 0o755)},
		{Header: dir(root, "usr/local/", 0o755)},
		{Header: dir(root, "usr/local/bin/", 0o755)},
		{Header: file(root, strings.TrimPrefix(binPath, "/"), 0o755), body: string(binary)},
	}
	if caCerts == nil {
		files = slices.DeleteFunc(files, func(f tarFile) bool { return strings.HasPrefix(f.Name, "etc/ssl/") })
	}
	layer, err := tarLayer(files, epoch, types.OCILayer)
	if err != nil {
		return nil, err
	}

	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: epoch},
			CreatedBy: "hack/image: " + binPath + " (cocofy " + version + "), /etc/passwd, /etc/group, /tmp",
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config = v1.Config{
		User:       strconv.Itoa(uid) + ":" + strconv.Itoa(gid),
		Entrypoint: []string{binPath},
		WorkingDir: "/",
		Env: []string{
			"PATH=/usr/local/bin:/usr/bin:/bin",
			// Writable whatever user the runtime picks (kpt: nobody).
			"XDG_CACHE_HOME=/tmp/cache",
		},
		Labels: map[string]string{
			"org.opencontainers.image.version": version,
			"org.opencontainers.image.source":  source,
			"org.opencontainers.image.title":   "cocofy",
		},
	}
	return mutate.ConfigFile(img, cf)
}

// tarFile is a file or folder of a layer.
type tarFile struct {
	tar.Header
	body string
}

// tarLayer is a layer of files, in order, every time epoch.
func tarLayer(files []tarFile, epoch time.Time, mt types.MediaType) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := f.Header
		h.ModTime = epoch
		h.Format = tar.FormatUSTAR
		h.Size = int64(len(f.body))
		if err := tw.WriteHeader(&h); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}, tarball.WithMediaType(mt))
}

func dir(owner tar.Header, name string, mode int64) tar.Header {
	owner.Name, owner.Typeflag, owner.Mode = name, tar.TypeDir, mode
	return owner
}

func file(owner tar.Header, name string, mode int64) tar.Header {
	owner.Name, owner.Typeflag, owner.Mode = name, tar.TypeReg, mode
	return owner
}

// writeLayout writes img as the only image of an OCI layout at dir, which
// must be missing, empty, or an OCI layout (then it is replaced).
func writeLayout(dir string, img v1.Image, version string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			return fmt.Errorf("%s: not empty and not an OCI layout; not replacing it", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": version,
	}))
}

// pushImage pushes img to ref: over plain HTTP to a loopback registry,
// else over TLS only (go-containerregistry would fall back to plain HTTP
// for RFC 1918 addresses and *.local names; this refuses).
func pushImage(ref string, img v1.Image) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	loopback := isLoopback(r.Context().RegistryStr())
	if loopback {
		if r, err = name.ParseReference(ref, name.Insecure); err != nil {
			return nil, err
		}
	}
	transport := remote.DefaultTransport
	if !loopback {
		transport = tlsOnly{remote.DefaultTransport}
	}
	return r, remote.Write(r, img, remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(transport))
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type tlsOnly struct{ next http.RoundTripper }

func (t tlsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return nil, fmt.Errorf("refusing plain HTTP to %s: only loopback registries are pushed to without TLS", req.URL.Host)
	}
	return t.next.RoundTrip(req)
}
