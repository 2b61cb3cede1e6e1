package httpserver_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/grantd/grantd/internal/admin"
	grantdsecret "github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// jwks fetches the server's published keys.
func (e *env) jwks() jose.JSONWebKeySet {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + "/.well-known/jwks.json")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		e.t.Fatal(err)
	}
	return set
}

// verify checks a JWT's signature against the JWKS and returns its typ and
// claims.
func (e *env) verify(token string, algs ...jose.SignatureAlgorithm) (string, map[string]any) {
	e.t.Helper()
	tok, err := jwt.ParseSigned(token, algs)
	if err != nil {
		e.t.Fatalf("parse JWT: %v", err)
	}
	set := e.jwks()
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		e.t.Fatalf("kid %q: %d keys in the JWKS", tok.Headers[0].KeyID, len(keys))
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		e.t.Fatalf("verify JWT: %v", err)
	}
	typ, _ := tok.Headers[0].ExtraHeaders["typ"].(string)
	return typ, claims
}

// approvedTokens runs a device flow for user through approval and returns the
// token response.
func (e *env) approvedTokens(id, secret, scope, user string) reply {
	e.t.Helper()
	d := e.deviceAuthorize(id, secret, scope)
	e.decide(d.str("user_code"), e.user(user), true)
	r := e.poll(id, secret, d.str("device_code"))
	if r.status != 200 {
		e.t.Fatalf("poll: %d %s", r.status, r.raw)
	}
	return r
}

// TestAccessTokenIsRFC9068JWT is JWT-01..04, JWT-07, DEV-17 and MD-03.
func TestAccessTokenIsRFC9068JWT(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	r := e.approvedTokens(id, secret, "lights:read", "dave")
	typ, c := e.verify(r.str("access_token"), jose.RS256)
	if typ != "at+jwt" {
		t.Errorf("typ = %q, want at+jwt", typ)
	}
	u, _ := e.store.UserByUsername(t.Context(), "dave")
	want := map[string]any{"iss": e.srv.URL, "sub": u.ID, "aud": e.srv.URL, "client_id": id, "scope": "lights:read"}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if iat != float64(e.clock.Now().Unix()) || exp-iat != 3600 {
		t.Errorf("iat, exp = %v, %v; want now and now+1h", iat, exp)
	}
	if jti, _ := c["jti"].(string); len(jti) < 22 {
		t.Errorf("jti = %q, want a 128-bit random id", jti)
	}
	if r.body["expires_in"] != float64(3600) || r.str("scope") != "lights:read" {
		t.Errorf("expires_in, scope = %v, %q", r.body["expires_in"], r.str("scope"))
	}
	if r.str("id_token") != "" {
		t.Error("an ID token was issued though RESULT_TOKEN_SET is ACCESS+REFRESH")
	}
	for _, k := range e.jwks().Keys {
		if !k.IsPublic() || k.KeyID == "" || k.Algorithm == "" || k.Use != "sig" {
			t.Errorf("JWKS key %q: public %v alg %q use %q (MD-03)", k.KeyID, k.IsPublic(), k.Algorithm, k.Use)
		}
	}
}

// TestResultTokenSetAndAlgorithms covers RESULT_TOKEN_SET and the choice of
// ES256 and EdDSA for access tokens, with RS256 ID tokens.
func TestResultTokenSetAndAlgorithms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		set, alg, scope string
		wantAlg         jose.SignatureAlgorithm
		wantRefresh     bool
		wantID          bool
	}{
		{"ACCESS+REFRESH+ID", "RS256", "openid", jose.RS256, true, true},
		{"ACCESS+ID", "ES256", "openid lights:read", jose.ES256, false, true},
		{"ACCESS+REFRESH+ID", "EdDSA", "lights:read", jose.EdDSA, true, false}, // no openid scope: no ID token
		{"ACCESS", "RS256", "openid", jose.RS256, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.set+"/"+tt.alg, func(t *testing.T) {
			e := newEnv(t, map[string]string{"RESULT_TOKEN_SET": tt.set, "GRANTD_ACCESS_TOKEN_ALG": tt.alg})
			id, secret := demoClient(e)
			r := e.approvedTokens(id, secret, tt.scope, "erin")
			if typ, _ := e.verify(r.str("access_token"), tt.wantAlg); typ != "at+jwt" {
				t.Errorf("access token typ %q", typ)
			}
			if got := r.str("refresh_token") != ""; got != tt.wantRefresh {
				t.Errorf("refresh token issued: %v, want %v", got, tt.wantRefresh)
			}
			if got := r.str("id_token") != ""; got != tt.wantID {
				t.Fatalf("ID token issued: %v, want %v", got, tt.wantID)
			}
			if tt.wantID {
				_, c := e.verify(r.str("id_token"), jose.RS256)
				if c["aud"] != id || c["iss"] != e.srv.URL || c["at_hash"] == nil || c["auth_time"] == nil {
					t.Errorf("ID token claims %v", c)
				}
			}
		})
	}
}

