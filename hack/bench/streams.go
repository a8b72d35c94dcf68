package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// streamHost is the registry host of the generated streams and their lock
// file. They are rendered with lockMode use, which never asks a registry,
// so the host need not exist; a fixed one keeps the files the same from
// run to run (the harness's registry listens on a new port each time).
const streamHost = "registry.bench.test:5000"

// deployment writes the i-th Deployment of a generated stream: what `helm
// template` gives for a small app, two containers with images taken
// round-robin from refs, each with environment variables of its own, so
// that no two workloads get the same policy.
func deployment(w io.Writer, i int, refs []string) {
	name := fmt.Sprintf("app%06d", i)
	fmt.Fprintf(w, `---
# Source: bench/templates/app.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels:
    app.kubernetes.io/name: %[1]s
    app.kubernetes.io/instance: bench
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: %[1]s
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %[1]s
        app.kubernetes.io/instance: bench
    spec:
      containers:
`, name)
	for j, ref := range []string{refs[i%len(refs)], refs[(i*7+3)%len(refs)]} {
		fmt.Fprintf(w, `      - name: c%[1]d
        image: %[2]s
        env:
        - name: APP_INDEX
          value: "%[3]d"
        - name: APP_ROLE
          value: %[4]s-c%[1]d
        ports:
        - containerPort: %[5]d
        resources: {limits: {cpu: 100m, memory: 128Mi}}
`, j, ref, i, name, 8080+j)
	}
}

// writeStream writes generated Deployments to path: n of them, or, with n
// < 0, as many as it takes to reach size bytes. It returns the count and
// the size written.
func writeStream(path string, refs []string, n int, size int64) (int, int64) {
	f, err := os.Create(path)
	must(err)
	cw := &countWriter{w: bufio.NewWriterSize(f, 1<<20)}
	i := 0
	for ; n >= 0 && i < n || n < 0 && cw.n < size; i++ {
		deployment(cw, i, refs)
	}
	must(cw.w.(*bufio.Writer).Flush())
	must(f.Close())
	return i, cw.n
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// streamRefs are the small images' references on streamHost.
func streamRefs(imgs []smallImage, host string) []string {
	var refs []string
	for _, im := range imgs {
		refs = append(refs, strings.Replace(im.ref, host, streamHost, 1))
	}
	return refs
}

// fixedLock rewrites the lock file at src, made from the harness's
// registry at host, for streamHost, into dst.
func fixedLock(src, host, dst string) {
	b, err := os.ReadFile(src)
	must(err)
	must(os.WriteFile(dst, []byte(strings.ReplaceAll(string(b), host, streamHost)), 0o644))
}

// resourceList wraps a plain YAML stream of Deployments (as chartStream
// makes: no document starts with a comment that matters) into a KRM
// ResourceList, for a KRM function reading stdin.
func resourceList(stream string) string {
	var b strings.Builder
	b.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
	for _, doc := range strings.Split(stream, "---\n") {
		first := true
		for _, line := range strings.Split(doc, "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if first {
				b.WriteString("- " + line + "\n")
				first = false
			} else {
				b.WriteString("  " + line + "\n")
			}
		}
	}
	return b.String()
}

// genStream writes a stream of at least size bytes to out, the lock file
// that renders it offline beside it (out without .yaml + .lock.yaml) and a
// pod-sandbox config using that lock file (+ .config.yaml), and says how
// to render it. The same size gives the same files on any machine.
func genStream(h *harness, size int64, out string) {
	reg, small := registryImages(h)
	lock := makeLock(h, reg, small)
	base := strings.TrimSuffix(out, ".yaml")
	must(os.MkdirAll(filepath.Dir(out), 0o755))
	lockOut, cfgOut := base+".lock.yaml", base+".config.yaml"
	fixedLock(lock, reg.Host, lockOut)
	must(os.WriteFile(cfgOut, []byte(sandboxLockConfig(filepath.Base(lockOut))), 0o644))
	n, written := writeStream(out, streamRefs(small, reg.Host), -1, size)
	fmt.Printf("wrote %s (%d Deployments, %d bytes), %s and %s\n", out, n, written, lockOut, cfgOut)
	fmt.Printf("render it (pod-sandbox, lock file, no network, no cache):\n  COCOFY_CACHE_DIR=off bin/cocofy --config %s < %s > /dev/null\n", cfgOut, out)
}

// sandboxLockConfig is a pod-sandbox config that renders from lock (a path
// relative to the config) with no network.
func sandboxLockConfig(lock string) string {
	return "apiVersion: cocofy.dev/v1alpha1\nkind: Cocofy\nspec:\n  target: pod-sandbox\n  images:\n    lockFile: " + lock + "\n    lockMode: use\n"
}
