package userinfo_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/oauth"
)

// TestUserInfo checks the answers of the UserInfo endpoint (OpenID Connect
// Core §5.3) and its RFC 6750 errors.
func TestUserInfo(t *testing.T) {
	f := newFixture(t, "")
	profile := f.issue("app", "u-alice", "openid profile", "")
	openid := f.issue("app", "u-bob", "openid", "")
	noOpenID := f.issue("app", "u-alice", "profile", "")
	revoked := f.issue("app", "u-alice", "openid profile", "")
	if err := f.store.RevokeGrant(context.Background(), revoked.GrantID, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	idToken := f.sign(keys.TypeIDToken, oauth.IDTokenClaims{Issuer: issuer, Subject: "u-alice", Audience: "app",
		AZP: "app", IssuedAt: f.clock.Now().Unix(), ExpiresAt: f.clock.Now().Unix() + 600})
	get := func(tok string) func() reply { return func() reply { return f.get(bearerHeader(tok)) } }
	body := func(tok string) url.Values { return url.Values{"access_token": {tok}} }

	cases := []struct {
		id, name      string
		do            func() reply
		wantStatus    int
		wantBody      string // the exact JSON of a 200
		wantChallenge string // the WWW-Authenticate header
	}{
		{"OIDC §5.3", "openid profile", get(profile.AT), 200, `{"sub":"u-alice","preferred_username":"alice"}`, ""},
		{"OIDC §5.4", "openid only: sub only", get(openid.AT), 200, `{"sub":"u-bob"}`, ""},
		{"RFC 6750 §2.2", "POST with the token in the body", func() reply { return f.post(body(profile.AT), nil) },
			200, `{"sub":"u-alice","preferred_username":"alice"}`, ""},
		{"RFC 6750 §2.1", "POST with the token in the header", func() reply { return f.post(url.Values{}, bearerHeader(openid.AT)) },
			200, `{"sub":"u-bob"}`, ""},
		{"RFC 6750 §2.1", "scheme in lower case", func() reply {
			return f.get(func(r *http.Request) { r.Header.Set("Authorization", "bearer "+openid.AT) })
		}, 200, `{"sub":"u-bob"}`, ""},
		{"RFC 6750 §3.1", "Bearer scheme without a token", get(""), 400, "", `Bearer realm="grantd", error="invalid_request"`},
		{"RFC 6750 §3.1", "no token at all", func() reply { return f.get(nil) }, 401, "", `Bearer realm="grantd"`},
		{"RFC 6750 §3.1", "Basic credentials are no bearer token", func() reply {
			return f.get(func(r *http.Request) { r.SetBasicAuth("app", "secret") })
		}, 401, "", `Bearer realm="grantd"`},
		{"OIDC §5.3.1", "scope without openid", get(noOpenID.AT), 403, "",
			`Bearer realm="grantd", error="insufficient_scope", scope="openid"`},
		{"JWT-08", "garbage token", get("garbage"), 401, "", `Bearer realm="grantd", error="invalid_token"`},
		{"GEN-05", "truncated token", get(profile.AT[:len(profile.AT)-1]), 401, "", `Bearer realm="grantd", error="invalid_token"`},
		{"REV-03", "token of a revoked grant", get(revoked.AT), 401, "", `Bearer realm="grantd", error="invalid_token"`},
		{"JWT-09", "ID token as bearer token", get(idToken), 401, "", `Bearer realm="grantd", error="invalid_token"`},
		{"RFC 6750 §2", "token in header and body", func() reply { return f.post(body(profile.AT), bearerHeader(profile.AT)) },
			400, "", `Bearer realm="grantd", error="invalid_request"`},
		{"RFC 6750 §2.3", "token in the query string", func() reply {
			return f.get(func(r *http.Request) { r.URL.RawQuery = body(profile.AT).Encode() })
		}, 400, "", `Bearer realm="grantd", error="invalid_request"`},
		{"RFC 6750 §2.2", "GET with the token in a body: not read", func() reply {
			return f.get(func(r *http.Request) {
				b := body(profile.AT).Encode()
				r.Body, r.ContentLength = io.NopCloser(strings.NewReader(b)), int64(len(b))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			})
		}, 401, "", `Bearer realm="grantd"`},
		{"OIDC §5.3.1", "PUT", func() reply {
			return f.get(func(r *http.Request) { r.Method = http.MethodPut; bearerHeader(profile.AT)(r) })
		}, 405, "", ""},
	}
	for _, tc := range cases {
		r := tc.do()
		if r.status != tc.wantStatus {
			t.Errorf("%s %s: got %d %s, want %d", tc.id, tc.name, r.status, r.raw, tc.wantStatus)
			continue
		}
		if tc.wantStatus == 200 && r.raw != tc.wantBody {
			t.Errorf("%s %s: body %s, want %s", tc.id, tc.name, r.raw, tc.wantBody)
		}
		if got := r.header.Get("WWW-Authenticate"); got != tc.wantChallenge {
			t.Errorf("%s %s: WWW-Authenticate %q, want %q", tc.id, tc.name, got, tc.wantChallenge)
		}
		if tc.wantStatus != 405 && r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", tc.id, tc.name, r.header.Get("Cache-Control"))
		}
	}
}

// TestUserInfoAudience checks that an endpoint with an Audience refuses
// tokens for another resource (JWT-13).
func TestUserInfoAudience(t *testing.T) {
	f := newFixture(t, issuer)
	for _, tc := range []struct {
		aud        string
		wantStatus int
	}{{issuer, 200}, {rsAudience, 401}, {"", 401}} {
		g := f.issue("app", "u-alice", "openid", tc.aud)
		if r := f.get(bearerHeader(g.AT)); r.status != tc.wantStatus {
			t.Errorf("JWT-13 aud %q: got %d %s, want %d", tc.aud, r.status, r.raw, tc.wantStatus)
		}
	}
}

// TestUserInfoStoreDown checks that a store that cannot answer gets 503
// with Retry-After, never invalid_token (SECURITY.md C.1).
func TestUserInfoStoreDown(t *testing.T) {
	f := newFixture(t, "")
	g := f.issue("app", "u-alice", "openid profile", "")
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]reply{
		"GET":  f.get(bearerHeader(g.AT)),
		"POST": f.post(url.Values{"access_token": {g.AT}}, nil),
	} {
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("%s: got %d (Retry-After %q) %s, want 503 with Retry-After", name, r.status, r.header.Get("Retry-After"), r.raw)
		}
		if strings.Contains(r.raw, "invalid_token") || r.header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: the token is judged though the store is down: %s %q", name, r.raw, r.header.Get("WWW-Authenticate"))
		}
	}
}

// TestUserInfoExpired checks that a token past its exp, on the injected
// clock, is invalid_token.
func TestUserInfoExpired(t *testing.T) {
	f := newFixture(t, "")
	g := f.issue("app", "u-alice", "openid", "")
	f.clock.Add(atTTL)
	r := f.get(bearerHeader(g.AT))
	if want := `Bearer realm="grantd", error="invalid_token"`; r.status != 401 || r.header.Get("WWW-Authenticate") != want {
		t.Errorf("expired token: got %d %q, want 401 %q", r.status, r.header.Get("WWW-Authenticate"), want)
	}
}