// TestRefreshRotation is RT-01, RT-02, RT-03 and RT-05.
func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	other := e.client(admin.ClientSpec{ID: "thief"})
	refresh := func(cid, csecret, rt, scope string) reply {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		if scope != "" {
			form.Set("scope", scope)
		}
		return e.post("/token", form, basic(cid, csecret))
	}
	r1 := e.approvedTokens(id, secret, "lights:read lights:write", "frank").str("refresh_token")

	wantError(t, refresh("thief", other, r1, ""), 400, "invalid_grant") // RT-01
	wantError(t, refresh(id, secret, r1, "lights:read admin"), 400, "invalid_scope")

	n := refresh(id, secret, r1, "lights:read") // narrowing is allowed
	if n.status != 200 || n.str("scope") != "lights:read" {
		t.Fatalf("narrowing refresh: %d %s", n.status, n.raw)
	}
	r2 := n.str("refresh_token")
	if r2 == "" || r2 == r1 {
		t.Fatalf("refresh token not rotated: %q", r2)
	}
	if _, c := e.verify(n.str("access_token"), jose.RS256); c["scope"] != "lights:read" {
		t.Errorf("access token scope %v", c["scope"])
	}
	n = refresh(id, secret, r2, "") // the family keeps the original scope
	if n.status != 200 || n.str("scope") != "lights:read lights:write" {
		t.Fatalf("second refresh: %d %s", n.status, n.raw)
	}
	r3 := n.str("refresh_token")
	// Reusing r1 revokes the family: r3 dies too (RT-03).
	wantError(t, refresh(id, secret, r1, ""), 400, "invalid_grant")
	wantError(t, refresh(id, secret, r3, ""), 400, "invalid_grant")
}

// TestRefreshFamilyWithoutGrant is RT-02 and RT-03 for a refresh family
// stored before grants existed (schema version 1), which has no grants row:
// it rotates, and reusing one of its rotated tokens revokes it, the live
// descendant included (REL-19).
func TestRefreshFamilyWithoutGrant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	e.approvedTokens(id, secret, "lights:read", "hana") // creates the user
	hana, err := e.store.UserByUsername(t.Context(), "hana")
	if err != nil {
		t.Fatal(err)
	}
	r1, err := grantdsecret.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	legacy := store.RefreshToken{Hash: grantdsecret.Hash(r1), GrantID: "family-before-grants", ClientID: id,
		UserID: hana.ID, Scopes: []string{"lights:read"}, AuthTime: now, CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), FamilyExpiresAt: now.Add(24 * time.Hour)}
	if err := e.store.CreateRefreshToken(t.Context(), legacy); err != nil {
		t.Fatal(err)
	}
	refresh := func(rt string) reply {
		return e.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, basic(id, secret))
	}
	n := refresh(r1)
	if n.status != 200 {
		t.Fatalf("refresh of the family: %d %s", n.status, n.raw)
	}
	n = refresh(n.str("refresh_token"))
	if n.status != 200 {
		t.Fatalf("second refresh of the family: %d %s", n.status, n.raw)
	}
	r3 := n.str("refresh_token")
	wantError(t, refresh(r1), 400, "invalid_grant")
	wantError(t, refresh(r3), 400, "invalid_grant")
}

// TestRefreshRechecksUser is RT-07: a disabled user's refresh
// token gets invalid_grant and is not used up, so it works again once the
// user is enabled.
func TestRefreshRechecksUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	rt := e.approvedTokens(id, secret, "lights:read", "gina").str("refresh_token")
	gina, err := e.store.UserByUsername(t.Context(), "gina")
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for _, disabled := range []bool{true, false} {
		if err := e.store.SetUserDisabled(t.Context(), gina.ID, disabled); err != nil {
			t.Fatal(err)
		}
		r := e.post("/token", form, basic(id, secret))
		if disabled {
			wantError(t, r, 400, "invalid_grant")
			continue
		}
		if r.status != 200 || r.str("refresh_token") == "" {
			t.Errorf("refresh after the user is enabled again: %d %s", r.status, r.raw)
		}
	}
}

