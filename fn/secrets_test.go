package fn_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// secretStream: a Secret read through envFrom, secretKeyRef and a $(VAR)
// expansion of a Secret-sourced variable, and a ConfigMap beside it.
const secretStream = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: shop
stringData:
  PASSWORD: hunter2-pw
  TOKEN: tok-9f8e7d
---
apiVersion: v1
kind: Secret
metadata:
  name: more
  namespace: shop
data:
  KEY: a2V5LXZhbHVlLTQy
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: nginx:1.27
        envFrom:
        - secretRef: {name: db}
        - secretRef: {name: more}
          prefix: X_
        env:
        - name: PW
          valueFrom:
            secretKeyRef: {name: db, key: PASSWORD}
        - name: DSN
          value: postgres://app:$(PW)@db:5432
        - name: AUTH
          value: Bearer $(TOKEN)
        args: ["--dsn=$(DSN)"]
        resources:
          limits: {cpu: 1, memory: 512Mi}
`

var secretValues = []string{"hunter2-pw", "tok-9f8e7d", "key-value-42", "a2V5LXZhbHVlLTQy"}

// Issue #21: no Secret value on stderr, in --results, or in cocofy policy
// without --show-secrets.
func TestSecretsNeverPrinted(t *testing.T) {
	const cfg = "testdata/virtual-node/config.yaml"
	dir := t.TempDir()
	results := filepath.Join(dir, "results.yaml")
	out, stderr, err := run(t, secretStream, "--config", cfg, "-v", "--results", results)
	b, _ := os.ReadFile(results)
	t.Logf("render err=%v\nstderr:\n%s\nresults:\n%s", err, stderr, b)
	noSecret(t, "render stderr", stderr)
	noSecret(t, "render --results", string(b))
	if err != nil {
		return
	}
	pol, perr, err := run(t, out, "policy")
	assert.NilError(t, err, perr)
	t.Logf("policy:\n%s", pol)
	noSecret(t, "cocofy policy", pol+perr)
	shown, _, err := run(t, out, "policy", "--show-secrets")
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(shown, "hunter2-pw"), "--show-secrets shows them")

	_, stderr, err = run(t, out, "verify", "--config", cfg, "-v", "--results", results)
	b, _ = os.ReadFile(results)
	t.Logf("verify err=%v\nstderr:\n%s", err, stderr)
	noSecret(t, "verify stderr", stderr)
	noSecret(t, "verify --results", string(b))

	// compat: confcom writes what confcom writes; its results show no value.
	confcom := filepath.Join(dir, "confcom.yaml")
	assert.NilError(t, os.WriteFile(confcom, []byte(strings.Replace(read(t, cfg), "  target: virtual-node\n", "  target: virtual-node\n  policy: {compat: confcom}\n", 1)), 0o644))
	_, stderr, err = run(t, secretStream, "--config", confcom, "-v", "--results", results)
	b, _ = os.ReadFile(results)
	t.Logf("confcom err=%v\nstderr:\n%s", err, stderr)
	noSecret(t, "render compat confcom stderr", stderr)
	noSecret(t, "render compat confcom --results", string(b))

	// A Secret changed after render: verify reports drift, without values.
	drifted := strings.ReplaceAll(out, "hunter2-pw", "hunter3-pw")
	_, stderr, err = run(t, drifted, "verify", "--config", cfg, "-v", "--results", results)
	b, _ = os.ReadFile(results)
	t.Logf("verify drift err=%v\nstderr:\n%s", err, stderr)
	assert.Assert(t, err != nil, "drift is an error")
	noSecret(t, "verify drift stderr", stderr+err.Error())
	noSecret(t, "verify drift --results", string(b))
	for _, v := range []string{"hunter3-pw"} {
		assert.Check(t, !strings.Contains(stderr, v), "verify drift shows the new Secret value %q", v)
	}
}

func noSecret(t *testing.T, where, text string) {
	t.Helper()
	for _, v := range secretValues {
		assert.Check(t, !strings.Contains(text, v), "%s shows the Secret value %q", where, v)
	}
}
