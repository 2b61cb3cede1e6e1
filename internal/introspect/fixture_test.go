package introspect_test

import (
	"testing"
	"time"

	"github.com/grantd/grantd/internal/bearer/bearertest"
	"github.com/grantd/grantd/internal/clientauth"
	"github.com/grantd/grantd/internal/introspect"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// rsAudience is the resource server the client rs-aud is bound to.
const rsAudience = "https://lights.example"

// Clients of the fixture, with their secrets.
var clientSecrets = map[string]string{
	"rs":     "rs-secret-0123456789", // may introspect, any audience
	"rs-aud": "rs-aud-secret-012345", // may introspect, bound to rsAudience
	"app":    "app-secret-012345678", // confidential, may not introspect
	"app2":   "app2-secret-01234567", // confidential, may not introspect
}

// reply is an HTTP answer with its body.
type reply = bearertest.Reply

// fixture is the introspection endpoint on a plain ServeMux behind a real
// HTTP server, over a real SQLite store. The client authenticator reads
// clients through a second handle on the same database file, so that
// closing Store (the handler's) fails token lookups, not authentication.
type fixture struct{ *bearertest.Fixture }

// newFixture starts the endpoint; budget throttles inactive answers. It
// stores users alice, bob and carol, the clients of clientSecrets, and the
// public device client tv.
func newFixture(t *testing.T, budget ratelimit.Budget) *fixture {
	t.Helper()
	f := &fixture{bearertest.New(t)}
	f.AddUsers("alice", "bob", "carol")
	for _, c := range []store.Client{
		{ID: "rs", Introspect: true},
		{ID: "rs-aud", Introspect: true, Audience: rsAudience},
		{ID: "app"},
		{ID: "app2"},
		{ID: "tv", Public: true, Introspect: true},
	} {
		f.AddClient(c, clientSecrets[c.ID])
	}
	h := &introspect.Handler{
		Store: f.Store,
		Auth: &clientauth.Authenticator{Clients: f.Open(), Verifier: secret.NewVerifier(0, 0), Limiter: ratelimit.NewMemory(),
			Budget: ratelimit.Budget{N: 1000, Per: time.Minute}, Now: f.Clock.Now},
		Checker: f.Checker(f.Store),
		Limiter: ratelimit.NewMemory(), Budget: budget, Now: f.Clock.Now, Logger: f.Logger,
	}
	f.Serve(introspect.Path, h.Mount)
	return f
}

// introspect posts token (and hint, when not empty) as client id: with
// Basic authentication for a client of clientSecrets, else by client_id.
func (f *fixture) introspect(id, token, hint string) reply {
	f.T.Helper()
	return f.PostToken(id, clientSecrets[id], token, hint)
}
