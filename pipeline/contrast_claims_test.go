package pipeline_test

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"cocofy.dev/cocofy/pipeline"
)

// A StatefulSet's filesystem claims get the warning a Pod's
// persistentVolumeClaim volume gets with target contrast; a Block claim
// and other targets get none.
func TestContrastVolumeClaimTemplates(t *testing.T) {
	in := `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  template:
    spec:
      containers:
      - name: db
        image: db:1
        resources: {limits: {cpu: "1", memory: 1Gi}}
        volumeMounts: [{name: data, mountPath: /data}, {name: logs, mountPath: /logs}]
        volumeDevices: [{name: raw, devicePath: /dev/raw}]
      volumes:
      - name: old
        persistentVolumeClaim: {claimName: old}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
  - metadata: {name: raw}
    spec: {volumeMode: Block, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
  - metadata: {name: logs}
    spec: {volumeMode: Filesystem, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`
	opts := pipeline.Options{Target: pipeline.TargetContrast, Images: pipeline.ImageOptions{Pin: boolPtr(false)}}
	_, lines, err := runPipeline(t, opts, in)
	assert.NilError(t, err)
	var warnings []string
	for _, l := range lines {
		if strings.Contains(l, "works with Contrast only for volumeMode: Block claims") {
			warnings = append(warnings, l)
		}
	}
	assert.DeepEqual(t, warnings, []string{
		"warning: StatefulSet shop/db: spec.volumeClaimTemplates[0]: volume claim template data (volumeMode: Filesystem) works with Contrast only for volumeMode: Block claims; a filesystem claim becomes a temporary copy inside the VM",
		"warning: StatefulSet shop/db: spec.volumeClaimTemplates[2]: volume claim template logs (volumeMode: Filesystem) works with Contrast only for volumeMode: Block claims; a filesystem claim becomes a temporary copy inside the VM",
		"warning: StatefulSet shop/db: spec.template.spec.volumes[name=old].persistentVolumeClaim: volume type persistentVolumeClaim works with Contrast only for volumeMode: Block claims; a filesystem claim becomes a temporary copy inside the VM",
	})

	opts.Target = pipeline.TargetPodSandbox
	_, lines, err = runPipeline(t, opts, in)
	assert.NilError(t, err)
	assert.Assert(t, !strings.Contains(strings.Join(lines, "\n"), "volumeClaimTemplates"), strings.Join(lines, "\n"))
}
