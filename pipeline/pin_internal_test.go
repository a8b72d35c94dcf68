package pipeline

import "testing"

func TestPinnedRef(t *testing.T) {
	const d = "sha256:abc"
	tests := []struct {
		ref     string
		dropTag bool
		want    string
	}{
		{"nginx:1.27", false, "nginx:1.27@sha256:abc"},
		{"nginx:1.27", true, "nginx@sha256:abc"},
		{"nginx", false, "nginx:latest@sha256:abc"},
		{"nginx", true, "nginx@sha256:abc"},
		{"localhost:5000/team/app", false, "localhost:5000/team/app:latest@sha256:abc"},
		{"localhost:5000/team/app:v1", true, "localhost:5000/team/app@sha256:abc"},
		{"localhost:5000/team/app", true, "localhost:5000/team/app@sha256:abc"},
		{"repo:tag@sha256:old", false, "repo:tag@sha256:abc"},
		{"repo@sha256:old", false, "repo@sha256:abc"},
	}
	for _, tc := range tests {
		if got := pinnedRef(tc.ref, d, tc.dropTag); got != tc.want {
			t.Errorf("pinnedRef(%q, dropTag=%v) = %q, want %q", tc.ref, tc.dropTag, got, tc.want)
		}
	}
}
