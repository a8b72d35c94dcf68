package postrender_test

import (
	"bytes"
	"strings"
	"testing"

	"cocofy.dev/cocofy/postrender"
)

// FuzzReadWrite: any input either fails to read, or reads into objects that
// write out and read back to the same objects (nothing lost, no panic).
func FuzzReadWrite(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx}]}\n",
		"# Source: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # c\ndata: {k: v}\n---\n",
		"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n",
		"---\n---\n",
		"key: [unclosed\n",
		"- just\n- a list\n",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {postrenderer.helm.sh/postrender-filename: a.yaml}}\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		nodes, err := postrender.Read(strings.NewReader(in))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := postrender.Write(&out, nodes); err != nil {
			t.Fatalf("write after a successful read: %v", err)
		}
		again, err := postrender.Read(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("our own output does not read back: %v\n%s", err, out.String())
		}
		if len(again) != len(nodes) {
			t.Fatalf("read %d objects, wrote and read back %d", len(nodes), len(again))
		}
	})
}
