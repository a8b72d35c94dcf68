//go:build !(linux && rego)

package verify

import "context"

// guest is the simulated utility VM; without hcsshim's Rego enforcer there
// is none.
type guest struct{}

func newGuest(string) (*guest, error) { return nil, ErrNoEnforcer }

func (*guest) run(context.Context, Container, bool) Decision { return Decision{} }

func classify(context.Context, string) (Classification, error) {
	return Classification{}, ErrNoEnforcer
}

// Enabled reports whether the enforcer is built in (-tags rego on linux).
func Enabled() bool { return false }
