//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"gotest.tools/v3/assert"
)

const (
	imageVersion = "v0.0.0-e2e"
	imageEpoch   = 1700000000
)

// The function image (hack/image, make image): built twice from a static
// binary built as make dist builds it, it has the same digest; pushed to a
// loopback registry and read back, it runs cocofy as 65532 with the version
// label, and its one layer holds the binary, the users kpt and the image
// run as, and /tmp. Then, where podman can run containers, kpt runs it as a
// container function: without network and files it cannot pin, with the
// lock file mounted it gives what the exec form gives, and the
// examples/kpt-container pipeline renders.
func TestImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "cocofy-linux-amd64")
	mustRun(t, root, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, "", "go", "build", "-tags", "rego", "-trimpath",
		"-ldflags", "-s -w -X cocofy.dev/cocofy/fn.Version="+imageVersion, "-o", bin, ".")
	binary, err := os.ReadFile(bin)
	assert.NilError(t, err)

	reg := startRegistry(t)
	ref := reg + "/cocofy:e2e"
	env := []string{"SOURCE_DATE_EPOCH=" + strconv.Itoa(imageEpoch)}
	build := func(args ...string) string {
		return strings.TrimSpace(mustRun(t, root, env, "", "go", append([]string{"run", "./hack/image", "-binary", bin}, args...)...))
	}
	digest := build("-push", ref, "-layout", filepath.Join(dir, "layout"))
	assert.Assert(t, strings.HasPrefix(digest, "sha256:"), digest)
	assert.Equal(t, build("-layout", filepath.Join(dir, "again")), digest, "a second build gives the same digest")
	assert.Equal(t, strings.TrimSpace(mustRun(t, root, nil, "", tool(t, "crane"), "digest", ref)), digest)
	idx, err := layout.ImageIndexFromPath(filepath.Join(dir, "layout"))
	assert.NilError(t, err)
	m, err := idx.IndexManifest()
	assert.NilError(t, err)
	assert.Equal(t, len(m.Manifests), 1)
	assert.Equal(t, m.Manifests[0].Digest.String(), digest, "the layout holds the pushed image")

	r := run(t, root, env, "", "go", "run", "./hack/image", "-binary", bin, "-version", "v9.9.9", "-layout", filepath.Join(dir, "other"))
	assert.Assert(t, r.err != nil)
	assert.Assert(t, strings.Contains(r.stderr, "was built as version "+imageVersion+", not v9.9.9"), r.stderr)

	// Read back from the registry.
	img, err := remote.Image(mustParse(t, ref))
	assert.NilError(t, err)
	mt, err := img.MediaType()
	assert.NilError(t, err)
	assert.Equal(t, mt, types.OCIManifestSchema1)
	cf, err := img.ConfigFile()
	assert.NilError(t, err)
	epoch := time.Unix(imageEpoch, 0).UTC()
	assert.Equal(t, cf.OS+"/"+cf.Architecture, "linux/amd64")
	assert.Assert(t, cf.Created.Time.Equal(epoch), "created %s", cf.Created)
	assert.Equal(t, cf.Config.User, "65532:65532")
	assert.DeepEqual(t, cf.Config.Entrypoint, []string{"/usr/local/bin/cocofy"})
	assert.Equal(t, cf.Config.WorkingDir, "/")
	assert.Equal(t, cf.Config.Labels["org.opencontainers.image.version"], imageVersion)
	assert.Assert(t, cf.Config.Labels["org.opencontainers.image.source"] != "")

	layers, err := img.Layers()
	assert.NilError(t, err)
	assert.Equal(t, len(layers), 1)
	files := layerFiles(t, layers[0])
	for name, f := range files {
		assert.Assert(t, f.ModTime.Equal(epoch), "%s: mtime %s", name, f.ModTime)
	}
	cocofyFile := files["usr/local/bin/cocofy"]
	assert.Equal(t, cocofyFile.Mode, int64(0o755))
	assert.Equal(t, cocofyFile.sum, sha256.Sum256(binary), "the layer holds the binary")
	assert.Equal(t, files["tmp/"].Mode, int64(0o1777))
	passwd, group := files["etc/passwd"].body, files["etc/group"].body
	assert.Assert(t, strings.Contains(passwd, "\nnonroot:x:65532:65532:"), passwd)
	assert.Assert(t, strings.Contains(passwd, "\nnobody:x:65534:65534:"), "kpt runs functions as --user nobody:\n%s", passwd)
	assert.Assert(t, strings.Contains(group, "\nnonroot:x:65532:\n"), group)

	// The binary of the image runs here (linux/amd64) and says its version.
	extracted := filepath.Join(dir, "extracted")
	assert.NilError(t, os.WriteFile(extracted, []byte(cocofyFile.body), 0o755))
	out := mustRun(t, root, nil, "", extracted, "--version")
	assert.Assert(t, strings.HasPrefix(out, "cocofy "+imageVersion+" (") && strings.Contains(out, "enforcer built in"), out)

	// The container example's pipeline needs no registry and no lock file:
	// the same package with the exec form renders offline.
	execPkg := copyPackageNamed(t, "kpt-container")
	kptfile := filepath.Join(execPkg, "Kptfile")
	assert.NilError(t, os.WriteFile(kptfile, []byte(strings.Replace(readFile(t, kptfile), "- image: localhost:5001/cocofy:dev", "- exec: "+cocofy(t), 1)), 0o644))
	kpt := tool(t, "kpt")
	r = run(t, execPkg, nil, "", kpt, "fn", "render", "--allow-exec", "--truncate-output=false")
	assert.NilError(t, r.err, r.stderr)
	api := readFile(t, filepath.Join(execPkg, "api.yaml"))
	assert.Assert(t, strings.Contains(api, "runtimeClassName: kata-vm-isolation"), api)
	assert.Assert(t, strings.Contains(api, "image: localhost:5001/cocofy-demo/api:2.0\n"), "not pinned:\n%s", api)

	t.Run("kpt with podman", func(t *testing.T) {
		podmanKpt(t, dir, reg, ref, binary, api)
	})
}

