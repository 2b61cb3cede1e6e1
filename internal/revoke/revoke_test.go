package revoke_test

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/bearer/bearertest"
	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/revoke"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// generous is a budget no test of ownership or search reaches.
var generous = ratelimit.Budget{N: 10_000, Per: time.Minute}

// state is whether a grant's access token and refresh token are active.
type state struct{ at, rt bool }

func (f *fixture) state(g bearertest.Issued) state {
	return state{at: f.accessActive(g.AT), rt: f.refreshActive(g.RTHash)}
}

// TestRevokeOwnership checks that a client revokes its own tokens and no
// other client's, and that another client's token gets the 200 of an
// unknown one (REV-01, REV-03).
func TestRevokeOwnership(t *testing.T) {
	f := newFixture(t, generous, generous)
	cases := []struct {
		id, name       string
		caller, owner  string
		refresh        bool // revoke the refresh token, else the access token
		wantAfterwards state
	}{
		{"REV-01", "another confidential client's refresh token", "other", "app", true, state{true, true}},
		{"REV-01", "another confidential client's access token", "other", "app", false, state{true, true}},
		{"REV-01", "another public client's refresh token", "radio", "tv", true, state{true, true}},
		{"REV-01", "a confidential client's token, by a public client", "tv", "app", true, state{true, true}},
		{"REV-03", "own refresh token, confidential client", "app", "app", true, state{false, false}},
		{"REV-03", "own refresh token, public client", "tv", "tv", true, state{false, false}},
		{"REV-01", "own access token: that token only", "app", "app", false, state{false, true}},
		{"REV-01", "own access token, public client", "tv", "tv", false, state{false, true}},
		{"REV-03", "own access token, client whose revocations end grants", "linker", "linker", false, state{false, false}},
		{"REV-03", "own refresh token, client whose revocations end grants", "linker", "linker", true, state{false, false}},
		{"REV-01", "another client's access token, by a client whose revocations end grants", "linker", "app", false, state{true, true}},
		{"REV-01", "its access token, by another client", "app", "linker", false, state{true, true}},
	}
	for _, tc := range cases {
		g := f.Issue(tc.owner, "u-alice", "openid", "")
		tok := g.AT
		if tc.refresh {
			tok = g.RT
		}
		r := f.revoke(tc.caller, tok, "")
		if r.Status != http.StatusOK || r.Raw != "" {
			t.Errorf("%s %s: got %d %q, want 200 with no body", tc.id, tc.name, r.Status, r.Raw)
		}
		wantNoStore(t, r)
		if got := f.state(g); got != tc.wantAfterwards {
			t.Errorf("%s %s: afterwards %+v, want %+v", tc.id, tc.name, got, tc.wantAfterwards)
		}
	}
}

// TestRevokeAuthentication checks that revocation authenticates
// confidential clients as the token endpoint does (REV-01): a failure
// revokes nothing.
func TestRevokeAuthentication(t *testing.T) {
	f := newFixture(t, generous, generous)
	cases := []struct {
		name          string
		form          func(tok string) url.Values
		edit          func(*http.Request)
		wantStatus    int
		wantError     string
		wantChallenge bool
	}{
		{"no client at all", form(), nil, 401, "invalid_client", false},
		{"confidential client without its secret", form("client_id", "app"), nil, 401, "invalid_client", false},
		{"wrong secret, Basic", form(), basic("app", "wrong-secret-012345"), 401, "invalid_client", true},
		{"wrong secret, body", form("client_id", "app", "client_secret", "wrong"), nil, 401, "invalid_client", false},
		{"unknown client", form("client_id", "nobody"), nil, 401, "invalid_client", false},
		{"two methods at once", form("client_secret", clientSecrets["app"]), basic("app", clientSecrets["app"]), 400, "invalid_request", false},
		{"GET", form(), func(r *http.Request) { r.Method = http.MethodGet; basic("app", clientSecrets["app"])(r) }, 405, "invalid_request", false},
		{"token missing", func(string) url.Values { return url.Values{} }, basic("app", clientSecrets["app"]), 400, "invalid_request", false},
	}
	for _, tc := range cases {
		g := f.Issue("app", "u-alice", "openid", "")
		r := f.Post(tc.form(g.RT), tc.edit)
		if r.Status != tc.wantStatus {
			t.Errorf("%s: got %d %s, want %d", tc.name, r.Status, r.Raw, tc.wantStatus)
		}
		if got, _ := r.Body["error"].(string); got != tc.wantError {
			t.Errorf("%s: error %q, want %q", tc.name, got, tc.wantError)
		}
		if got := r.Header.Get("WWW-Authenticate") != ""; got != tc.wantChallenge {
			t.Errorf("%s: WWW-Authenticate %q, want a challenge: %v", tc.name, r.Header.Get("WWW-Authenticate"), tc.wantChallenge)
		}
		if got := f.state(g); got != (state{true, true}) {
			t.Errorf("%s: afterwards %+v, want nothing revoked", tc.name, got)
		}
	}
}

