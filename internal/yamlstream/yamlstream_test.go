package yamlstream_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"

	"cocofy.dev/cocofy/internal/yamlstream"
	"cocofy.dev/cocofy/postrender"
)

// corpus is every YAML file of the repository's examples and test data,
// each alone and all joined as one stream, plus inputs that exercise kio's
// corners.
func corpus(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{
		"crlf":              "a: 1\r\n---\r\nb:\r\n- x\r\n",
		"stale seqindent":   "apiVersion: v1\nkind: A\nmetadata: {name: a}\nl:\n  - x\n---\napiVersion: v1\nkind: B\nmetadata: {name: b}\n",
		"empty docs":        "---\n---\n# c\n---\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n---\n\n",
		"double separator":  "a: 1\n---\n---\nb: 2\n",
		"separator comment": "a: 1\n--- # x\nb: 2\n",
		"block scalars":     "a: |+\n  x\n\n---\nb: |-\n  y\n---\nc: >\n  z\n",
		"foot comments":     "a: 1\n# foot\n---\n# head\nb: 2 # line\n# foot b\n",
		"annotations":       "apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  annotations: {}\n---\napiVersion: v1\nkind: A\nmetadata:\n  name: b\n  annotations:\n    internal.config.kubernetes.io/x: y\n    config.kubernetes.io/index: '7'\n    k: v\n",
		"bare seq":          "- a\n- b\n---\nk: v\n",
		"document end":      "a: 1\n...\n---\nb: 2\n",
		"list":              "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n---\nx: y\n",
	}
	var all []string
	for _, dir := range []string{"../../examples", "../../fn/testdata", "../../pipeline/testdata", "../../postrender/testdata", "../ccpolicy/testdata"} {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out[path] = string(b)
			all = append(all, string(b))
			return nil
		})
	}
	out["all joined"] = strings.Join(all, "\n---\n")
	return out
}

// readAll reads a stream with the Reader.
func readAll(in []byte) ([]string, [][]byte, error) {
	r := yamlstream.NewReader(in)
	var docs []string
	var written [][]byte
	for i := 0; ; i++ {
		n, err := r.Next()
		if errors.Is(err, io.EOF) {
			return docs, written, nil
		}
		if err != nil {
			return nil, nil, err
		}
		s, err := n.String()
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, s)
		var b bytes.Buffer
		if err := yamlstream.Encode(&b, n, i == 0); err != nil {
			return nil, nil, err
		}
		written = append(written, b.Bytes())
	}
}

// TestSameAsKio: the Reader decodes each document to what kio.ByteReader
// gives (annotations included), and the documents written one at a time
// make the stream postrender.Write makes of them all.
func TestSameAsKio(t *testing.T) {
	for name, in := range corpus(t) {
		check(t, name, in)
	}
}

func check(t *testing.T, name, in string) {
	t.Helper()
	want, werr := (&kio.ByteReader{Reader: strings.NewReader(in), PreserveSeqIndent: true, DisableUnwrapping: true}).Read()
	docs, written, err := readAll([]byte(in))
	if errors.Is(err, yamlstream.ErrSeveral) {
		return // kio reads the first object only
	}
	if (werr != nil) != (err != nil) {
		t.Fatalf("%s: kio error %v, ours %v", name, werr, err)
	}
	if werr != nil {
		return
	}
	if len(docs) != len(want) {
		t.Fatalf("%s: %d documents, kio read %d", name, len(docs), len(want))
	}
	for i, n := range want {
		s, _ := n.String()
		if s != docs[i] {
			t.Fatalf("%s: document %d:\n%s\nkio:\n%s", name, i, docs[i], s)
		}
	}
	if len(want) < 2 {
		return // a single document is written by postrender.Write itself
	}
	var wantOut bytes.Buffer
	if err := postrender.Write(&wantOut, want); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if got := bytes.Join(written, nil); !bytes.Equal(got, wantOut.Bytes()) {
		t.Fatalf("%s: written:\n%s\npostrender.Write:\n%s", name, got, wantOut.Bytes())
	}
}

func FuzzSameAsKio(f *testing.F) {
	for _, in := range corpus(f) {
		if len(in) < 4096 {
			f.Add(in)
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		check(t, "fuzz", in)
	})
}
