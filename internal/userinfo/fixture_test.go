package userinfo_test

import (
	"net/http"
	"testing"

	"github.com/grantd/grantd/internal/bearer/bearertest"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/userinfo"
)

// rsAudience is a resource server other than the UserInfo endpoint.
const rsAudience = "https://lights.example"

// reply is an HTTP answer with its body.
type reply = bearertest.Reply

// fixture is the UserInfo endpoint on a plain ServeMux behind a real HTTP
// server, over a real SQLite store.
type fixture struct{ *bearertest.Fixture }

// newFixture starts the endpoint; audience is the handler's Audience. It
// stores users alice, bob and carol and the public client app.
func newFixture(t *testing.T, audience string) *fixture {
	t.Helper()
	f := &fixture{bearertest.New(t)}
	f.AddUsers("alice", "bob", "carol")
	f.AddClient(store.Client{ID: "app", Public: true}, "")
	h := &userinfo.Handler{Checker: f.Checker(f.Store), Audience: audience, Logger: f.Logger}
	f.Serve(userinfo.Path, h.Mount)
	return f
}

// bearerHeader sends tok in the Authorization header (RFC 6750 §2.1).
func bearerHeader(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}
