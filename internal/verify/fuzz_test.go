//go:build linux && rego

package verify_test

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/internal/guest"
	"cocofy.dev/cocofy/internal/podspec"
	"cocofy.dev/cocofy/internal/verify"
)

// verdict is what must not differ between Policy and Reference: whether
// each container is allowed and, when denied, where and why.
type verdict struct {
	Name, Step, Reason string
	Allowed            bool
}

func verdicts(ds []verify.Decision) []verdict {
	out := make([]verdict, len(ds))
	for i, d := range ds {
		out[i] = verdict{Name: d.Name, Step: d.Step, Reason: d.Reason, Allowed: d.Allowed}
	}
	return out
}

// FuzzPolicyReference: on any policy text, Policy (the fast enforcer,
// falling back to hcsshim's) and Reference (hcsshim's alone) give the same
// error, the same verdict for each container of the seed pod, and the same
// reasons for denials. Seeded with the differential test's mutations of the
// seed policy and every policy in the repository's test data.
func FuzzPolicyReference(f *testing.F) {
	t := &testing.T{}
	pod, seed := seedPod(t)
	containers, err := guest.Receive(podspec.New("Pod", "", "", pod, nil), seedFacts(), podspec.Objects{})
	assert.NilError(f, err)
	f.Add(seed)
	// Numbers OPA's parser refuses: the guest cannot load these.
	for _, n := range []string{"1e40000", "-1e-40000", "1" + strings.Repeat("0", 40000)} {
		f.Add(strings.Replace(seed, "\nmount_device := ", "\nextra := "+n+"\nmount_device := ", 1))
	}
	// TestFastEnforcerDifferential runs the mutations on every go test;
	// here a quarter of them seed the fuzzer when it runs, so that make
	// test's 10 s pass fuzzes after gathering its baseline.
	if fuzzing() {
		cases := mutations(t, seed)
		names := slices.Sorted(maps.Keys(cases))
		for i, name := range names {
			if i%4 == 0 {
				f.Add(cases[name])
			}
		}
	}
	files, err := filepath.Glob("../ccpolicy/testdata/*/*.rego")
	assert.NilError(f, err)
	more, err := filepath.Glob("../ccpolicy/testdata/*/*/*.rego")
	assert.NilError(f, err)
	for _, file := range append(append(files, more...), "testdata/allow_all.rego") {
		b, err := os.ReadFile(file)
		assert.NilError(f, err)
		f.Add(string(b))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, policy string) {
		want, wantErr := verify.Reference(ctx, policy, containers)
		got, gotErr := verify.Policy(ctx, policy, containers)
		assert.Equal(t, fmt.Sprint(gotErr), fmt.Sprint(wantErr))
		assert.DeepEqual(t, verdicts(got), verdicts(want))
	})
}

// fuzzing reports whether go test runs with -fuzz.
func fuzzing() bool {
	fl := flag.Lookup("test.fuzz")
	return fl != nil && fl.Value.String() != ""
}
