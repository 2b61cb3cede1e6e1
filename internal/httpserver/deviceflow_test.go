package httpserver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/admin"
)

const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

func demoClient(e *env) (id, secret string) {
	secret = e.client(admin.ClientSpec{ID: "tv", Name: "Living-room TV", Scopes: []string{"openid", "lights:read", "lights:write"}})
	return "tv", secret
}

// TestDeviceAuthorizationResponse is DEV-02: fields, types, no-store, and
// codes in the configured formats.
func TestDeviceAuthorizationResponse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	r := e.deviceAuthorize(id, secret, "lights:read")
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", r.header.Get("Cache-Control"))
	}
	if dc := r.str("device_code"); !regexp.MustCompile(`^[0-9a-zA-Z]{64}$`).MatchString(dc) {
		t.Errorf("device_code %q: want 64 characters of #aA", dc)
	}
	if uc := r.str("user_code"); !regexp.MustCompile(`^[0-9BCDFGHJKLMNPQRSTVWXZ]{4}-[0-9BCDFGHJKLMNPQRSTVWXZ]{4}$`).MatchString(uc) {
		t.Errorf("user_code %q: want 8 characters of #B grouped as XXXX-XXXX", uc)
	}
	if got, want := r.str("verification_uri"), e.srv.URL+"/device"; got != want {
		t.Errorf("verification_uri = %q, want %q", got, want)
	}
	if got, want := r.str("verification_uri_complete"), e.srv.URL+"/device?user_code="+r.str("user_code"); got != want {
		t.Errorf("verification_uri_complete = %q, want %q", got, want)
	}
	if r.body["expires_in"] != float64(1800) || r.body["interval"] != float64(5) {
		t.Errorf("expires_in, interval = %v, %v; want 1800, 5", r.body["expires_in"], r.body["interval"])
	}
}

// TestDeviceAuthorizationClients is DEV-01 and TOK-01: every way a client can
// authenticate, and every way it can fail.
func TestDeviceAuthorizationClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	e.client(admin.ClientSpec{ID: "bulb", Public: true, Scopes: []string{"lights:read"}})
	e.client(admin.ClientSpec{ID: "web", Secret: "web-secret-123", GrantTypes: []string{"authorization_code"},
		RedirectURIs: []string{"https://web.example/cb"}})
	e.client(admin.ClientSpec{ID: "chosen", Secret: "an operator's secret", Scopes: []string{"lights:read"}})
	tests := []struct {
		name       string
		form       url.Values
		auth       func(*http.Request)
		wantStatus int
		wantError  string
		wantBasic  bool
	}{
		{"basic", nil, basic(id, secret), 200, "", false},
		{"post", url.Values{"client_id": {id}, "client_secret": {secret}}, nil, 200, "", false},
		{"public client, none", url.Values{"client_id": {"bulb"}}, nil, 200, "", false},
		{"argon2id secret", url.Values{"client_id": {"chosen"}, "client_secret": {"an operator's secret"}}, nil, 200, "", false},
		{"unknown client, basic", nil, basic("nobody", "x"), 401, "invalid_client", true},
		{"unknown client, none", url.Values{"client_id": {"nobody"}}, nil, 401, "invalid_client", false},
		{"wrong secret, basic", nil, basic(id, secret+"x"), 401, "invalid_client", true},
		{"wrong secret, post", url.Values{"client_id": {id}, "client_secret": {"wrong"}}, nil, 401, "invalid_client", false},
		{"confidential client without secret", url.Values{"client_id": {id}}, nil, 401, "invalid_client", false},
		{"public client with a secret", url.Values{"client_id": {"bulb"}, "client_secret": {"x"}}, nil, 401, "invalid_client", false},
		{"no client at all", nil, nil, 401, "invalid_client", false},
		{"two methods (TOK-04)", url.Values{"client_secret": {secret}}, basic(id, secret), 400, "invalid_request", false},
		{"malformed basic", nil, func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") }, 401, "invalid_client", true},
		{"client without the device grant", url.Values{"client_id": {"web"}, "client_secret": {"web-secret-123"}}, nil, 400, "unauthorized_client", false},
		{"scope not allowed", url.Values{"scope": {"admin"}}, basic(id, secret), 400, "invalid_scope", false},
		{"malformed scope", url.Values{"scope": {"a\"b"}}, basic(id, secret), 400, "invalid_scope", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post("/device_authorization", tt.form, tt.auth)
			if r.status != tt.wantStatus || r.str("error") != tt.wantError {
				t.Fatalf("got %d %s, want %d %q", r.status, r.raw, tt.wantStatus, tt.wantError)
			}
			if tt.wantError != "" && r.str("device_code") != "" {
				t.Error("an error response carries a device_code")
			}
			if got := strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic"); got != tt.wantBasic {
				t.Errorf("WWW-Authenticate = %q, want Basic challenge: %v", r.header.Get("WWW-Authenticate"), tt.wantBasic)
			}
		})
	}
}