// form returns a function making a revocation form for a token, with more
// parameters as name, value pairs.
func form(kv ...string) func(tok string) url.Values {
	return func(tok string) url.Values {
		v := url.Values{"token": {tok}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
}

func basic(id, sec string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(id, sec) }
}

func wantNoStore(t *testing.T, r reply) {
	t.Helper()
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

// TestRevokeSearch checks that unknown tokens get 200 and that a wrong
// token_type_hint does not stop a revocation (REV-02).
func TestRevokeSearch(t *testing.T) {
	f := newFixture(t, generous, generous)
	random, _ := secret.NewToken(rand.Reader)
	for _, tok := range []string{random, "garbage", "a.b.c", "..", f.Sign(keys.TypeAccessToken, map[string]string{})} {
		if r := f.revoke("app", tok, ""); r.Status != http.StatusOK {
			t.Errorf("REV-02 unknown token %.20q: got %d %s, want 200", tok, r.Status, r.Raw)
		}
	}
	cases := []struct {
		hint    string
		refresh bool
		want    state
	}{
		{revoke.HintAccessToken, true, state{false, false}},
		{revoke.HintRefreshToken, true, state{false, false}},
		{"nonsense", true, state{false, false}},
		{revoke.HintRefreshToken, false, state{false, true}},
		{revoke.HintAccessToken, false, state{false, true}},
		{"nonsense", false, state{false, true}},
	}
	for _, tc := range cases {
		g := f.Issue("app", "u-alice", "openid", "")
		tok := g.AT
		if tc.refresh {
			tok = g.RT
		}
		r := f.revoke("app", tok, tc.hint)
		if got := f.state(g); r.Status != http.StatusOK || got != tc.want {
			t.Errorf("REV-02 refresh %v, hint %q: got %d, afterwards %+v; want 200, %+v", tc.refresh, tc.hint, r.Status, got, tc.want)
		}
	}
}

// TestRevokeGrant checks what one revocation reaches: a refresh token takes
// every access token of its grant with it (REV-03); an access token takes
// only itself.
func TestRevokeGrant(t *testing.T) {
	f := newFixture(t, generous, generous)
	second := func(g bearertest.Issued) string {
		c := g.Claims
		c.ID += "-second"
		return f.Sign(keys.TypeAccessToken, c)
	}

	g := f.Issue("app", "u-alice", "openid", "")
	at2 := second(g)
	if r := f.revoke("app", g.RT, ""); r.Status != http.StatusOK {
		t.Fatalf("revoke refresh token: got %d %s", r.Status, r.Raw)
	}
	if f.accessActive(g.AT) || f.accessActive(at2) || f.refreshActive(g.RTHash) {
		t.Errorf("REV-03: after revoking the refresh token, a token of its grant is still active")
	}

	g = f.Issue("app", "u-alice", "openid", "")
	at2 = second(g)
	if r := f.revoke("app", g.AT, ""); r.Status != http.StatusOK {
		t.Fatalf("revoke access token: got %d %s", r.Status, r.Raw)
	}
	if f.accessActive(g.AT) {
		t.Errorf("revoked access token still active")
	}
	if !f.accessActive(at2) || !f.refreshActive(g.RTHash) {
		t.Errorf("revoking one access token revoked more than it")
	}

	// A client whose revocations end grants ends the grant with its access
	// token: the refresh token and every other access token of the grant.
	g = f.Issue("linker", "u-alice", "openid", "")
	at2 = second(g)
	if r := f.revoke("linker", g.AT, revoke.HintAccessToken); r.Status != http.StatusOK {
		t.Fatalf("revoke access token of a client whose revocations end grants: got %d %s", r.Status, r.Raw)
	}
	if f.accessActive(g.AT) || f.accessActive(at2) || f.refreshActive(g.RTHash) {
		t.Errorf("REV-03: after revoking an access token of a client whose revocations end grants, a token of its grant is still active")
	}
}

// TestRevokeFamilyWithoutGrant: a refresh family stored before grants
// existed (schema version 1, or an instance of it during an upgrade) has
// no grants row. Its tokens are active, and revoking its refresh token
// revokes them, as for any grant (REV-03, REL-19).
func TestRevokeFamilyWithoutGrant(t *testing.T) {
	f := newFixture(t, generous, generous)
	now := f.Clock.Now()
	raw, err := secret.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rec := store.RefreshToken{Hash: secret.Hash(raw), GrantID: "family-before-grants", ClientID: "app",
		UserID: "u-alice", Scopes: []string{"openid"}, CreatedAt: now,
		ExpiresAt: now.Add(bearertest.RefreshIdleTTL), FamilyExpiresAt: now.Add(bearertest.GrantTTL)}
	if err := f.Store.CreateRefreshToken(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	at := f.Sign(keys.TypeAccessToken, oauth.AccessTokenClaims{Issuer: bearertest.Issuer, Subject: "u-alice",
		ClientID: "app", Scope: "openid", IssuedAt: now.Unix(), ExpiresAt: now.Add(bearertest.AccessTokenTTL).Unix(),
		ID: "jti-before-grants", GrantID: rec.GrantID})
	if !f.accessActive(at) || !f.refreshActive(rec.Hash) {
		t.Fatalf("before revocation: access token active %t, refresh token active %t; want both",
			f.accessActive(at), f.refreshActive(rec.Hash))
	}
	if r := f.revoke("app", raw, ""); r.Status != http.StatusOK {
		t.Fatalf("revoke refresh token: got %d %s", r.Status, r.Raw)
	}
	if f.accessActive(at) || f.refreshActive(rec.Hash) {
		t.Errorf("after revoking the refresh token: access token active %t, refresh token active %t; want neither",
			f.accessActive(at), f.refreshActive(rec.Hash))
	}
}

// TestRevokeStoreDown checks that a revocation the store cannot record gets
// 503 with Retry-After and never 200 (REV-04, docs/SECURITY.md INV-01).
func TestRevokeStoreDown(t *testing.T) {
	f := newFixture(t, generous, generous)
	g := f.Issue("app", "u-alice", "openid", "")
	if err := f.Store.Close(); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"refresh token": g.RT, "access token": g.AT, "unknown token": "unknown"} {
		for _, hint := range []string{"", revoke.HintAccessToken, revoke.HintRefreshToken} {
			r := f.revoke("app", tok, hint)
			if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
				t.Errorf("REV-04 %s, hint %q: got %d (Retry-After %q), want 503 with Retry-After",
					name, hint, r.Status, r.Header.Get("Retry-After"))
			}
		}
	}
	if got := f.state(g); got != (state{true, true}) {
		t.Errorf("REV-04: afterwards %+v, want nothing revoked (and none reported)", got)
	}
}

// TestRevokeThrottle checks REV-05: tokens that are not the caller's spend
// a per-client budget, alike for unknown and foreign ones, and the client
// authenticator's throttling applies as at the token endpoint.
func TestRevokeThrottle(t *testing.T) {
	budget := ratelimit.Budget{N: 3, Per: time.Minute}
	f := newFixture(t, budget, budget)
	foreign := f.Issue("other", "u-bob", "openid", "")
	for i := range budget.N {
		if r := f.revoke("app", "unknown-"+strconv.Itoa(i), ""); r.Status != http.StatusOK {
			t.Fatalf("unknown token %d: got %d %s, want 200", i, r.Status, r.Raw)
		}
	}
	for _, tok := range []string{"unknown-over-budget", foreign.RT, foreign.AT} {
		r := f.revoke("app", tok, "")
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Errorf("REV-05 token %.20q over budget: got %d (Retry-After %q), want 429 with Retry-After",
				tok, r.Status, r.Header.Get("Retry-After"))
		}
	}
	if got := f.state(foreign); got != (state{true, true}) {
		t.Errorf("REV-01: foreign token revoked: %+v", got)
	}
	own := f.Issue("app", "u-alice", "openid", "")
	if r := f.revoke("app", own.RT, ""); r.Status != http.StatusOK || f.refreshActive(own.RTHash) {
		t.Errorf("own token while the budget is spent: got %d, want 200 and revoked", r.Status)
	}

	// Secret checks: the authenticator's budget per client and IP (TOK-02).
	for i := range budget.N {
		r := f.Post(form()("x"), basic("other", "wrong-secret-"+strconv.Itoa(i)))
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d: got %d, want 401", i, r.Status)
		}
	}
	if r := f.revoke("other", foreign.RT, ""); r.Status != http.StatusTooManyRequests {
		t.Errorf("REV-05 right secret after the secret budget is spent: got %d, want 429", r.Status)
	}
	if got := f.state(foreign); got != (state{true, true}) {
		t.Errorf("throttled request revoked the token: %+v", got)
	}
}
