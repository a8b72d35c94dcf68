package podspec

import (
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/kio"
)

const stream = `apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: a}
data: {COLOR: blue}
binaryData: {LOGO: aGk=}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: b}
data: {COLOR: red}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shared}
data: {K: v}
---
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: a}
data: {TOKEN: dDBr, PLAIN: cA==}
stringData: {PLAIN: text}
---
apiVersion: v2
kind: ConfigMap
metadata: {name: notv1, namespace: a}
`

// ConfigMaps and Secrets are found by namespace and name; an object
// without a namespace (as helm template writes them) is seen from every
// namespace; stringData wins over data.
func TestObjects(t *testing.T) {
	nodes, err := kio.FromBytes([]byte(stream))
	assert.NilError(t, err)
	o := ObjectsFrom(nodes)

	a, ok := o.ConfigMapData("a", "cfg")
	assert.Assert(t, ok)
	assert.DeepEqual(t, a, map[string]string{"COLOR": "blue", "LOGO": "hi"})
	b, _ := o.ConfigMapData("b", "cfg")
	assert.Equal(t, b["COLOR"], "red")
	any, _ := o.ConfigMapData("", "cfg")
	assert.Equal(t, any["COLOR"], "red", "no namespace: the last of the name wins, as in confcom")
	shared, ok := o.ConfigMapData("b", "shared")
	assert.Assert(t, ok)
	assert.Equal(t, shared["K"], "v")
	_, ok = o.ConfigMapData("a", "notv1")
	assert.Assert(t, !ok)

	s, ok := o.SecretData("a", "s")
	assert.Assert(t, ok)
	assert.DeepEqual(t, s, map[string]string{"TOKEN": "t0k", "PLAIN": "text"})
	_, ok = o.SecretData("b", "s")
	assert.Assert(t, !ok)
	assert.Equal(t, len(o.SecretValues()), 2)
}
