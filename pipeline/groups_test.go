package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"

	"cocofy.dev/cocofy/image"
	"cocofy.dev/cocofy/internal/testing/fixed"
	"cocofy.dev/cocofy/pipeline"
)

const groupsDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      securityContext:
        fsGroup: 2000
        supplementalGroups: [3000]
      initContainers:
      - name: init
        image: registry.example/tools:1
      containers:
      - name: app
        image: registry.example/web:1.4
`

// groupFacts returns fixed's facts for ref, pinned as the pipeline pins
// it, with base's and top's /etc/group facts on its two layers.
func groupFacts(t *testing.T, ref string, user string, base, top *image.EtcGroup) (string, image.Facts) {
	t.Helper()
	pinned := ref + "@" + fixed.Digest(ref)
	f, err := fixed.Inspector{}.Inspect(context.Background(), pinned, image.DefaultPlatform)
	assert.NilError(t, err)
	f.Config.User = user
	f.Layers[0].EtcGroup, f.Layers[1].EtcGroup = base, top
	return pinned, f
}

// runGroups runs groupsDeployment with the given facts for the app image
// (the init image's /etc/group defines every GID asked for) and returns
// the warnings.
func runGroups(t *testing.T, in string, user string, base, top *image.EtcGroup) []string {
	t.Helper()
	return runGroupsWith(t, vnOptions(), in, user, base, top)
}

func runGroupsWith(t *testing.T, opts pipeline.Options, in string, user string, base, top *image.EtcGroup) []string {
	t.Helper()
	webRef, web := groupFacts(t, "registry.example/web:1.4", user, base, top)
	toolsRef, tools := groupFacts(t, "registry.example/tools:1", "", written(0, 2000, 3000), kept)
	nodes, err := kio.FromBytes([]byte(in))
	assert.NilError(t, err)
	p, err := pipeline.New(opts, pipeline.Deps{
		Resolver:  fixed.Resolver{},
		Inspector: fixed.Inspector{Facts: map[string]image.Facts{webRef: web, toolsRef: tools}},
	})
	assert.NilError(t, err)
	rep, err := p.Run(context.Background(), nodes)
	var lines, warnings []string
	for _, r := range rep.Results {
		lines = append(lines, pipeline.Line(r))
		if r.Severity == framework.Warning && strings.Contains(r.Message, "/etc/group") {
			warnings = append(warnings, pipeline.Line(r))
		}
	}
	assert.NilError(t, err, strings.Join(lines, "\n"))
	out, err := kio.StringAll(nodes)
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(out, pipeline.AnnotationCCEPolicy), "the policy is written all the same")
	return warnings
}

var kept = &image.EtcGroup{Change: image.EtcGroupKept}

func written(gids ...uint32) *image.EtcGroup {
	return &image.EtcGroup{Change: image.EtcGroupWritten, GIDs: gids}
}

func TestMissingGroupsAreReported(t *testing.T) {
	web := "registry.example/web:1.4@" + fixed.Digest("registry.example/web:1.4")
	const fails = ": the guest would fail to create the container (hcsshim looks each additional GID up in the image's /etc/group, whatever the CCE policy says); "

	// fsGroup is missing from the image: a warning on fsGroup, naming the
	// container, the image and the GID. The init container's image has
	// both groups: nothing about it.
	got := runGroups(t, groupsDeployment, "", written(0, 1, 3000), kept)
	assert.DeepEqual(t, got, []string{
		`warning: Deployment shop/web: spec.template.spec.securityContext.fsGroup: container "app": image ` + web + ` has no group 2000 in its /etc/group` + fails + `add group 2000 to the image's /etc/group, or use a GID the image defines`,
	})

	// compat: confcom, whose policy has no guest view, warns alike.
	opts := vnOptions()
	opts.Policy.Compat = pipeline.CompatConfcom
	assert.DeepEqual(t, runGroupsWith(t, opts, groupsDeployment, "", written(0, 1, 3000), kept), got)

	// Present, in the layer that decides: no warning.
	assert.Equal(t, len(runGroups(t, groupsDeployment, "", written(0, 1), written(0, 2000, 3000))), 0)

	// Unknown: a layer without /etc/group facts (an older cache or lock
	// file), or one whose file could not be read, says nothing.
	assert.Equal(t, len(runGroups(t, groupsDeployment, "", written(0), nil)), 0)
	assert.Equal(t, len(runGroups(t, groupsDeployment, "", written(0), &image.EtcGroup{Change: image.EtcGroupUnknown})), 0)

	// A base layer defines the groups, the top layer whites the file out:
	// with a user the guest fails every additional GID; without one it
	// skips the lookup.
	removed := &image.EtcGroup{Change: image.EtcGroupRemoved}
	got = runGroups(t, groupsDeployment, "1000", written(0, 2000, 3000), removed)
	assert.Equal(t, len(got), 2, strings.Join(got, "\n"))
	assert.Equal(t, got[1], `warning: Deployment shop/web: spec.template.spec.securityContext.supplementalGroups[0]: container "app": image `+web+` has no /etc/group, so it has no group 3000`+fails+`add an /etc/group that defines group 3000 to the image, or drop this GID`)
	assert.Equal(t, len(runGroups(t, groupsDeployment, "", written(0, 2000, 3000), removed)), 0)

	// A GID on two lines: the guest wants exactly one.
	got = runGroups(t, groupsDeployment, "", written(0, 2000, 3000, 3000), kept)
	assert.DeepEqual(t, got, []string{
		`warning: Deployment shop/web: spec.template.spec.securityContext.supplementalGroups[0]: container "app": image ` + web + ` defines group 3000 on 2 lines of its /etc/group, where the guest wants exactly one` + fails + `keep one line for group 3000 in the image's /etc/group, or use another GID the image defines`,
	})

	// runAsGroup is the primary group, not an additional one.
	in := strings.Replace(groupsDeployment, "fsGroup: 2000", "fsGroup: 2000\n        runAsGroup: 2000", 1)
	assert.Equal(t, len(runGroups(t, in, "", written(0, 3000), kept)), 0)
}