// TestDeviceFlowStates drives every poll answer of RFC 8628 §3.5 (DEV-14,
// DEV-15, DEV-10) with the test clock.
func TestDeviceFlowStates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	alice := e.user("alice")

	t.Run("pending, slow_down raises the interval, approve, redeem once", func(t *testing.T) {
		d := e.deviceAuthorize(id, secret, "openid lights:read")
		dc := d.str("device_code")
		wantError(t, e.poll(id, secret, dc), 400, "authorization_pending")
		// Sooner than 5 s: slow_down, and the interval becomes 10 s.
		e.clock.Advance(2 * time.Second)
		wantError(t, e.poll(id, secret, dc), 400, "slow_down")
		e.clock.Advance(6 * time.Second) // 6 s < 10 s
		wantError(t, e.poll(id, secret, dc), 400, "slow_down")
		e.clock.Advance(15 * time.Second) // interval now 15 s
		wantError(t, e.poll(id, secret, dc), 400, "authorization_pending")
		e.decide(d.str("user_code"), alice, true)
		e.clock.Advance(15 * time.Second)
		ok := e.poll(id, secret, dc)
		if ok.status != 200 || ok.str("access_token") == "" || ok.str("token_type") != "Bearer" || ok.str("refresh_token") == "" {
			t.Fatalf("approved poll: %d %s", ok.status, ok.raw)
		}
		if ok.header.Get("Cache-Control") != "no-store" || ok.header.Get("Pragma") != "no-cache" {
			t.Errorf("token response headers %v, want no-store and no-cache (TOK-06)", ok.header)
		}
		e.clock.Advance(15 * time.Second)
		wantError(t, e.poll(id, secret, dc), 400, "invalid_grant")
	})
	t.Run("denied", func(t *testing.T) {
		d := e.deviceAuthorize(id, secret, "")
		e.decide(d.str("user_code"), alice, false)
		wantError(t, e.poll(id, secret, d.str("device_code")), 400, "access_denied")
	})
	t.Run("expired (DEV-10)", func(t *testing.T) {
		d := e.deviceAuthorize(id, secret, "")
		e.clock.Advance(1799 * time.Second)
		wantError(t, e.poll(id, secret, d.str("device_code")), 400, "authorization_pending")
		e.clock.Advance(2*time.Second + 5*time.Second)
		wantError(t, e.poll(id, secret, d.str("device_code")), 400, "expired_token")
	})
	t.Run("unknown and garbage codes (DEV-03)", func(t *testing.T) {
		for _, dc := range []string{"nope", strings.Repeat("A", 64), "<script>", strings.Repeat("x", 5000)} {
			wantError(t, e.poll(id, secret, dc), 400, "invalid_grant")
		}
	})
	t.Run("missing device_code", func(t *testing.T) {
		r := e.post("/token", url.Values{"grant_type": {deviceGrant}}, basic(id, secret))
		wantError(t, r, 400, "invalid_request")
	})
}

// TestDeviceCodeBoundToClient is DEV-16: another client's poll fails and
// neither uses up the code nor slows its owner down.
func TestDeviceCodeBoundToClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	other := e.client(admin.ClientSpec{ID: "other-tv"})
	d := e.deviceAuthorize(id, secret, "")
	e.decide(d.str("user_code"), e.user("alice"), true)
	wantError(t, e.poll("other-tv", other, d.str("device_code")), 400, "invalid_grant")
	if r := e.poll(id, secret, d.str("device_code")); r.status != 200 {
		t.Fatalf("owner's poll after another client's: %d %s", r.status, r.raw)
	}
}

// TestDeviceUserRecheckedAtRedemption is DEV-18.
func TestDeviceUserRecheckedAtRedemption(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	bob := e.user("bob")
	d := e.deviceAuthorize(id, secret, "")
	e.decide(d.str("user_code"), bob, true)
	if err := e.store.SetUserDisabled(t.Context(), bob.ID, true); err != nil {
		t.Fatal(err)
	}
	r := e.poll(id, secret, d.str("device_code"))
	wantError(t, r, 400, "invalid_grant")
	if r.str("access_token") != "" {
		t.Error("tokens issued to a disabled user")
	}
}

