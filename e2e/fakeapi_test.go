//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeAPI is the least of a Kubernetes API server that `helm install
// --dry-run=client` talks to: version and discovery, and 404 for every
// object (nothing exists yet). It stands in for a cluster, not a registry.
type fakeAPI struct {
	kubeconfig string
	requests   atomic.Int64
}

func startFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{}
	resources := map[string][]map[string]any{
		"/api/v1": {
			{"name": "configmaps", "namespaced": true, "kind": "ConfigMap", "verbs": []string{"get", "list", "create"}},
			{"name": "pods", "namespaced": true, "kind": "Pod", "verbs": []string{"get", "list", "create"}},
			{"name": "secrets", "namespaced": true, "kind": "Secret", "verbs": []string{"get", "list", "create"}},
		},
		"/apis/apps/v1": {
			{"name": "deployments", "namespaced": true, "kind": "Deployment", "verbs": []string{"get", "list", "create"}},
		},
		"/apis/batch/v1": {
			{"name": "cronjobs", "namespaced": true, "kind": "CronJob", "verbs": []string{"get", "list", "create"}},
			{"name": "jobs", "namespaced": true, "kind": "Job", "verbs": []string{"get", "list", "create"}},
		},
	}
	group := func(name string) map[string]any {
		v := map[string]any{"groupVersion": name + "/v1", "version": "v1"}
		return map[string]any{"name": name, "versions": []any{v}, "preferredVersion": v}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		var body any
		switch p := r.URL.Path; {
		case p == "/version":
			body = map[string]string{"major": "1", "minor": "33", "gitVersion": "v1.33.0", "platform": "linux/amd64"}
		case p == "/api":
			body = map[string]any{"kind": "APIVersions", "versions": []string{"v1"}}
		case p == "/apis":
			body = map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": []any{group("apps"), group("batch")}}
		case resources[p] != nil:
			gv := strings.TrimPrefix(strings.TrimPrefix(p, "/apis/"), "/api/")
			body = map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources[p]}
		default:
			w.WriteHeader(http.StatusNotFound)
			body = map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
		}
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	f.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: {server: "` + srv.URL + `"}
contexts:
- name: fake
  context: {cluster: fake, user: fake, namespace: default}
current-context: fake
users:
- name: fake
  user: {token: fake}
`
	if err := os.WriteFile(f.kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
