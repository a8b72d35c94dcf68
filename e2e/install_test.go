//go:build e2e

package e2e

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// readmeBlock is the first sh code block after heading in README.md.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	readme := readFile(t, "README.md")
	i := strings.Index(readme, "\n"+heading+"\n")
	assert.Assert(t, i >= 0, "README has no %q", heading)
	rest := readme[i:]
	start := strings.Index(rest, "```sh\n")
	assert.Assert(t, start >= 0)
	rest = rest[start+len("```sh\n"):]
	end := strings.Index(rest, "```\n")
	assert.Assert(t, end >= 0)
	return rest[:end]
}

// The README's install commands, run as written against a release folder
// laid out as make dist lays it out, served over HTTP: they install the
// pinned version checked against SHA256SUMS, and refuse a binary that does
// not match it.
func TestInstallFromRelease(t *testing.T) {
	snippet := readmeBlock(t, "## Install")
	binary, err := os.ReadFile(cocofy(t))
	assert.NilError(t, err)
	release := t.TempDir()
	version := filepath.Join(release, "v0.1.0")
	assert.NilError(t, os.MkdirAll(version, 0o755))
	name := "cocofy-" + runtime.GOOS + "-" + runtime.GOARCH
	write := func(body []byte) {
		assert.NilError(t, os.WriteFile(filepath.Join(version, name), body, 0o755))
	}
	write(binary)
	sums := fmt.Sprintf("%x  %s\n%x  cocofy-0.1.0.tgz\n", sha256.Sum256(binary), name, sha256.Sum256([]byte("plugin")))
	assert.NilError(t, os.WriteFile(filepath.Join(version, "SHA256SUMS"), []byte(sums), 0o644))
	srv := httptest.NewServer(http.FileServer(http.Dir(release)))
	defer srv.Close()

	home := t.TempDir()
	env := []string{"HOME=" + home, "COCOFY_RELEASES=" + srv.URL}
	r := run(t, t.TempDir(), env, "", "bash", "-c", snippet)
	assert.NilError(t, r.err, "%s\n%s", snippet, r.stderr)
	assert.Assert(t, strings.Contains(r.stdout, name+": OK\n"), r.stdout)
	assert.Assert(t, strings.Contains(r.stdout, "(go"), "cocofy version ran:\n%s", r.stdout)
	installed, err := os.ReadFile(filepath.Join(home, ".local", "bin", "cocofy"))
	assert.NilError(t, err)
	assert.Assert(t, string(installed) == string(binary), "the release's binary")

	// The Flux workflow's install step, run as GitHub Actions runs it.
	if name == "cocofy-linux-amd64" {
		var wf ghWorkflow
		assert.NilError(t, yaml.Unmarshal([]byte(readFile(t, "examples/flux/github-actions.yaml")), &wf))
		var step string
		for _, s := range wf.Jobs["render"].Steps {
			if s.Name == "Install cocofy" {
				step = s.Run
			}
		}
		assert.Assert(t, step != "")
		runner, path := t.TempDir(), filepath.Join(t.TempDir(), "github_path")
		env := []string{"COCOFY_VERSION=" + wf.Env["COCOFY_VERSION"], "COCOFY_RELEASES=" + srv.URL, "RUNNER_TEMP=" + runner, "GITHUB_PATH=" + path}
		r := run(t, root, env, "", "bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step)
		assert.NilError(t, r.err, "%s\n%s", step, r.stderr)
		assert.Equal(t, readFile(t, path), filepath.Join(runner, "cocofy")+"\n")
		installed, err := os.ReadFile(filepath.Join(runner, "cocofy", "cocofy"))
		assert.NilError(t, err)
		assert.Assert(t, string(installed) == string(binary), "the release's binary")
	}

	// hack/fetch-release.sh (make argocd-image with COCOFY_RELEASES) does
	// the same.
	fetched := filepath.Join(t.TempDir(), "release")
	r = run(t, root, []string{"COCOFY_RELEASES=" + srv.URL}, "", "bash", "hack/fetch-release.sh", "v0.1.0", runtime.GOOS+"-"+runtime.GOARCH, fetched)
	assert.NilError(t, r.err, r.stderr)
	assert.Equal(t, r.stdout, filepath.Join(fetched, name)+"\n")

	// A binary that is not the one SHA256SUMS names is not installed.
	write(append(binary[:len(binary):len(binary)], 0))
	home = t.TempDir()
	r = run(t, t.TempDir(), []string{"HOME=" + home, "COCOFY_RELEASES=" + srv.URL}, "", "bash", "-c", snippet)
	assert.Assert(t, r.err != nil, "a tampered binary must fail:\n%s", r.stdout)
	assert.Assert(t, strings.Contains(r.stdout+r.stderr, "FAILED"), r.stdout+r.stderr)
	_, err = os.Stat(filepath.Join(home, ".local", "bin", "cocofy"))
	assert.Assert(t, os.IsNotExist(err), "not installed: %v", err)
	r = run(t, root, []string{"COCOFY_RELEASES=" + srv.URL}, "", "bash", "hack/fetch-release.sh", "v0.1.0", runtime.GOOS+"-"+runtime.GOARCH, fetched)
	assert.Assert(t, r.err != nil, "fetch-release must refuse it")
	assert.Assert(t, strings.Contains(r.stderr, "does not match its SHA256SUMS"), r.stderr)
	_, err = os.Stat(filepath.Join(fetched, name))
	assert.Assert(t, os.IsNotExist(err), "removed: %v", err)
}

// make install goes to $GOBIN, else ~/.local/bin, or INSTALL_DIR; and no
// example installs cocofy with go install, which cannot work (the module
// path is not served).
func TestMakeInstallAndExamples(t *testing.T) {
	home := t.TempDir()
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"GOBIN=/opt/gobin"}, nil, "/opt/gobin/cocofy"},
		{[]string{"GOBIN=", "GOENV=off", "HOME=" + home}, nil, home + "/.local/bin/cocofy"},
		{nil, []string{"INSTALL_DIR=/opt/elsewhere"}, "/opt/elsewhere/cocofy"},
	} {
		out := mustRun(t, root, tc.env, "", "make", append([]string{"-n", "install"}, tc.args...)...)
		assert.Assert(t, strings.Contains(out, `install -m 0755 bin/cocofy "`+tc.want+`"`), "%v %v:\n%s", tc.env, tc.args, out)
	}

	err := filepath.WalkDir(filepath.Join(root, "examples"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body := readFile(t, path)
		assert.Assert(t, !strings.Contains(body, "cocofy.dev/cocofy@"), "%s installs cocofy with go install", path)
		if strings.Contains(body, "COCOFY_VERSION") {
			assert.Assert(t, strings.Contains(body, "SHA256SUMS"), "%s installs cocofy without checking SHA256SUMS", path)
		}
		return nil
	})
	assert.NilError(t, err)
}
