package introspect_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/introspect"
	"github.com/grantd/grantd/internal/ratelimit"
)

// TestIntrospectCaller checks who may introspect and how (INT-01, INT-02,
// INT-05): an authenticated confidential client, by POST; one not allowed
// to introspect still sees its own token (TestIntrospectOwnTokens).
func TestIntrospectCaller(t *testing.T) {
	f := newFixture(t, generous)
	g := f.Issue("app", "u-alice", "openid", "")
	tok := url.Values{"token": {g.AT}}
	withToken := func(kv ...string) url.Values {
		v := url.Values{"token": {g.AT}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	basic := func(id, sec string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(id, sec) }
	}
	cases := []struct {
		id, name   string
		form       url.Values
		edit       func(*http.Request)
		wantStatus int
		wantError  string
	}{
		{"INT-01", "no credentials", tok, nil, 401, "invalid_client"},
		{"INT-01", "wrong secret, Basic", tok, basic("rs", "wrong-secret-0123456"), 401, "invalid_client"},
		{"INT-01", "wrong secret, body", withToken("client_id", "rs", "client_secret", "wrong"), nil, 401, "invalid_client"},
		{"INT-01", "unknown client", tok, basic("nobody", "secret-0123456789"), 401, "invalid_client"},
		{"INT-01", "public client names itself", withToken("client_id", "tv"), nil, 401, "invalid_client"},
		{"INT-02", "client not allowed to introspect, its own token", tok, basic("app", clientSecrets["app"]), 200, ""},
		{"INT-01", "secret in the body works", withToken("client_id", "rs", "client_secret", clientSecrets["rs"]), nil, 200, ""},
		{"RFC 7662 §2.1", "token missing", url.Values{}, basic("rs", clientSecrets["rs"]), 400, "invalid_request"},
		{"INT-05", "GET", tok, func(r *http.Request) {
			r.Method = http.MethodGet
			r.SetBasicAuth("rs", clientSecrets["rs"])
		}, 405, "invalid_request"},
		{"TOK-05", "token in the query string", url.Values{}, func(r *http.Request) {
			r.URL.RawQuery = tok.Encode()
			r.SetBasicAuth("rs", clientSecrets["rs"])
		}, 400, "invalid_request"},
	}
	for _, tc := range cases {
		r := f.Post(tc.form, tc.edit)
		if r.Status != tc.wantStatus {
			t.Errorf("%s %s: got %d, want %d (%s)", tc.id, tc.name, r.Status, tc.wantStatus, r.Raw)
		}
		if got, _ := r.Body["error"].(string); got != tc.wantError {
			t.Errorf("%s %s: error %q, want %q", tc.id, tc.name, got, tc.wantError)
		}
		if tc.wantStatus != 200 && strings.Contains(r.Raw, "active") {
			t.Errorf("%s %s: an error tells about the token: %s", tc.id, tc.name, r.Raw)
		}
		wantNoStore(t, r)
	}
}

// TestIntrospectHint checks that token_type_hint never limits the search
// (RFC 7662 §2.1).
func TestIntrospectHint(t *testing.T) {
	f := newFixture(t, generous)
	g := f.Issue("app", "u-alice", "openid", "")
	cases := []struct{ token, hint, wantType string }{
		{g.AT, introspect.HintAccessToken, "Bearer"},
		{g.AT, introspect.HintRefreshToken, "Bearer"},
		{g.AT, "id_token", "Bearer"},
		{g.RT, introspect.HintRefreshToken, "refresh_token"},
		{g.RT, introspect.HintAccessToken, "refresh_token"},
		{g.RT, "nonsense", "refresh_token"},
	}
	for _, tc := range cases {
		r := f.introspect("rs", tc.token, tc.hint)
		if r.Body["active"] != true || r.Body["token_type"] != tc.wantType {
			t.Errorf("%s with hint %q: got %d %s, want active %s", tc.wantType, tc.hint, r.Status, r.Raw, tc.wantType)
		}
	}
}

// TestIntrospectThrottle checks the per-client budget against token scanning
// (INT-05): inactive answers spend it, active ones do not, and once it is
// spent every token gets 429, so active and inactive cannot be told apart.
func TestIntrospectThrottle(t *testing.T) {
	budget := ratelimit.Budget{N: 5, Per: time.Minute}
	f := newFixture(t, budget)
	g := f.Issue("app", "u-alice", "openid", "")
	for i := range 20 {
		if r := f.introspect("rs", g.AT, ""); r.Body["active"] != true {
			t.Fatalf("active token %d: got %d %s, want active (active answers must not spend)", i, r.Status, r.Raw)
		}
	}
	for i := range budget.N {
		if r := f.introspect("rs", "guess-"+strconv.Itoa(i), ""); r.Raw != inactiveBody {
			t.Fatalf("guess %d: got %d %s, want %s", i, r.Status, r.Raw, inactiveBody)
		}
	}
	r := f.introspect("rs", "guess-over-budget", "")
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("guess over budget: got %d (Retry-After %q), want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	if r := f.introspect("rs", g.AT, ""); r.Status != http.StatusTooManyRequests {
		t.Errorf("active token while spent: got %d %s, want 429 (no oracle)", r.Status, r.Raw)
	}
	// Another client has its own budget.
	if r := f.introspect("rs-aud", "guess-by-another", ""); r.Raw != inactiveBody {
		t.Errorf("another client: got %d %s, want %s", r.Status, r.Raw, inactiveBody)
	}
	retry, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	f.Clock.Add(time.Duration(retry) * time.Second)
	if r := f.introspect("rs", g.AT, ""); r.Body["active"] != true {
		t.Errorf("after Retry-After: got %d %s, want active", r.Status, r.Raw)
	}
}

// TestIntrospectStoreDown checks that a store that cannot answer gets 503
// with Retry-After, never {"active":false} (docs/SECURITY.md INV-01, REL-01).
func TestIntrospectStoreDown(t *testing.T) {
	f := newFixture(t, generous)
	g := f.Issue("app", "u-alice", "openid", "")
	if err := f.Store.Close(); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"access token": g.AT, "refresh token": g.RT} {
		for _, hint := range []string{"", introspect.HintAccessToken, introspect.HintRefreshToken} {
			r := f.introspect("rs", tok, hint)
			if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
				t.Errorf("%s, hint %q: got %d (Retry-After %q) %s, want 503 with Retry-After",
					name, hint, r.Status, r.Header.Get("Retry-After"), r.Raw)
			}
			if strings.Contains(r.Raw, "active") {
				t.Errorf("%s, hint %q: body %s answers about the token", name, hint, r.Raw)
			}
		}
	}
}

