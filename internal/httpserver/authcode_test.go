package httpserver_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

const (
	cbURL    = "https://cloud.example/oauth/callback"
	verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-long-enough"
)

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// linkingClient registers a platform client like AWS IoT managed
// integrations' connector.
func linkingClient(e *env) string {
	return e.client(admin.ClientSpec{ID: "aws-c2c", Name: "Acme Cloud", RedirectURIs: []string{cbURL},
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "profile", "lights:read"}})
}

// code stores an authorization code as /authorize would and returns it.
func (e *env) code(userID string, mutate func(*store.AuthorizationCode)) string {
	e.t.Helper()
	raw, _ := secret.NewToken(rand.Reader)
	now := e.clock.Now()
	c := store.AuthorizationCode{Hash: secret.Hash(raw), ClientID: "aws-c2c", UserID: userID, RedirectURI: cbURL,
		Scopes: []string{"openid", "lights:read"}, Nonce: "n-0S6_WzA2Mj", CodeChallenge: challenge(verifier),
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if mutate != nil {
		mutate(&c)
	}
	if err := e.store.CreateAuthorizationCode(e.t.Context(), c); err != nil {
		e.t.Fatalf("create code: %v", err)
	}
	return raw
}

func (e *env) exchange(id, secret, code string, extra url.Values) reply {
	e.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cbURL}, "code_verifier": {verifier}}
	for k, v := range extra {
		if v[0] == "" {
			form.Del(k)
		} else {
			form[k] = v
		}
	}
	return e.post("/token", form, basic(id, secret))
}

// TestAuthCodeExchange: a code with PKCE yields tokens whose sub is the
// user, an ID token with the nonce, and an aud from the resource indicator.
func TestAuthCodeExchange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	sec := linkingClient(e)
	u := e.user("alice")
	r := e.exchange("aws-c2c", sec, e.code(u.ID, func(c *store.AuthorizationCode) { c.Resource = "https://api.lights.example" }), nil)
	if r.status != 200 || r.str("refresh_token") == "" || r.str("id_token") == "" {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	_, at := e.verify(r.str("access_token"), jose.RS256)
	if at["sub"] != u.ID || at["aud"] != "https://api.lights.example" || at["client_id"] != "aws-c2c" {
		t.Errorf("access token claims %v", at)
	}
	_, id := e.verify(r.str("id_token"), jose.RS256)
	if id["nonce"] != "n-0S6_WzA2Mj" || id["aud"] != "aws-c2c" || id["sub"] != u.ID || id["at_hash"] == nil {
		t.Errorf("ID token claims %v", id)
	}
	// The resource binding survives a refresh (RT-05).
	n := e.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}, basic("aws-c2c", sec))
	if _, at := e.verify(n.str("access_token"), jose.RS256); at["aud"] != "https://api.lights.example" {
		t.Errorf("refreshed aud = %v", at["aud"])
	}
}

// TestAuthCodeErrors is the token-side error matrix: PKCE state × binding
// mutation → status and error code (AZ-07…AZ-11, AZ-21/22).
func TestAuthCodeErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	sec := linkingClient(e)
	other := e.client(admin.ClientSpec{ID: "other", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{cbURL}})
	u := e.user("bob")
	noPKCE := func(c *store.AuthorizationCode) { c.CodeChallenge = "" }
	tests := []struct {
		name       string
		mutate     func(*store.AuthorizationCode)
		client     [2]string
		extra      url.Values
		wantStatus int
		wantError  string
	}{
		{"S256, right verifier", nil, [2]string{"aws-c2c", sec}, nil, 200, ""},
		{"S256, wrong verifier", nil, [2]string{"aws-c2c", sec}, url.Values{"code_verifier": {verifier + "x"}}, 400, "invalid_grant"},
		{"S256, no verifier (AZ-10)", nil, [2]string{"aws-c2c", sec}, url.Values{"code_verifier": {""}}, 400, "invalid_grant"},
		{"S256, short verifier", nil, [2]string{"aws-c2c", sec}, url.Values{"code_verifier": {"abc"}}, 400, "invalid_request"},
		{"S256, verifier with bad characters", nil, [2]string{"aws-c2c", sec}, url.Values{"code_verifier": {verifier + "+/="}}, 400, "invalid_request"},
		{"no PKCE, no verifier", noPKCE, [2]string{"aws-c2c", sec}, url.Values{"code_verifier": {""}}, 200, ""},
		{"no PKCE, verifier sent (downgrade)", noPKCE, [2]string{"aws-c2c", sec}, nil, 400, "invalid_grant"},
		{"redirect_uri differs", nil, [2]string{"aws-c2c", sec}, url.Values{"redirect_uri": {cbURL + "/"}}, 400, "invalid_grant"},
		{"redirect_uri missing", nil, [2]string{"aws-c2c", sec}, url.Values{"redirect_uri": {""}}, 400, "invalid_grant"},
		{"redirect_uri omitted at /authorize", func(c *store.AuthorizationCode) { c.RedirectURI = "" }, [2]string{"aws-c2c", sec}, url.Values{"redirect_uri": {""}}, 200, ""},
		{"another client's code", nil, [2]string{"other", other}, nil, 400, "invalid_grant"},
		{"expired", func(c *store.AuthorizationCode) { c.ExpiresAt = c.CreatedAt }, [2]string{"aws-c2c", sec}, nil, 400, "invalid_grant"},
		{"wrong secret", nil, [2]string{"aws-c2c", "nope"}, nil, 401, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.exchange(tt.client[0], tt.client[1], e.code(u.ID, tt.mutate), tt.extra)
			if r.status != tt.wantStatus || r.str("error") != tt.wantError {
				t.Errorf("got %d %s, want %d %q", r.status, r.raw, tt.wantStatus, tt.wantError)
			}
		})
	}
	wantError(t, e.exchange("aws-c2c", sec, "not-a-code", nil), 400, "invalid_grant")
	wantError(t, e.exchange("aws-c2c", sec, "", nil), 400, "invalid_request")
}

