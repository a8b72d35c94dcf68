package fn_test

import (
	"archive/tar"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"

	"cocofy.dev/cocofy/fn"
	"cocofy.dev/cocofy/internal/testing/registrytest"
)

// Layer faults while hashing for the CCE policy (target virtual-node): each
// is an error on the container's image field, never a policy without the
// container, and nothing is written.
func TestLayerFaultsNameTheResource(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := registrytest.Start(t)
	good := registrytest.Image(t, "good", "linux/amd64", v1.Config{})
	reg.Push(t, "shop/good:1", good)

	truncated := registrytest.Image(t, "truncated", "linux/amd64", v1.Config{}, bigLayer(t))
	reg.Push(t, "shop/truncated:1", truncated)
	tampered := registrytest.Image(t, "tampered", "linux/amd64", v1.Config{})
	reg.Push(t, "shop/tampered:1", tampered)
	reg.Push(t, "shop/nottar:1", registrytest.Image(t, "nottar", "linux/amd64", v1.Config{}, gzLayer(t, strings.NewReader(strings.Repeat("this is not a tar archive\n", 100)))))
	reg.Push(t, "shop/bomb:1", registrytest.Image(t, "bomb", "linux/amd64", v1.Config{}, bombLayer(t)))

	truncDigest, truncBlob := layerBlob(t, truncated)
	tamperDigest, tamperBlob := layerBlob(t, tampered)
	flipped := bytes.Clone(tamperBlob)
	flipped[len(flipped)/2] ^= 0xff
	reg.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+truncDigest):
			// Half the blob, then the connection drops.
			w.Header().Set("Content-Length", strconv.Itoa(len(truncBlob)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(truncBlob[:len(truncBlob)/2])
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return true
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+tamperDigest):
			// The same length, one byte changed.
			_, _ = w.Write(flipped)
			return true
		}
		return false
	})

	cfg := filepath.Join(t.TempDir(), "vn.yaml")
	assert.NilError(t, os.WriteFile(cfg, []byte("apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec: {target: virtual-node}\n"), 0o644))
	pod := func(image string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers:\n  - name: ok\n    image: " +
			reg.Host + "/shop/good:1\n  - name: bad\n    image: " + image + "\n"
	}
	cases := []struct{ name, desc, repo, want string }{
		{"layer-truncated", "A layer blob cut off mid-transfer (target virtual-node, while hashing)", "shop/truncated:1", "unexpected EOF"},
		{"layer-tampered", "A layer blob whose bytes do not match its digest", "shop/tampered:1", "error verifying sha256 checksum"},
		{"layer-not-tar", "A layer that is gzip but not a tar archive", "shop/nottar:1", "not a tar archive"},
		{"layer-gzip-bomb", "A gzip bomb: a 1 MB blob that decompresses past the 1000:1 ratio limit after 1 GiB", "shop/bomb:1", "decompression limit exceeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("COCOFY_CACHE_DIR", t.TempDir())
			image := reg.Host + "/" + c.repo
			out, stderr, err := runWith(t, fn.RegistryDeps, pod(image), "--config", cfg)
			assert.Assert(t, err != nil)
			assert.Equal(t, out, "", "nothing on stdout")
			prefix := "error: Pod ns/p: spec.containers[name=bad].image: image facts for the CCE policy: "
			assert.Assert(t, strings.Contains(stderr, prefix), "want %q in:\n%s", prefix, stderr)
			assert.Assert(t, strings.Contains(stderr, c.want), "want %q in:\n%s", c.want, stderr)
			assert.Assert(t, !strings.Contains(stderr, "[name=ok]"), "only the bad container:\n%s", stderr)
			msg := strings.ReplaceAll(stderr+"cocofy: "+err.Error()+"\n", reg.Host, "REGISTRY")
			golden.Assert(t, "# "+c.desc+"\n"+msg, filepath.Join("registry", "errors", c.name+".golden"))
		})
	}
}

// layerBlob returns the digest and bytes of img's first layer blob.
func layerBlob(t *testing.T, img v1.Image) (string, []byte) {
	t.Helper()
	ls, err := img.Layers()
	assert.NilError(t, err)
	d, err := ls[0].Digest()
	assert.NilError(t, err)
	rc, err := ls[0].Compressed()
	assert.NilError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	assert.NilError(t, err)
	return d.String(), b
}

func gzLayer(t *testing.T, r io.Reader) v1.Layer {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	_, err := io.Copy(zw, r)
	assert.NilError(t, err)
	assert.NilError(t, zw.Close())
	return static.NewLayer(b.Bytes(), types.DockerLayer)
}

// bigLayer is a 1 MiB file of random-looking bytes, so the blob is large.
func bigLayer(t *testing.T) v1.Layer {
	body := make([]byte, 1<<20)
	x := uint32(1)
	for i := range body {
		x = x*1664525 + 1013904223
		body[i] = byte(x >> 24)
	}
	return registrytest.Layer(t, registrytest.File{Name: "blob", Body: string(body)})
}

// bombLayer is a tar whose one file claims 2 GiB of zeros, gzipped: about
// 2 MB of blob for 1.2 GiB of tar before the stream ends.
func bombLayer(t *testing.T) v1.Layer {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		_ = tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: 2 << 30, Typeflag: tar.TypeReg})
		_, err := io.Copy(tw, io.LimitReader(zeroReader{}, 1200<<20))
		pw.CloseWithError(err)
	}()
	return gzLayer(t, pr)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
