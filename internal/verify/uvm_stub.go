//go:build !(linux && rego)

package verify

import (
	"context"

	"cocofy.dev/cocofy/internal/guest"
)

// uvm is the simulated utility VM; without hcsshim's Rego enforcer there
// is none.
type uvm struct{}

// compiled is what a Verifier keeps; without the enforcer, nothing.
type compiled struct{}

func newCompiled() *compiled { return &compiled{} }

func newGuest(*compiled, string) (*uvm, error) { return nil, ErrNoEnforcer }

func newHcsshimGuest(string) (*uvm, error) { return nil, ErrNoEnforcer }

func hcsshimGuest(string) (*uvm, error) { return nil, ErrNoEnforcer }

func (*uvm) exact([]Decision) bool { return true }

func (*uvm) load(context.Context, []Fragment) ([]error, error) { return nil, ErrNoEnforcer }

func (*uvm) panicked(any) error { return ErrNoEnforcer }

// enforcerText is empty: there is no enforcer, and no verdict to cache.
func enforcerText() (framework, api string) { return "", "" }

func (*uvm) run(context.Context, guest.Container, bool) Decision { return Decision{} }

func classify(context.Context, *compiled, string) (Classification, error) {
	return Classification{}, ErrNoEnforcer
}

// Enabled reports whether the enforcer is built in (-tags rego on linux).
func Enabled() bool { return false }