// TestIntrospectOwnTokens is INT-02: every confidential client sees the
// tokens issued to itself, whatever its audience; another client's token
// only a client allowed to introspect sees, and to any other it is exactly
// {"active":false}, as an unknown token is.
func TestIntrospectOwnTokens(t *testing.T) {
	f := newFixture(t, generous)
	app := f.Issue("app", "u-alice", "openid", "https://lights.example")
	other := f.Issue("app2", "u-bob", "openid", "")
	rsOwn := f.Issue("rs-aud", "u-carol", "openid", "https://other.example")
	cases := []struct {
		name, caller, token string
		wantActive          bool
	}{
		{"own access token, no --introspect", "app", app.AT, true},
		{"own refresh token, no --introspect", "app", app.RT, true},
		{"another client's access token, no --introspect", "app", other.AT, false},
		{"another client's refresh token, no --introspect", "app", other.RT, false},
		{"own access token for another audience, audience-bound caller", "rs-aud", rsOwn.AT, true},
		{"own refresh token, audience-bound caller", "rs-aud", rsOwn.RT, true},
		{"another client's token, --introspect", "rs", other.AT, true},
		{"another client's refresh token, --introspect", "rs", other.RT, true},
	}
	for _, tc := range cases {
		for _, hint := range []string{"", introspect.HintAccessToken, introspect.HintRefreshToken} {
			r := f.introspect(tc.caller, tc.token, hint)
			switch {
			case tc.wantActive && (r.Status != http.StatusOK || r.Body["active"] != true):
				t.Errorf("%s, hint %q: got %d %s, want active", tc.name, hint, r.Status, r.Raw)
			case !tc.wantActive && (r.Status != http.StatusOK || r.Raw != inactiveBody):
				t.Errorf("%s, hint %q: got %d %s, want exactly %s", tc.name, hint, r.Status, r.Raw, inactiveBody)
			}
		}
	}
	if r := f.introspect("app", app.AT, ""); r.Body["sub"] != "u-alice" || r.Body["client_id"] != "app" {
		t.Errorf("own access token: sub %v client_id %v, want u-alice and app", r.Body["sub"], r.Body["client_id"])
	}
}

// TestIntrospectForeignTokensSpendLikeUnknown is INT-02 with INT-05: to a
// client not allowed to introspect, another client's live token costs its
// budget exactly as an unknown one does, so the budget tells nothing either.
func TestIntrospectForeignTokensSpendLikeUnknown(t *testing.T) {
	budget := ratelimit.Budget{N: 3, Per: time.Minute}
	f := newFixture(t, budget)
	own := f.Issue("app", "u-alice", "openid", "")
	other := f.Issue("app2", "u-bob", "openid", "")
	for i, tok := range []string{other.AT, "guess-1", other.RT} {
		if r := f.introspect("app", tok, ""); r.Raw != inactiveBody {
			t.Fatalf("token %d: got %d %s, want %s", i, r.Status, r.Raw, inactiveBody)
		}
	}
	// In this order: the first inactive answer past the budget is what
	// marks it spent, so that the client's own, active, token is refused
	// only after it (a map's random order made this test fail a third of
	// the time).
	for _, tc := range []struct{ what, tok string }{
		{"another client's token", other.AT}, {"an unknown token", "guess-2"}, {"its own token", own.AT},
	} {
		if r := f.introspect("app", tc.tok, ""); r.Status != http.StatusTooManyRequests {
			t.Errorf("%s once the budget is spent: got %d %s, want 429", tc.what, r.Status, r.Raw)
		}
	}
}
