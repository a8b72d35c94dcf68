package ccpolicy_test

import (
	"os"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/ccpolicy"
)

const helloworld = "mcr.microsoft.com/acc/samples/aci/helloworld:2.9"

// helloworldFacts are the facts confcom's sample fragment shows.
func helloworldFacts() map[string]image.Facts {
	f := image.Facts{
		OS: "linux", Architecture: "amd64",
		Config: image.Config{
			Cmd:        []string{"python3", "main.py"},
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONUNBUFFERED=1"},
			WorkingDir: "/app",
		},
	}
	for _, h := range []string{
		"4e74440c7b0e6e6c1cc9e6eb9b779e1ffde807122ed8a16bb0422a1d64fd5aa8",
		"4cf856bcde8e1fa71f57d2218e21dd7c1a6a12c6d930d2bdb4bdb13a46fed9e4",
		"41a52f45506177737caec5d57fe6160b6c8942dcac1bc7834fc0e94e62ff6b4d",
		"b8ea8eae7795453b5e3dcfafe3f11fb2d68efb1062308e4d2411d44dd19fa97c",
		"a0df1939f552483286c45204e7f583c9a6146963a79556fe22578d7b7e63e7a1",
		"3ccbd6b119e951f3f2586339e9d10168b064a5852fd87cfae94af47a89f4d6c6",
		"8348c9d4357db6a600aa4c5116ed9755a230d274096706a7d214c02105d0b256",
	} {
		f.Layers = append(f.Layers, image.Layer{RootHash: h})
	}
	return map[string]image.Facts{helloworld: f}
}

// GenerateFragment writes what confcom 2.0.1's acifragmentgen --image
// writes; testdata/fragment/README.md says how the goldens were derived.
func TestGenerateFragmentMatchesConfcom(t *testing.T) {
	for file, raw := range map[string]bool{"helloworld.rego": false, "helloworld.outraw.rego": true} {
		t.Run(file, func(t *testing.T) {
			want, err := os.ReadFile("testdata/fragment/" + file)
			assert.NilError(t, err)
			got, err := ccpolicy.GenerateFragment([]string{helloworld}, helloworldFacts(), ccpolicy.FragmentOptions{Namespace: "contoso", SVN: "1", Raw: raw})
			assert.NilError(t, err)
			assert.Equal(t, got, string(want))
		})
	}
}

func TestGenerateFragmentErrors(t *testing.T) {
	facts := helloworldFacts()
	_, err := ccpolicy.GenerateFragment([]string{helloworld}, facts, ccpolicy.FragmentOptions{Namespace: "contoso", SVN: "one"})
	assert.ErrorIs(t, err, ccpolicy.ErrInvalid)
	_, err = ccpolicy.GenerateFragment([]string{"other:1"}, facts, ccpolicy.FragmentOptions{Namespace: "contoso", SVN: "1"})
	assert.ErrorIs(t, err, ccpolicy.ErrNoImageFacts)
	_, err = ccpolicy.GenerateFragment(nil, facts, ccpolicy.FragmentOptions{Namespace: "contoso", SVN: "1"})
	assert.ErrorIs(t, err, ccpolicy.ErrInvalid)
}

// The image's stop signal replaces the empty list, its user is read as
// confcom reads it, and an image without Entrypoint and Cmd gets null.
func TestGenerateFragmentImageFields(t *testing.T) {
	facts := helloworldFacts()
	f := facts[helloworld]
	f.Config = image.Config{StopSignal: "SIGQUIT", User: "1000:app"}
	facts[helloworld] = f
	got, err := ccpolicy.GenerateFragment([]string{helloworld}, facts, ccpolicy.FragmentOptions{Namespace: "contoso", SVN: "2", Raw: true, OmitID: true})
	assert.NilError(t, err)
	for _, want := range []string{`"signals":[3]`, `"command":null`, `"working_dir":"/"`, `"user_idname":{"pattern":"1000","strategy":"id"}`, `{"pattern":"app","strategy":"name"}`, "svn := \"2\"\n"} {
		assert.Assert(t, strings.Contains(got, want), "want %s in\n%s", want, got)
	}
	assert.Assert(t, !strings.Contains(got, `"id":`) && !strings.Contains(got, `"name":`))
}
