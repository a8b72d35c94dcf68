package registry

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Limits on waiting for a registry.
const (
	// DefaultResponseTimeout bounds the wait for a response's headers; a
	// registry that accepts the connection and then hangs fails after it.
	DefaultResponseTimeout = 30 * time.Second
	// DefaultIdleTimeout bounds the wait for the next bytes of a response
	// body; a download that stalls fails after it.
	DefaultIdleTimeout = 30 * time.Second
	// maxRetryAfter is the longest Retry-After cocofy honours; a longer
	// one fails at once with the registry's answer.
	maxRetryAfter = 20 * time.Second
	// retryAfterTries is how many 429 answers with Retry-After are waited
	// out per request.
	retryAfterTries = 3
)

// newTransport returns the default transport with a response-header
// timeout, honouring Retry-After on 429 answers.
func newTransport(timeout time.Duration) http.RoundTripper {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = timeout
	return &retryAfter{next: t}
}

// retryAfter waits out "429 Too Many Requests" answers that say when to
// come back, a bounded number of times; go-containerregistry's own retries
// (which ignore Retry-After) handle the rest.
type retryAfter struct {
	next http.RoundTripper
}

func (r *retryAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	for try := 1; ; try++ {
		resp, err := r.next.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || try > retryAfterTries || req.Body != nil && req.GetBody == nil {
			return resp, err
		}
		wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"))
		if !ok || wait > maxRetryAfter {
			return resp, nil
		}
		resp.Body.Close()
		select {
		case <-time.After(wait):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// plainHTTPGuard refuses plain HTTP to any host but loopback ones and those
// listed as insecure. go-containerregistry itself falls back to HTTP for
// private (RFC 1918) addresses and *.local names too; cocofy does not.
type plainHTTPGuard struct {
	next     http.RoundTripper
	insecure []string
}

func (g *plainHTTPGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.allowed(req.URL) {
		return nil, fmt.Errorf("refusing plain HTTP to %s: only loopback registries and images.insecureRegistries are reached without TLS", req.URL.Host)
	}
	return g.next.RoundTrip(req)
}

func (g *plainHTTPGuard) allowed(u *url.URL) bool {
	if slices.Contains(g.insecure, u.Host) || slices.Contains(g.insecure, u.Hostname()) {
		return true
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// idleBodies makes each response body fail when a read gets no byte for
// timeout: the response-header timeout does not cover a registry, proxy or
// blob store that sends headers and then stalls mid-body.
type idleBodies struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t *idleBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.Body == nil || resp.Body == http.NoBody || t.timeout <= 0 {
		return resp, err
	}
	u := *req.URL
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED" // signed blob URLs carry tokens
	}
	b := &idleBody{rc: resp.Body, timeout: t.timeout, what: req.Method + " " + u.String()}
	b.timer = time.AfterFunc(t.timeout, func() {
		b.fired.Store(true)
		_ = b.rc.Close() // unblocks the read
	})
	b.timer.Stop()
	resp.Body = b
	return resp, nil
}

// idleBody is a response body whose reads fail after timeout without a
// byte. Time between reads does not count: the reader may be slow.
type idleBody struct {
	rc      io.ReadCloser
	timeout time.Duration
	what    string // method and URL, for the error
	timer   *time.Timer
	fired   atomic.Bool
	err     error // sticky, once stalled
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	b.timer.Reset(b.timeout)
	n, err := b.rc.Read(p)
	if !b.timer.Stop() || b.fired.Load() {
		b.err = &StalledError{What: b.what, Idle: b.timeout}
		return n, b.err
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	return b.rc.Close()
}

// StalledError is a response body that sent nothing for Idle.
type StalledError struct {
	What string // "GET <url>", the query string redacted
	Idle time.Duration
}

func (e *StalledError) Error() string {
	return fmt.Sprintf("%s: the download stalled: no data for %s", e.What, e.Idle)
}
