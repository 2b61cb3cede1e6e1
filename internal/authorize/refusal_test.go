package authorize_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/grantd/grantd/internal/authorize"
	"github.com/grantd/grantd/internal/logtest"
)

// TestRefusalsLogged: every refused authorization request is logged with
// the client id it named and the reason in the operator's terms — what to
// fix, where the page shown to the user says less.
func TestRefusalsLogged(t *testing.T) {
	logs := &logtest.Buffer{}
	f := newFixture(t, func(_ *fixture, p *authorize.Pages) {
		p.Site.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	valid := pubRequest()
	tests := []struct {
		name, query string
		want        string
	}{
		{"unknown client", authz(with(valid, "client_id", "nobody")), `client_id=nobody reason="no such client"`},
		{"disabled client", authz(with(valid, "client_id", "off", "redirect_uri", "https://off.example/cb")),
			`client_id=off reason="the client is disabled"`},
		{"another client's redirect URI", authz(with(valid, "redirect_uri", confURI)),
			`client_id=pub reason="the redirect_uri is not one registered for the client (grantd client show lists them)"`},
		{"redirect URI omitted, two registered", authz(with(valid, "client_id", "multi", "redirect_uri", "\x00")),
			`client_id=multi reason="no redirect_uri sent, and the client has several registered"`},
		{"a scope not allowed", authz(with(valid, "scope", "openid admin")),
			`client_id=pub reason="The scope \"admin\" is not allowed for this client."`},
		{"no code grant", authz(with(valid, "client_id", "devonly", "redirect_uri", "https://dev.example/cb")),
			`client_id=devonly reason="The client may not use the authorization code grant."`},
	}
	b := f.signedIn("alice")
	for _, tt := range tests {
		before := len(logs.String())
		b.Get(tt.query)
		logged := logs.String()[before:]
		if !strings.Contains(logged, `msg="authorization request refused" event=authorize.refused `+tt.want) {
			t.Errorf("%s: logged %q; want %s", tt.name, logged, tt.want)
		}
	}
}