// podmanKpt runs the image as kpt does (KPT_FN_RUNTIME=podman), when podman
// can run a container here; else it skips with podman's error.
func podmanKpt(t *testing.T, dir, reg, ref string, binary []byte, execAPI string) {
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman not on PATH")
	}
	env := podmanEnv(t, podman, reg)

	// Can this podman run a container at all? A bare image of the same
	// binary, as root, tells; a failure of the real image after that is the
	// image's.
	probe := reg + "/cocofy-probe:e2e"
	pushProbe(t, probe, binary)
	if r := run(t, root, env, "", podman, "run", "--rm", probe, "--version"); r.err != nil {
		t.Skipf("podman cannot run a container here: %s", podmanError(r.stderr))
	}
	r := run(t, root, env, "", podman, "run", "--rm", ref, "--version")
	assert.NilError(t, r.err, r.stderr)
	assert.Assert(t, strings.HasPrefix(r.stdout, "cocofy "+imageVersion+" ("), r.stdout)

	kpt := tool(t, "kpt")
	env = append(env, "KPT_FN_RUNTIME=podman")
	lock := filepath.Join(root, "examples", "images.lock.yaml")

	// No network, no files: the images cannot be pinned, and nothing changes.
	pkg := copyPackage(t)
	before := snapshot(t, pkg)
	r = run(t, pkg, env, "", kpt, "fn", "eval", ".", "--image", ref, "--truncate-output=false", "--", "target=contrast")
	assert.Assert(t, r.err != nil, "pinning without network must fail:\n%s", r.stderr)
	assert.Assert(t, strings.Contains(r.stderr, "resolving localhost:5001/cocofy-demo/api:2.0"), r.stderr)
	assert.Assert(t, strings.Contains(r.stderr, "there is no network here"), "it says what works:\n%s", r.stderr)
	assert.Assert(t, strings.Contains(r.stderr, "mount the lock file"), r.stderr)
	assert.DeepEqual(t, snapshot(t, pkg), before)

	// -- pin=false: placed, not pinned.
	r = run(t, pkg, env, "", kpt, "fn", "eval", ".", "--image", ref, "--truncate-output=false", "--", "target=contrast", "pin=false")
	assert.NilError(t, r.err, r.stderr)
	assert.Assert(t, strings.Contains(readFile(t, filepath.Join(pkg, "api.yaml")), "image: localhost:5001/cocofy-demo/api:2.0\n"))
	pkg = copyPackage(t)

	// With the lock file mounted (--mount, read-only), it pins from the lock
	// and gives what the exec form gives.
	r = run(t, pkg, env, "", kpt, "fn", "eval", ".", "--image", ref, "--truncate-output=false",
		"--mount", "type=bind,src="+lock+",dst=/lock/images.lock.yaml",
		"--", "target=contrast", "lockFile=/lock/images.lock.yaml", "lockMode=use")
	assert.NilError(t, r.err, r.stderr)
	api := readFile(t, filepath.Join(pkg, "api.yaml"))
	assert.Assert(t, strings.Contains(api, "runtimeClassName: contrast-cc"), api)
	assert.Assert(t, strings.Contains(api, "image: localhost:5001/cocofy-demo/api:2.0@sha256:"), api)
	execPkg := copyPackage(t)
	r = run(t, execPkg, nil, "", kpt, "fn", "eval", ".", "--exec", cocofy(t), "--", "target=contrast", "lockFile="+lock, "lockMode=use")
	assert.NilError(t, r.err, r.stderr)
	assert.DeepEqual(t, snapshot(t, pkg), snapshot(t, execPkg))

	// The examples/kpt-container pipeline, with this image.
	pkg = copyPackageNamed(t, "kpt-container")
	kptfile := filepath.Join(pkg, "Kptfile")
	assert.NilError(t, os.WriteFile(kptfile, []byte(strings.Replace(readFile(t, kptfile), "- image: localhost:5001/cocofy:dev", "- image: "+ref, 1)), 0o644))
	r = run(t, pkg, env, "", kpt, "fn", "render", "--truncate-output=false")
	assert.NilError(t, r.err, r.stderr)
	assert.Equal(t, readFile(t, filepath.Join(pkg, "api.yaml")), execAPI, "the container form renders as the exec form")
}

