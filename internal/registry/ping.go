package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"sync"
)

// maxPingBody is the most of a /v2/ answer's body that is kept; the
// probe's body is read only for an error message.
const maxPingBody = 64 << 10

// pings answers the /v2/ probe, which go-containerregistry sends once per
// repository before its first request there, once per registry host and
// scheme for the client's lifetime: the probe carries no credentials and
// asks no scope, so the registry's answer (200, or 401 and its challenge)
// is the same for every repository of the host. The tokens themselves are
// still asked per repository (a token's scope names one). Concurrent
// probes of one host wait for the first; another answer, or a failure, is
// shared with those waiting and then forgotten, so a later probe (a retry)
// asks again.
//
// A host reached over plain HTTP (loopback, or listed as insecure) is
// probed over HTTPS first; a host that answers the TLS handshake in plain
// HTTP does so for the whole run, so that failure is the answer to its
// later HTTPS probes, and go-containerregistry goes on with plain HTTP at
// once.
type pings struct {
	next http.RoundTripper

	mu     sync.Mutex
	probes map[string]*probe // by scheme://host
	noTLS  map[string]error  // host: its answer to a TLS handshake was not TLS
}

// probe is one /v2/ request and its answer.
type probe struct {
	done   chan struct{}
	ctx    context.Context // of the request that went out
	err    error
	status int
	text   string // "200 OK"
	proto  string
	major  int
	minor  int
	header http.Header
	body   []byte
}

func newPings(next http.RoundTripper) *pings {
	return &pings{next: next, probes: map[string]*probe{}, noTLS: map[string]error{}}
}

// isPing reports the anonymous GET /v2/ that go-containerregistry's
// transport.Ping sends.
func isPing(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Path == "/v2/" && req.URL.RawQuery == "" &&
		req.Header.Get("Authorization") == "" && (req.Body == nil || req.Body == http.NoBody)
}

func (p *pings) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isPing(req) {
		return p.next.RoundTrip(req)
	}
	key := req.URL.Scheme + "://" + req.URL.Host
	for {
		p.mu.Lock()
		if err, ok := p.noTLS[req.URL.Host]; ok && req.URL.Scheme == "https" {
			p.mu.Unlock()
			return nil, err
		}
		pr, ok := p.probes[key]
		if !ok {
			pr = &probe{done: make(chan struct{}), ctx: req.Context()}
			p.probes[key] = pr
			p.mu.Unlock()
			p.send(key, req, pr)
			return pr.response(req)
		}
		p.mu.Unlock()
		select {
		case <-pr.done:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		if pr.err != nil && pr.ctx.Err() != nil {
			continue // the request that went out was cancelled, not this one
		}
		return pr.response(req)
	}
}

// send makes the probe's request and keeps the answer for later probes when
// it is one that does not change within a run (200, or 401 and its
// challenge).
func (p *pings) send(key string, req *http.Request, pr *probe) {
	defer close(pr.done)
	resp, err := p.next.RoundTrip(req)
	if err == nil {
		pr.status, pr.text = resp.StatusCode, resp.Status
		pr.proto, pr.major, pr.minor = resp.Proto, resp.ProtoMajor, resp.ProtoMinor
		pr.header = resp.Header.Clone()
		pr.body, err = io.ReadAll(io.LimitReader(resp.Body, maxPingBody))
		resp.Body.Close()
	}
	pr.err = err
	keep := err == nil && (pr.status == http.StatusOK || pr.status == http.StatusUnauthorized)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !keep {
		delete(p.probes, key)
	}
	var notTLS tls.RecordHeaderError
	if req.URL.Scheme == "https" && errors.As(err, &notTLS) {
		p.noTLS[req.URL.Host] = err
	}
}

// response returns a copy of the probe's answer for req.
func (pr *probe) response(req *http.Request) (*http.Response, error) {
	if pr.err != nil {
		return nil, pr.err
	}
	return &http.Response{
		Status:        pr.text,
		StatusCode:    pr.status,
		Proto:         pr.proto,
		ProtoMajor:    pr.major,
		ProtoMinor:    pr.minor,
		Header:        pr.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(pr.body)),
		ContentLength: int64(len(pr.body)),
		Request:       req,
	}, nil
}