// TestAuthCodeReuseRevokes is AZ-22: a second use fails and revokes what
// the first use issued.
func TestAuthCodeReuseRevokes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	sec := linkingClient(e)
	code := e.code(e.user("carol").ID, nil)
	first := e.exchange("aws-c2c", sec, code, nil)
	if first.status != 200 {
		t.Fatalf("first use: %d %s", first.status, first.raw)
	}
	wantError(t, e.exchange("aws-c2c", sec, code, nil), 400, "invalid_grant")
	r := e.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}, basic("aws-c2c", sec))
	wantError(t, r, 400, "invalid_grant")
}

// TestAuthCodeConcurrentRedemption is REL-02: 50 simultaneous redemptions of
// one code → exactly one success, the rest invalid_grant, no 5xx. The losers
// count as second uses, so the winner's grant is revoked too (AZ-22 applied
// to a race; a client that double-submits loses its tokens, by design).
func TestAuthCodeConcurrentRedemption(t *testing.T) {
	t.Parallel()
	e := newSQLiteEnv(t, nil) // exactly once under a real database's concurrency
	sec := linkingClient(e)
	code := e.code(e.user("dan").ID, nil)
	const n = 50
	results := make([]reply, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() { <-start; results[i] = e.exchange("aws-c2c", sec, code, nil) })
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, r := range results {
		switch {
		case r.status == 200:
			ok++
		case r.status == 400 && r.str("error") == "invalid_grant":
		default:
			t.Errorf("unexpected %d %s", r.status, r.raw)
		}
	}
	if ok != 1 {
		t.Fatalf("%d successes of %d, want exactly 1", ok, n)
	}
}

// TestRefreshGrace is RT-04: a retried refresh inside the grace window gets
// the same successor; outside it, or for an older generation, the grant is
// revoked.
func TestRefreshGrace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"GRANTD_REFRESH_TOKEN_GRACE": "10s"})
	sec := linkingClient(e)
	refresh := func(rt string) reply {
		return e.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, basic("aws-c2c", sec))
	}
	r1 := e.exchange("aws-c2c", sec, e.code(e.user("erin").ID, nil), nil).str("refresh_token")
	a := refresh(r1)
	e.clock.Advance(5 * time.Second)
	b := refresh(r1) // a retry: the response to a was lost
	if a.status != 200 || b.status != 200 || a.str("refresh_token") != b.str("refresh_token") {
		t.Fatalf("retry inside the grace: %d %s / %d %s; want the same successor", a.status, a.raw, b.status, b.raw)
	}
	r2 := a.str("refresh_token")
	r3 := refresh(r2).str("refresh_token")
	e.clock.Advance(time.Second)
	wantError(t, refresh(r1), 400, "invalid_grant") // r2 was used: r1 is two generations back
	wantError(t, refresh(r3), 400, "invalid_grant") // and the grant is revoked

	r1 = e.exchange("aws-c2c", sec, e.code(e.user("fay").ID, nil), nil).str("refresh_token")
	r2 = refresh(r1).str("refresh_token")
	e.clock.Advance(11 * time.Second)
	wantError(t, refresh(r1), 400, "invalid_grant") // past the grace: reuse
	wantError(t, refresh(r2), 400, "invalid_grant")
}

// TestRegisteredAuthMethod: a client pinned to client_secret_post cannot use
// Basic, as a platform console's choice says.
func TestRegisteredAuthMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	sec := e.client(admin.ClientSpec{ID: "post-only", AuthMethod: "REQUEST_BODY_CREDENTIALS", Scopes: []string{"lights:read"}})
	wantError(t, e.post("/device_authorization", nil, basic("post-only", sec)), 401, "invalid_client")
	if r := e.post("/device_authorization", url.Values{"client_id": {"post-only"}, "client_secret": {sec}}, nil); r.status != 200 {
		t.Fatalf("client_secret_post: %d %s", r.status, r.raw)
	}
}