// TestRefreshExpiry is RT-06: idle and absolute lifetimes.
func TestRefreshExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"GRANTD_REFRESH_TOKEN_TTL": "48h", "GRANTD_REFRESH_TOKEN_IDLE_TTL": "24h"})
	id, secret := demoClient(e)
	rt := e.approvedTokens(id, secret, "", "gina").str("refresh_token")
	for range 2 { // 2 × 23 h: within the idle lifetime each time
		e.clock.Advance(23 * time.Hour)
		r := e.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, basic(id, secret))
		if r.status != 200 {
			t.Fatalf("refresh within lifetimes: %d %s", r.status, r.raw)
		}
		rt = r.str("refresh_token")
	}
	e.clock.Advance(3 * time.Hour) // 49 h after the grant: past the absolute lifetime
	r := e.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, basic(id, secret))
	wantError(t, r, 400, "invalid_grant")
}

// TestRestartKeepsCodesAndKeys is REL-06: pending and approved codes survive a
// restart, and tokens signed before it still verify.
func TestRestartKeepsCodesAndKeys(t *testing.T) {
	t.Parallel()
	e := newSQLiteEnv(t, nil)
	id, secret := demoClient(e)
	before := e.approvedTokens(id, secret, "", "hana").str("access_token")
	pending := e.deviceAuthorize(id, secret, "")
	approved := e.deviceAuthorize(id, secret, "")
	e.decide(approved.str("user_code"), e.user("ivan"), true)

	e.restart(nil)
	e.verify(before, jose.RS256) // the signing key was persisted
	if r := e.poll(id, secret, approved.str("device_code")); r.status != 200 {
		t.Errorf("approved code after restart: %d %s", r.status, r.raw)
	}
	wantError(t, e.poll(id, secret, pending.str("device_code")), 400, "authorization_pending")
	e.clock.Advance(31 * time.Minute)
	wantError(t, e.poll(id, secret, pending.str("device_code")), 400, "expired_token")
}

// TestOAuth2DeviceFlowClient runs golang.org/x/oauth2's device-flow client
// against the server, approving while it polls. The client waits out the
// interval on a testing/synctest clock, which the server's follows: it
// polls every second, gets no slow_down, and its tokens at the first poll
// after the approval.
func TestOAuth2DeviceFlowClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"POLLING_INTERVAL": "1"})
	id, secret := demoClient(e)
	user := e.user("jane")
	server := serveOutside(e)
	var accessToken string
	synctest.Test(t, func(t *testing.T) {
		var (
			userCode  string
			polls     int
			decideErr error
		)
		approveAt := 3 // the client polls twice while pending
		hc := &http.Client{Transport: server.transport(func(r *http.Request) {
			if r.URL.Path != "/token" {
				return
			}
			if polls++; polls == approveAt {
				now := e.clock.Now()
				_, decideErr = e.store.DecideDeviceGrant(context.Background(), strings.ReplaceAll(userCode, "-", ""),
					store.Decision{Approve: true, UserID: user.ID, AuthTime: now}, now)
			}
		})}
		ctx := context.WithValue(t.Context(), oauth2.HTTPClient, hc)
		cfg := &oauth2.Config{ClientID: id, ClientSecret: secret, Scopes: []string{"lights:read"},
			Endpoint: oauth2.Endpoint{
				DeviceAuthURL: e.srv.URL + "/device_authorization", TokenURL: e.srv.URL + "/token",
				AuthStyle: oauth2.AuthStyleInHeader,
			}}
		// x/oauth2 sends only client_id to the device authorization endpoint; a
		// confidential client adds its secret as client_secret_post.
		da, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("client_secret", secret))
		if err != nil {
			t.Fatalf("DeviceAuth: %v", err)
		}
		if da.VerificationURIComplete == "" || da.Interval != 1 {
			t.Errorf("device auth response %+v", da)
		}
		userCode = da.UserCode
		start := time.Now()
		tok, err := cfg.DeviceAccessToken(ctx, da)
		if err != nil || decideErr != nil {
			t.Fatalf("DeviceAccessToken: %v (approval: %v)", err, decideErr)
		}
		if took := time.Since(start); polls != approveAt || took != time.Duration(approveAt)*time.Second {
			t.Errorf("tokens at poll %d, after %v; want poll %d, one a second", polls, took, approveAt)
		}
		accessToken = tok.AccessToken
	})
	if _, c := e.verify(accessToken, jose.RS256); c["sub"] != user.ID {
		t.Errorf("sub = %v, want %s", c["sub"], user.ID)
	}
}

