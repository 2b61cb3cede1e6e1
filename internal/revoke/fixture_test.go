package revoke_test

import (
	"context"
	"errors"
	"testing"

	"github.com/grantd/grantd/internal/bearer"
	"github.com/grantd/grantd/internal/bearer/bearertest"
	"github.com/grantd/grantd/internal/clientauth"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/revoke"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// Clients of the fixture, with their secrets.
var clientSecrets = map[string]string{
	"app":    "app-secret-012345678",
	"other":  "other-secret-0123456",
	"linker": "linker-secret-012345",
}

// reply is an HTTP answer with its body.
type reply = bearertest.Reply

// fixture is the revocation endpoint on a plain ServeMux behind a real HTTP
// server, over a real SQLite store. view is a second handle on the same
// database file: the client authenticator reads clients through it, and
// tests read state through it, so that closing Store (the handler's) fails
// revocations but neither authentication nor the test's checks.
type fixture struct {
	*bearertest.Fixture
	view    store.Store
	checker *bearer.Checker
}

// newFixture starts the endpoint. budget throttles tokens that are not the
// caller's; authBudget throttles full client secret checks. It stores users
// alice, bob and carol, the confidential clients of clientSecrets (linker
// with RevokeEndsGrant), and the public device clients tv and radio.
func newFixture(t *testing.T, budget, authBudget ratelimit.Budget) *fixture {
	t.Helper()
	f := &fixture{Fixture: bearertest.New(t)}
	f.AddUsers("alice", "bob", "carol")
	for _, c := range []store.Client{{ID: "app"}, {ID: "other"}, {ID: "linker", RevokeEndsGrant: true}, {ID: "tv", Public: true}, {ID: "radio", Public: true}} {
		f.AddClient(c, clientSecrets[c.ID])
	}
	f.view = f.Open()
	f.checker = f.Checker(f.view)
	h := &revoke.Handler{
		Store: f.Store,
		Auth: &clientauth.Authenticator{Clients: f.view, Verifier: secret.NewVerifier(0, 0), Limiter: ratelimit.NewMemory(),
			Budget: authBudget, Now: f.Clock.Now},
		Keys: f.Keys, Issuer: bearertest.Issuer, Limiter: ratelimit.NewMemory(), Budget: budget,
		Now: f.Clock.Now, Logger: f.Logger,
	}
	f.Serve(revoke.Path, h.Mount)
	return f
}

// revoke posts token (and hint, when not empty) as client id: with Basic
// authentication for a client of clientSecrets, else by client_id.
func (f *fixture) revoke(id, token, hint string) reply {
	f.T.Helper()
	return f.PostToken(id, clientSecrets[id], token, hint)
}

// accessActive reports whether package bearer holds the access token active.
func (f *fixture) accessActive(tok string) bool {
	f.T.Helper()
	_, err := f.checker.Check(context.Background(), tok)
	if err != nil && !errors.Is(err, bearer.ErrInactive) {
		f.T.Fatalf("check access token: %v", err)
	}
	return err == nil
}

// refreshActive reports whether the refresh token with hash h is active:
// its generation and its grant.
func (f *fixture) refreshActive(h string) bool {
	f.T.Helper()
	rt, err := f.view.RefreshToken(context.Background(), h)
	if err != nil {
		f.T.Fatalf("load refresh token: %v", err)
	}
	_, err = f.checker.CheckGrant(context.Background(), rt.GrantID)
	if err != nil && !errors.Is(err, bearer.ErrInactive) {
		f.T.Fatalf("check grant: %v", err)
	}
	return err == nil && rt.Active(f.Clock.Now())
}
