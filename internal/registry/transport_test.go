package registry

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

type recordTransport struct{ hosts []string }

func (r *recordTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.hosts = append(r.hosts, req.URL.Scheme+"://"+req.URL.Host)
	return nil, errors.New("not sent")
}

// Plain HTTP only to loopback hosts and the configured insecure ones; the
// private addresses and *.local names go-containerregistry would also reach
// over HTTP are refused before any connection.
func TestPlainHTTPOnlyToLoopbackAndListedHosts(t *testing.T) {
	next := &recordTransport{}
	g := &plainHTTPGuard{next: next, insecure: []string{"registry.internal:5000", "10.0.0.7"}}
	for _, u := range []string{
		"http://127.0.0.1:5001/v2/", "http://localhost:5000/v2/", "http://[::1]:5000/v2/",
		"http://registry.internal:5000/v2/", "http://10.0.0.7:443/v2/", "https://10.1.2.3/v2/", "https://myacr.azurecr.io/v2/",
	} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		_, err := g.RoundTrip(req)
		assert.ErrorContains(t, err, "not sent", u)
	}
	for _, u := range []string{"http://10.1.2.3:5000/v2/", "http://registry.local/v2/", "http://192.168.1.10/v2/", "http://registry.internal:5001/v2/", "http://myacr.azurecr.io/v2/"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		_, err := g.RoundTrip(req)
		assert.Assert(t, err != nil && strings.Contains(err.Error(), "refusing plain HTTP to "+req.URL.Host), "%s: %v", u, err)
	}
	assert.Equal(t, len(next.hosts), 7, "refused requests are never sent")
}
