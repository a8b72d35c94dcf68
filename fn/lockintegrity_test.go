package fn_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"

	"cocofy.dev/cocofy/fn"
)

// A lock file whose values are malformed, or that locks one reference
// twice differently, is an error naming the file and each entry; nothing
// of it reaches an image reference or a policy.
func TestBadLockFileValues(t *testing.T) {
	useSandboxConfig(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("COCOFY_CACHE_DIR", "off")
	const (
		d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
		d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	)
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers:\n" +
		"  - {name: a, image: example.com/a:1, resources: {limits: {cpu: 100m, memory: 256Mi}}}\n" +
		"  - {name: b, image: example.com/b:1, resources: {limits: {cpu: 100m, memory: 256Mi}}}\n"
	head := "apiVersion: cocofy.dev/v1alpha1\nkind: ImageLock\nimages:\n"
	cases := []struct{ name, desc, lock, want string }{
		{"lock-invalid", "A lock file with a short digest, a padded digest, a root hash that is not one, and two different entries for one reference: every bad entry is named",
			head +
				"- {ref: example.com/a:1, platform: linux/amd64, digest: sha256:6ddf}\n" +
				"- {ref: example.com/b:1, platform: linux/amd64, digest: '" + d1 + " x'}\n" +
				"- {ref: example.com/c:1, platform: linux/amd64, digest: " + d1 + ", manifestDigest: " + d1 + ", layers: [{digest: " + d2 + ", rootHash: zz}]}\n" +
				"- {ref: example.com/d:1, platform: linux/amd64, digest: " + d1 + "}\n" +
				"- {ref: example.com/d:1, platform: linux/amd64, digest: " + d2 + "}\n",
			`images[0] (ref "example.com/a:1", platform "linux/amd64"): digest "sha256:6ddf": want "sha256:" and 64 lowercase hex digits`},
		{"lock-empty", "An empty lock file", "", " is empty: want apiVersion cocofy.dev/v1alpha1, kind ImageLock and images"},
		{"lock-fields", "A lock file with an unknown field and values of the wrong kind: named by line and field, in YAML's words, not Go's",
			head + "- {ref: example.com/a:1, platform: linux/amd64, digest: [" + d1 + "], layers: {digest: x}}\nimage: x\n",
			`line 4: cannot read a list as a string; line 4: cannot read a map as a list; line 5: unknown field "image"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			lock := filepath.Join(dir, "images.lock.yaml")
			assert.NilError(t, os.WriteFile(lock, []byte(c.lock), 0o644))
			for _, mode := range []string{"use", "auto", "update"} {
				out, stderr, err := runWith(t, fn.RegistryDeps, pod, "--lock", lock, "--lock-mode", mode)
				assert.Assert(t, err != nil, "lockMode %s: want an error, got:\n%s", mode, out)
				assert.Equal(t, out, "", "nothing on stdout")
				assert.Assert(t, strings.Contains(err.Error(), "lock file "+lock), err)
				assert.Assert(t, strings.Contains(err.Error(), c.want), "want %q in %v", c.want, err)
				assert.Assert(t, !strings.Contains(err.Error(), "lockfile.") && !strings.Contains(err.Error(), "[]"), "a Go type in %v", err)
				msg := strings.ReplaceAll(stderr+"cocofy: "+err.Error()+"\n", dir+string(filepath.Separator), "")
				golden.Assert(t, "# "+c.desc+"\n"+msg, filepath.Join("registry", "errors", c.name+".golden"))
			}
		})
	}
}