// TestMetadata is DEV-21, MD-01, MD-02 and MD-04.
func TestMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.Header.Set("X-Forwarded-Host", "evil.example") // MD-04: never trusted
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		want := map[string]string{
			"issuer": e.srv.URL, "token_endpoint": e.srv.URL + "/token",
			"device_authorization_endpoint": e.srv.URL + "/device_authorization",
			"jwks_uri":                      e.srv.URL + "/.well-known/jwks.json",
			"authorization_endpoint":        e.srv.URL + "/authorize",
			"introspection_endpoint":        e.srv.URL + "/introspect",
			"revocation_endpoint":           e.srv.URL + "/revoke",
			"userinfo_endpoint":             e.srv.URL + "/userinfo",
		}
		if m["authorization_response_iss_parameter_supported"] != true {
			t.Errorf("%s: authorization_response_iss_parameter_supported = %v (RFC 9207)", path, m["authorization_response_iss_parameter_supported"])
		}
		if pkce, _ := m["code_challenge_methods_supported"].([]any); len(pkce) != 1 || pkce[0] != "S256" {
			t.Errorf("%s: code_challenge_methods_supported = %v, want [S256]", path, pkce)
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %s", path, k, m[k], v)
			}
		}
		if !strings.Contains(string(body), deviceGrant) || !strings.Contains(string(body), "client_secret_basic") {
			t.Errorf("%s lacks the device grant or auth methods: %s", path, body)
		}
		if strings.Contains(string(body), "evil") {
			t.Errorf("%s follows X-Forwarded-Host", path)
		}
	}
}

// TestLogsHoldNoSecrets is GEN-04: after a full flow, no issued code or token
// appears in the logs.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RESULT_TOKEN_SET": "ACCESS+REFRESH+ID"})
	id, secret := demoClient(e)
	d := e.deviceAuthorize(id, secret, "openid")
	e.poll(id, secret, d.str("device_code"))
	e.decide(d.str("user_code"), e.user("kim"), true)
	e.clock.Advance(time.Minute)
	r := e.poll(id, secret, d.str("device_code"))
	e.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}, basic(id, secret))
	logs := e.logs.String()
	if !strings.Contains(logs, "/token") {
		t.Fatal("no request was logged; the check below would prove nothing")
	}
	for name, v := range map[string]string{
		"device_code": d.str("device_code"), "user_code": d.str("user_code"), "client secret": secret,
		"access token": r.str("access_token"), "refresh token": r.str("refresh_token"), "id token": r.str("id_token"),
	} {
		if v == "" {
			t.Fatalf("%s missing from the flow", name)
		}
		if strings.Contains(logs, v) || strings.Contains(logs, strings.ReplaceAll(v, "-", "")) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
}

// TestResultTokenSetOnRefresh: a device grant's refreshes return the token
// set RESULT_TOKEN_SET names, as its first token response did — an ID token
// with every one, or with none — including a retry within the grace window;
// an authorization code grant's refreshes keep returning ID tokens whatever
// RESULT_TOKEN_SET says, as its code exchange did.
func TestResultTokenSetOnRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		set    string
		wantID bool
	}{
		{"ACCESS+REFRESH", false},
		{"ACCESS+REFRESH+ID", true},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			e := newEnv(t, map[string]string{"RESULT_TOKEN_SET": tt.set})
			id, secret := demoClient(e)
			refresh := func(cid, csecret, rt string) reply {
				r := e.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, basic(cid, csecret))
				if r.status != 200 {
					t.Fatalf("refresh: %d %s", r.status, r.raw)
				}
				return r
			}
			first := e.approvedTokens(id, secret, "openid lights:read", "ines")
			second := refresh(id, secret, first.str("refresh_token"))
			retried := refresh(id, secret, first.str("refresh_token")) // within the grace window
			third := refresh(id, secret, second.str("refresh_token"))
			for what, r := range map[string]reply{"device grant": first, "its refresh": second,
				"a retried refresh": retried, "the next refresh": third} {
				if got := r.str("id_token") != ""; got != tt.wantID {
					t.Errorf("%s: ID token issued %v, want %v", what, got, tt.wantID)
				}
			}

			sec := linkingClient(e)
			code := e.exchange("aws-c2c", sec, e.code(e.user("ines").ID, nil), nil)
			if code.status != 200 || code.str("id_token") == "" {
				t.Fatalf("code exchange: %d %s; want an ID token", code.status, code.raw)
			}
			if r := refresh("aws-c2c", sec, code.str("refresh_token")); r.str("id_token") == "" {
				t.Errorf("refresh of an authorization code grant: no ID token")
			}
		})
	}
}
