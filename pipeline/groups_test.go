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
// the results about /etc/group. With an error among them, the run fails
// and writes no policy; else the policy is written.
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
	var lines, found []string
	failed := false
	for _, r := range rep.Results {
		lines = append(lines, pipeline.Line(r))
		if strings.Contains(r.Message, "/etc/group") {
			found = append(found, pipeline.Line(r))
			failed = failed || r.Severity == framework.Error
		}
	}
	if failed {
		assert.ErrorIs(t, err, pipeline.ErrFailed)
		return found
	}
	assert.NilError(t, err, strings.Join(lines, "\n"))
	out, err := kio.StringAll(nodes)
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(out, pipeline.AnnotationCCEPolicy), "the policy is written")
	return found
}

var kept = &image.EtcGroup{Change: image.EtcGroupKept}

func written(gids ...uint32) *image.EtcGroup {
	return &image.EtcGroup{Change: image.EtcGroupWritten, GIDs: gids}
}

func TestMissingGroupsAreReported(t *testing.T) {
	web := "registry.example/web:1.4@" + fixed.Digest("registry.example/web:1.4")
	const refuses = "; the guest (hcsshim 0.15 and later) looks every additional GID (fsGroup, supplementalGroups) up in the image's /etc/group and refuses to create the container, whatever the CCE policy says; "
	const anyway = " (policy.check: warn writes the policy anyway)"

	// fsGroup is missing from the image: an error on fsGroup, naming the
	// container, the image and the GID. The init container's image has
	// both groups: nothing about it.
	got := runGroups(t, groupsDeployment, "", written(0, 1, 3000), kept)
	missing := `Deployment shop/web: spec.template.spec.securityContext.fsGroup: container "app": GID 2000 is not in /etc/group of image ` + web + refuses + `use a group the image defines, or add group 2000 to the image's /etc/group`
	assert.DeepEqual(t, got, []string{"error: " + missing + anyway})

	// policy.check: warn writes the policy, with a warning.
	opts := vnOptions()
	opts.Policy.Check = pipeline.CheckWarn
	assert.DeepEqual(t, runGroupsWith(t, opts, groupsDeployment, "", written(0, 1, 3000), kept),
		[]string{"warning: " + missing + " (the policy was written anyway: policy.check is warn)"})

	// compat: confcom, whose policy has no guest view, reports alike.
	opts = vnOptions()
	opts.Policy.Compat = pipeline.CompatConfcom
	assert.DeepEqual(t, runGroupsWith(t, opts, groupsDeployment, "", written(0, 1, 3000), kept), got)

	// Present, in the layer that decides: nothing.
	assert.Equal(t, len(runGroups(t, groupsDeployment, "", written(0, 1), written(0, 2000, 3000))), 0)

	// Unknown: a layer without /etc/group facts (an older cache or lock
	// file, a fragment), or one whose file could not be read: a warning
	// says the GIDs were not checked.
	for _, top := range []*image.EtcGroup{nil, {Change: image.EtcGroupUnknown}} {
		got := runGroups(t, groupsDeployment, "", written(0), top)
		assert.Equal(t, len(got), 1)
		assert.Assert(t, strings.HasPrefix(got[0], `warning: Deployment shop/web: spec.template.spec.securityContext.fsGroup: container "app": GIDs [2000 3000] are not checked against /etc/group`), got[0])
	}

	// A base layer defines the groups, the top layer whites the file out:
	// with a user the guest fails every additional GID; without one it
	// skips the lookup.
	removed := &image.EtcGroup{Change: image.EtcGroupRemoved}
	got = runGroups(t, groupsDeployment, "1000", written(0, 2000, 3000), removed)
	assert.Equal(t, len(got), 2, strings.Join(got, "\n"))
	assert.Equal(t, got[1], `error: Deployment shop/web: spec.template.spec.securityContext.supplementalGroups[0]: container "app": GID 3000 is not in /etc/group of image `+web+`, which has no /etc/group`+refuses+`add an /etc/group that defines group 3000 to the image, or drop this GID`+anyway)
	assert.Equal(t, len(runGroups(t, groupsDeployment, "", written(0, 2000, 3000), removed)), 0)

	// A GID on two lines: the guest wants exactly one.
	got = runGroups(t, groupsDeployment, "", written(0, 2000, 3000, 3000), kept)
	assert.DeepEqual(t, got, []string{
		`error: Deployment shop/web: spec.template.spec.securityContext.supplementalGroups[0]: container "app": GID 3000 is on 2 lines of /etc/group of image ` + web + `, where the guest wants exactly one` + refuses + `keep one line for group 3000 in the image's /etc/group, or use another group the image defines` + anyway,
	})
}

// The kubelet passes fsGroup as an additional GID even when it equals
// runAsGroup, and the guest looks it up all the same (bitnami's charts:
// runAsUser, runAsGroup and fsGroup 1001).
func TestMissingGroupEqualToRunAsGroup(t *testing.T) {
	in := strings.Replace(groupsDeployment, "fsGroup: 2000", "fsGroup: 2000\n        runAsGroup: 2000", 1)
	got := runGroups(t, in, "", written(0, 3000), kept)
	assert.Equal(t, len(got), 1, strings.Join(got, "\n"))
	assert.Assert(t, strings.HasPrefix(got[0], `error: Deployment shop/web: spec.template.spec.securityContext.fsGroup: container "app": GID 2000 is not in /etc/group of image `), got[0])
	assert.Assert(t, strings.Contains(got[0], "(that it is also runAsGroup does not spare it: the kubelet passes it as an additional GID as well)"), got[0])

	// supplementalGroups repeating fsGroup is one lookup, reported once.
	in = strings.Replace(groupsDeployment, "supplementalGroups: [3000]", "supplementalGroups: [2000, 3000]", 1)
	assert.Equal(t, len(runGroups(t, in, "", written(0, 3000), kept)), 1)
}
