package image_test

import (
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/image"
)

// The topmost layer that writes, removes or hides /etc/group decides; a
// layer at or above it whose facts are missing or unknown makes the whole
// answer unknown. Layers below it do not matter.
func TestFactsEtcGroup(t *testing.T) {
	kept := &image.EtcGroup{Change: image.EtcGroupKept}
	removed := &image.EtcGroup{Change: image.EtcGroupRemoved}
	unknown := &image.EtcGroup{Change: image.EtcGroupUnknown}
	written := &image.EtcGroup{Change: image.EtcGroupWritten, GIDs: []uint32{0, 10, 10}}
	type want struct {
		GIDs       []uint32
		Exists, OK bool
	}
	for name, c := range map[string]struct {
		layers []*image.EtcGroup // base first
		want   want
	}{
		"written below kept":     {[]*image.EtcGroup{written, kept}, want{[]uint32{0, 10, 10}, true, true}},
		"whited out above":       {[]*image.EtcGroup{written, removed}, want{nil, false, true}},
		"never written":          {[]*image.EtcGroup{kept, kept}, want{nil, false, true}},
		"unknown below decides":  {[]*image.EtcGroup{unknown, written}, want{[]uint32{0, 10, 10}, true, true}},
		"missing below decides":  {[]*image.EtcGroup{nil, written}, want{[]uint32{0, 10, 10}, true, true}},
		"missing above":          {[]*image.EtcGroup{written, nil}, want{nil, false, false}},
		"unknown on top":         {[]*image.EtcGroup{written, unknown, kept}, want{nil, false, false}},
		"missing, never written": {[]*image.EtcGroup{nil, kept}, want{nil, false, false}},
		"invalid":                {[]*image.EtcGroup{{Change: "renamed"}}, want{nil, false, false}},
		"no layers":              {nil, want{nil, false, false}},
	} {
		t.Run(name, func(t *testing.T) {
			var f image.Facts
			for _, g := range c.layers {
				f.Layers = append(f.Layers, image.Layer{EtcGroup: g})
			}
			gids, exists, ok := f.EtcGroup()
			assert.DeepEqual(t, want{gids, exists, ok}, c.want)
		})
	}
}

// Split cuts a reference as written: a registry's port is not a tag.
func TestSplit(t *testing.T) {
	for ref, want := range map[string][3]string{
		"nginx":                             {"nginx", "", ""},
		"nginx:1.27":                        {"nginx", "1.27", ""},
		"localhost:5001/web:1.4":            {"localhost:5001/web", "1.4", ""},
		"localhost:5001/web":                {"localhost:5001/web", "", ""},
		"mcr.microsoft.com/aci/x@sha256:ab": {"mcr.microsoft.com/aci/x", "", "sha256:ab"},
		"host:1/a/b:t@sha256:ab":            {"host:1/a/b", "t", "sha256:ab"},
	} {
		repo, tag, digest := image.Split(ref)
		assert.DeepEqual(t, [3]string{repo, tag, digest}, want)
	}
}