// TestApprovedCodeRedeemedOnce is REL-04 (a): many simultaneous polls of an
// approved code yield exactly one token set and no 5xx.
func TestApprovedCodeRedeemedOnce(t *testing.T) {
	t.Parallel()
	e := newSQLiteEnv(t, nil) // exactly once under a real database's concurrency
	id, secret := demoClient(e)
	d := e.deviceAuthorize(id, secret, "")
	e.decide(d.str("user_code"), e.user("carol"), true)
	const n = 48
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]reply, n)
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = e.poll(id, secret, d.str("device_code"))
		})
	}
	close(start)
	wg.Wait()
	// Every poll gets tokens — the one token set, redelivered to the polls
	// that lost the race within the grace window (see TestDeviceRedelivery).
	sets := map[string]bool{}
	for _, r := range results {
		if r.status != 200 {
			t.Errorf("unexpected answer %d %s", r.status, r.raw)
			continue
		}
		sets[r.str("refresh_token")+" "+jti(t, r.str("access_token"))] = true
	}
	if len(sets) != 1 {
		t.Fatalf("%d concurrent polls got %d token sets, want exactly 1", n, len(sets))
	}
}

// jti returns the jti claim of a JWT, unverified.
func jti(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.JTI == "" {
		t.Fatalf("claims %s: %v", payload, err)
	}
	return c.JTI
}

// TestDeviceRedelivery: a device whose token response was lost presents its
// code again and, within GRANTD_REFRESH_TOKEN_GRACE of the redemption, gets
// the same token set — across a restart too — but not once the window has
// passed, nor once it has used its refresh token, nor when its user was
// disabled meanwhile, nor as another client.
func TestDeviceRedelivery(t *testing.T) {
	t.Parallel()
	e := newSQLiteEnv(t, nil) // across a restart
	id, secret := demoClient(e)
	other := e.client(admin.ClientSpec{ID: "other-tv", Scopes: []string{"openid"}})
	redeemed := func(scope string) (string, reply) {
		d := e.deviceAuthorize(id, secret, scope)
		e.decide(d.str("user_code"), e.user("u"+d.str("user_code")[:4]), true)
		r := e.poll(id, secret, d.str("device_code"))
		if r.status != 200 {
			t.Fatalf("redemption: %d %s", r.status, r.raw)
		}
		return d.str("device_code"), r
	}

	dc, first := redeemed("openid")
	e.clock.Advance(3 * time.Second)
	again := e.poll(id, secret, dc)
	if again.status != 200 || again.str("access_token") != first.str("access_token") ||
		again.str("refresh_token") != first.str("refresh_token") || again.str("id_token") != first.str("id_token") {
		t.Errorf("retry within the grace window: %d %s; want the same token set", again.status, again.raw)
	}
	wantError(t, e.poll("other-tv", other, dc), 400, "invalid_grant")
	e.restart(nil)
	if r := e.poll(id, secret, dc); r.status != 200 || r.str("refresh_token") != first.str("refresh_token") {
		t.Errorf("retry after a restart, within the window: %d %s; want the same token set", r.status, r.raw)
	}
	e.clock.Advance(2100 * time.Millisecond)
	wantError(t, e.poll(id, secret, dc), 400, "invalid_grant")

	dc, first = redeemed("openid")
	if r := e.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}},
		basic(id, secret)); r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	wantError(t, e.poll(id, secret, dc), 400, "invalid_grant")

	dc, first = redeemed("openid")
	if err := e.store.SetUserDisabled(context.Background(), jwtSub(t, first.str("access_token")), true); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.poll(id, secret, dc), 400, "invalid_grant")
}

// jwtSub returns the sub claim of a JWT, unverified.
func jwtSub(t *testing.T, jwt string) string {
	t.Helper()
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Sub string }
	json.Unmarshal(payload, &c)
	return c.Sub
}