// podmanEnv gives podman storage of the test's own and lets it pull from
// the loopback registry over plain HTTP.
func podmanEnv(t *testing.T, podman, reg string) []string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		assert.NilError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	write("config.json", "{}\n")
	env := []string{
		// run's DOCKER_CONFIG has no config.json, which podman refuses.
		"DOCKER_CONFIG=" + dir,
		"CONTAINERS_REGISTRIES_CONF=" + write("registries.conf", "[[registry]]\nlocation = \""+reg+"\"\ninsecure = true\n"),
		"CONTAINERS_STORAGE_CONF=" + write("storage.conf", "[storage]\ndriver = \"vfs\"\ngraphroot = \""+filepath.Join(dir, "graph")+"\"\n"+
			"runroot = \""+filepath.Join(dir, "run")+"\"\n"),
	}
	// podman removes what it pulled (rootless, those files are not all the
	// user's to remove).
	t.Cleanup(func() { _ = run(t, root, env, "", podman, "rmi", "--all", "--force") })
	return env
}

// podmanError is the line of podman's stderr that says what failed.
func podmanError(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "Error:") {
			return lines[i]
		}
	}
	return lines[len(lines)-1]
}

// pushProbe pushes the plainest image of the binary: no users, no config
// but the entrypoint.
func pushProbe(t *testing.T, ref string, binary []byte) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	assert.NilError(t, tw.WriteHeader(&tar.Header{Name: "cocofy", Mode: 0o755, Size: int64(len(binary)), Typeflag: tar.TypeReg}))
	_, err := tw.Write(binary)
	assert.NilError(t, err)
	assert.NilError(t, tw.Close())
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	assert.NilError(t, err)
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: "amd64",
		RootFS: v1.RootFS{Type: "layers"}, Config: v1.Config{Entrypoint: []string{"/cocofy"}}})
	assert.NilError(t, err)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer})
	assert.NilError(t, err)
	assert.NilError(t, remote.Write(mustParse(t, ref), img))
}

func mustParse(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	assert.NilError(t, err)
	return r
}

type layerFile struct {
	*tar.Header
	body string
	sum  [32]byte
}

func layerFiles(t *testing.T, l v1.Layer) map[string]layerFile {
	t.Helper()
	rc, err := l.Uncompressed()
	assert.NilError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]layerFile{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		assert.NilError(t, err)
		b, err := io.ReadAll(tr)
		assert.NilError(t, err)
		files[h.Name] = layerFile{Header: h, body: string(b), sum: sha256.Sum256(b)}
	}
	return files
}
