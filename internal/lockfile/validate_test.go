package lockfile_test

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/lockfile"
)

const h1 = "1111111111111111111111111111111111111111111111111111111111111111"

func lockWith(entries ...string) string {
	return "apiVersion: cocofy.dev/v1alpha1\nkind: ImageLock\nimages:\n" + strings.Join(entries, "")
}

func entry(ref, digest string, extra ...string) string {
	s := "- ref: " + ref + "\n  platform: linux/amd64\n  digest: " + digest + "\n"
	for _, e := range extra {
		s += "  " + e + "\n"
	}
	return s
}

// Every digest and root hash in a lock file is checked before any of it
// reaches an image reference or a policy.
func TestLoadValidatesValues(t *testing.T) {
	for name, c := range map[string]struct{ body, want string }{
		"short digest":      {lockWith(entry("a:1", "sha256:6ddf")), `images[0] (ref "a:1", platform "linux/amd64"): digest "sha256:6ddf": want "sha256:" and 64 lowercase hex digits`},
		"padded digest":     {lockWith(entry("a:1", `"`+d1+` x"`)), `digest "` + d1 + ` x": want`},
		"upper hex":         {lockWith(entry("a:1", strings.ToUpper(d1))), `digest "SHA256:1111`},
		"sha512":            {lockWith(entry("a:1", "sha512:"+h1+h1)), `digest "sha512:`},
		"manifest":          {lockWith(entry("a:1", d1, "manifestDigest: sha256:zz")), `manifestDigest "sha256:zz": want "sha256:"`},
		"layer digest":      {lockWith(entry("a:1", d1, "layers: [{digest: sha256:12}]")), `layers[0].digest "sha256:12": want`},
		"root hash":         {lockWith(entry("a:1", d1, "layers: [{digest: "+d2+", rootHash: zz}]")), `images[0] (ref "a:1", platform "linux/amd64"): layers[0].rootHash "zz": want 64 lowercase hex digits`},
		"root hash long":    {lockWith(entry("a:1", d1, "layers: [{digest: "+d2+", rootHash: "+h1+"0}]")), `layers[0].rootHash "` + h1 + `0"`},
		"etc group":         {lockWith(entry("a:1", d1, "layers: [{digest: "+d2+", etcGroup: {change: kept, gids: [5]}}]")), `layers[0].etcGroup {change: "kept", gids: [5]}: want change kept, removed or unknown without gids, or written with gids in ascending order`},
		"etc group order":   {lockWith(entry("a:1", d1, "layers: [{digest: "+d2+", etcGroup: {change: written, gids: [5, 1]}}]")), `layers[0].etcGroup {change: "written", gids: [5 1]}`},
		"ref digest":        {lockWith(entry("a:1@sha256:6ddf", d1)), `the digest "sha256:6ddf" in ref: want`},
		"ref mismatch":      {lockWith(entry("a:1@"+d2, d1)), "ref names digest " + d2 + " but digest is " + d1},
		"no platform":       {lockWith("- ref: a:1\n  digest: " + d1 + "\n"), "platform is required"},
		"fragment digest":   {lockWith(entry("a:1", d1, "fragments: [{digest: sha256:12, envelope: AA==}]")), `fragments[0].digest "sha256:12": want`},
		"fragment base64":   {lockWith(entry("a:1", d1, "fragments: [{digest: "+d2+", envelope: '*'}]")), `fragments[0].envelope: want standard base64`},
		"fragment envelope": {lockWith(entry("a:1", d1, "fragments: [{digest: "+d2+", envelope: AA==}]")), `fragments[0].envelope: its sha256 is not digest ` + d2},
		"conflict": {lockWith(entry("a:1", d1), entry("b:1", d1), entry("a:1", d2)),
			`images[2] (ref "a:1", platform "linux/amd64"): conflicts with images[0], of the same ref and platform: they differ in digest; keep one of them`},
		"conflict digest root hashes": {lockWith(entry("a:1", d1, "layers: [{digest: "+d2+", rootHash: "+h1+"}]"), entry("a:2", d1, "layers: [{digest: "+d2+", rootHash: "+strings.Repeat("2", 64)+"}]")),
			`images[1] (ref "a:2", platform "linux/amd64"): conflicts with images[0], of the same digest and platform: they differ in layers; keep one of them`},
		"conflict layers": {lockWith(entry("a:1", d1, "layers: [{digest: "+d2+", rootHash: "+h1+"}]"), entry("a:1", d1, "layers: [{digest: "+d2+"}]")),
			"conflicts with images[0], of the same ref and platform: they differ in layers;"},
	} {
		t.Run(name, func(t *testing.T) {
			p := write(t, c.body)
			_, err := lockfile.Load(p)
			assert.ErrorContains(t, err, "lock file "+p+": invalid:\n")
			assert.ErrorContains(t, err, c.want)
		})
	}
}

// Entries of one digest may differ in what one of them lacks (root hashes
// not computed, an older cocofy's etcGroup): that is no conflict.
func TestSameDigestWithLessIsNoConflict(t *testing.T) {
	f, err := lockfile.Load(write(t, lockWith(
		entry("a:1", d1, "layers: [{digest: "+d2+", rootHash: "+h1+"}]"),
		entry("a@"+d1, d1, "layers: [{digest: "+d2+"}]"))))
	assert.NilError(t, err)
	assert.Equal(t, len(f.Images), 2)
}

// All problems are reported at once.
func TestLoadReportsEveryProblem(t *testing.T) {
	p := write(t, lockWith(entry("a:1", "sha256:6ddf"), entry("b:1", d1, "layers: [{digest: "+d2+", rootHash: zz}]")))
	_, err := lockfile.Load(p)
	assert.Error(t, err, "lock file "+p+": invalid:\n"+
		`images[0] (ref "a:1", platform "linux/amd64"): digest "sha256:6ddf": want "sha256:" and 64 lowercase hex digits`+"\n"+
		`images[1] (ref "b:1", platform "linux/amd64"): layers[0].rootHash "zz": want 64 lowercase hex digits`)
}

// Identical duplicates (a merge of two lock files) are fine: one is kept.
func TestLoadAcceptsIdenticalDuplicates(t *testing.T) {
	e := entry("a:1", d1, "layers: [{digest: "+d2+", rootHash: "+h1+"}]")
	f, err := lockfile.Load(write(t, lockWith(e, e)))
	assert.NilError(t, err)
	assert.Equal(t, len(f.Images), 1)
	assert.Equal(t, f.Images[0].Layers[0].RootHash, h1)
}

func TestEmptyLockFile(t *testing.T) {
	for _, body := range []string{"", "\n\n", "# nothing here yet\n"} {
		p := write(t, body)
		_, err := lockfile.Load(p)
		assert.Error(t, err, "lock file "+p+" is empty: want apiVersion cocofy.dev/v1alpha1, kind ImageLock and images (delete it and render with lockMode: update to write it again)")
		_, err = lockfile.Open(p, lockfile.Use, "linux/amd64", nil)
		assert.ErrorContains(t, err, p+" is empty")
	}
}