// TestTokenEndpointBadInput is TOK-05, TOK-07, TOK-08 and GEN-07: malformed
// requests get RFC 6749 §5.2 errors, never a 500.
func TestTokenEndpointBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	e.client(admin.ClientSpec{ID: "web", Secret: "web-secret-123", GrantTypes: []string{"authorization_code"},
		RedirectURIs: []string{"https://web.example/cb"}})
	send := func(method, path, ctype, body string, auth func(*http.Request)) reply {
		req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if auth != nil {
			auth(req)
		}
		return e.do(req)
	}
	form := "grant_type=" + url.QueryEscape(deviceGrant) + "&device_code=x"
	tests := []struct {
		name, method, path, ctype, body string
		auth                            func(*http.Request)
		wantStatus                      int
		wantError                       string
	}{
		{"GET", "GET", "/token", "", "", basic(id, secret), 405, "invalid_request"},
		{"JSON body", "POST", "/token", "application/json", `{"grant_type":"x"}`, basic(id, secret), 400, "invalid_request"},
		{"no content type", "POST", "/token", "", form, basic(id, secret), 400, "invalid_request"},
		{"parameters in the URI", "POST", "/token?client_secret=" + secret, "application/x-www-form-urlencoded", form, basic(id, secret), 400, "invalid_request"},
		{"repeated parameter", "POST", "/token", "application/x-www-form-urlencoded", form + "&device_code=y", basic(id, secret), 400, "invalid_request"},
		{"bad encoding", "POST", "/token", "application/x-www-form-urlencoded", "grant_type=%zz", basic(id, secret), 400, "invalid_request"},
		{"body too large", "POST", "/token", "application/x-www-form-urlencoded", "a=" + strings.Repeat("b", 70<<10), basic(id, secret), 413, "invalid_request"},
		{"missing grant_type", "POST", "/token", "application/x-www-form-urlencoded", "device_code=x", basic(id, secret), 400, "invalid_request"},
		{"password grant (TOK-08)", "POST", "/token", "application/x-www-form-urlencoded", "grant_type=password&username=a&password=b", basic(id, secret), 400, "unsupported_grant_type"},
		{"unknown grant", "POST", "/token", "application/x-www-form-urlencoded", "grant_type=%3Cscript%3E", basic(id, secret), 400, "unsupported_grant_type"},
		{"grant the client lacks", "POST", "/token", "application/x-www-form-urlencoded", form, basic("web", "web-secret-123"), 400, "unauthorized_client"},
		{"device authorization GET", "GET", "/device_authorization", "", "", basic(id, secret), 405, "invalid_request"},
		{"device authorization too large", "POST", "/device_authorization", "application/x-www-form-urlencoded", "a=" + strings.Repeat("b", 70<<10), basic(id, secret), 413, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := send(tt.method, tt.path, tt.ctype, tt.body, tt.auth)
			wantError(t, r, tt.wantStatus, tt.wantError)
			if strings.Contains(r.raw, "<script") || strings.Contains(r.raw, secret) {
				t.Errorf("error body echoes input: %s", r.raw)
			}
		})
	}
}

// TestDeviceAuthorizationRateLimit is DEV-20: device authorization requests
// are limited per client IP and per client, with 429 and Retry-After.
func TestDeviceAuthorizationRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"GRANTD_DEVICE_AUTH_LIMIT_IP": "3/1m", "GRANTD_DEVICE_AUTH_LIMIT_CLIENT": "5/1m",
		"GRANTD_TRUSTED_PROXIES": "127.0.0.1/32"})
	id, secret := demoClient(e)
	from := func(ip string) func(*http.Request) {
		return func(r *http.Request) { basic(id, secret)(r); r.Header.Set("X-Forwarded-For", ip) }
	}
	for i := range 3 {
		if r := e.post("/device_authorization", nil, from("192.0.2.1")); r.status != 200 {
			t.Fatalf("request %d within the IP budget: %d %s", i+1, r.status, r.raw)
		}
	}
	r := e.post("/device_authorization", nil, from("192.0.2.1"))
	if r.status != 429 || r.header.Get("Retry-After") == "" || r.str("device_code") != "" {
		t.Fatalf("4th request from one IP: %d %s, Retry-After %q; want 429 and no code", r.status, r.raw, r.header.Get("Retry-After"))
	}
	for i, ip := range []string{"192.0.2.2", "192.0.2.3"} { // the client's 4th and 5th
		if r := e.post("/device_authorization", nil, from(ip)); r.status != 200 {
			t.Fatalf("client request %d: %d %s", i+4, r.status, r.raw)
		}
	}
	if r := e.post("/device_authorization", nil, from("192.0.2.4")); r.status != 429 {
		t.Fatalf("6th request of the client from a fresh IP: %d %s, want 429", r.status, r.raw)
	}
}
