package userinfo_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/grantd/grantd/internal/bearer/bearertest"
	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/oauth"
)

// TestUserInfo checks the answers of the UserInfo endpoint (OpenID Connect
// Core §5.3) and its RFC 6750 errors.
func TestUserInfo(t *testing.T) {
	f := newFixture(t, "")
	profile := f.Issue("app", "u-alice", "openid profile", "")
	openid := f.Issue("app", "u-bob", "openid", "")
	noOpenID := f.Issue("app", "u-alice", "profile", "")
	revoked := f.Issue("app", "u-alice", "openid profile", "")
	if err := f.Store.RevokeGrant(context.Background(), revoked.GrantID, f.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	idToken := f.Sign(keys.TypeIDToken, oauth.IDTokenClaims{Issuer: bearertest.Issuer, Subject: "u-alice", Audience: "app",
		AZP: "app", IssuedAt: f.Clock.Now().Unix(), ExpiresAt: f.Clock.Now().Unix() + 600})
	get := func(tok string) func() reply { return func() reply { return f.Get(bearerHeader(tok)) } }
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
		{"RFC 6750 §2.2", "POST with the token in the body", func() reply { return f.Post(body(profile.AT), nil) },
			200, `{"sub":"u-alice","preferred_username":"alice"}`, ""},
		{"RFC 6750 §2.1", "POST with the token in the header", func() reply { return f.Post(url.Values{}, bearerHeader(openid.AT)) },
			200, `{"sub":"u-bob"}`, ""},
		{"RFC 6750 §2.1", "scheme in lower case", func() reply {
			return f.Get(func(r *http.Request) { r.Header.Set("Authorization", "bearer "+openid.AT) })
		}, 200, `{"sub":"u-bob"}`, ""},
		{"RFC 6750 §3.1", "Bearer scheme without a token", get(""), 400, "", `Bearer realm="grantd", error="invalid_request"`},
		{"RFC 6750 §3.1", "no token at all", func() reply { return f.Get(nil) }, 401, "", `Bearer realm="grantd"`},
		{"RFC 6750 §3.1", "Basic credentials are no bearer token", func() reply {
			return f.Get(func(r *http.Request) { r.SetBasicAuth("app", "secret") })
		}, 401, "", `Bearer realm="grantd"`},
		{"OIDC §5.3.1", "scope without openid", get(noOpenID.AT), 403, "",
			`Bearer realm="grantd", error="insufficient_scope", scope="openid"`},
		{"JWT-08", "garbage token", get("garbage"), 401, "", `Bearer realm="grantd", error="invalid_token"`},
		{"GEN-05", "truncated token", get(profile.AT[:len(profile.AT)-1]), 401, "", `Bearer realm="grantd", error="invalid_token"`},
		{"REV-03", "token of a revoked grant", get(revoked.AT), 401, "", `Bearer realm="grantd", error="invalid_token"`},
		{"JWT-09", "ID token as bearer token", get(idToken), 401, "", `Bearer realm="grantd", error="invalid_token"`},
		{"RFC 6750 §2", "token in header and body", func() reply { return f.Post(body(profile.AT), bearerHeader(profile.AT)) },
			400, "", `Bearer realm="grantd", error="invalid_request"`},
		{"RFC 6750 §2.3", "token in the query string", func() reply {
			return f.Get(func(r *http.Request) { r.URL.RawQuery = body(profile.AT).Encode() })
		}, 400, "", `Bearer realm="grantd", error="invalid_request"`},
		{"RFC 6750 §2.2", "GET with the token in a body: not read", func() reply {
			return f.Get(func(r *http.Request) {
				b := body(profile.AT).Encode()
				r.Body, r.ContentLength = io.NopCloser(strings.NewReader(b)), int64(len(b))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			})
		}, 401, "", `Bearer realm="grantd"`},
		{"OIDC §5.3.1", "PUT", func() reply {
			return f.Get(func(r *http.Request) { r.Method = http.MethodPut; bearerHeader(profile.AT)(r) })
		}, 405, "", ""},
	}
	for _, tc := range cases {
		r := tc.do()
		if r.Status != tc.wantStatus {
			t.Errorf("%s %s: got %d %s, want %d", tc.id, tc.name, r.Status, r.Raw, tc.wantStatus)
			continue
		}
		if tc.wantStatus == 200 && r.Raw != tc.wantBody {
			t.Errorf("%s %s: body %s, want %s", tc.id, tc.name, r.Raw, tc.wantBody)
		}
		if got := r.Header.Get("WWW-Authenticate"); got != tc.wantChallenge {
			t.Errorf("%s %s: WWW-Authenticate %q, want %q", tc.id, tc.name, got, tc.wantChallenge)
		}
		if tc.wantStatus != 405 && r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", tc.id, tc.name, r.Header.Get("Cache-Control"))
		}
	}
}

// TestUserInfoAudience checks that an endpoint with an Audience refuses
// tokens for another resource (JWT-13).
func TestUserInfoAudience(t *testing.T) {
	f := newFixture(t, bearertest.Issuer)
	for _, tc := range []struct {
		aud        string
		wantStatus int
	}{{bearertest.Issuer, 200}, {rsAudience, 401}, {"", 401}} {
		g := f.Issue("app", "u-alice", "openid", tc.aud)
		if r := f.Get(bearerHeader(g.AT)); r.Status != tc.wantStatus {
			t.Errorf("JWT-13 aud %q: got %d %s, want %d", tc.aud, r.Status, r.Raw, tc.wantStatus)
		}
	}
}

// TestUserInfoStoreDown checks that a store that cannot answer gets 503
// with Retry-After, never invalid_token (docs/SECURITY.md INV-01).
func TestUserInfoStoreDown(t *testing.T) {
	f := newFixture(t, "")
	g := f.Issue("app", "u-alice", "openid profile", "")
	if err := f.Store.Close(); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]reply{
		"GET":  f.Get(bearerHeader(g.AT)),
		"POST": f.Post(url.Values{"access_token": {g.AT}}, nil),
	} {
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: got %d (Retry-After %q) %s, want 503 with Retry-After", name, r.Status, r.Header.Get("Retry-After"), r.Raw)
		}
		if strings.Contains(r.Raw, "invalid_token") || r.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: the token is judged though the store is down: %s %q", name, r.Raw, r.Header.Get("WWW-Authenticate"))
		}
	}
}

// TestUserInfoExpired checks that a token past its exp, on the injected
// clock, is invalid_token.
func TestUserInfoExpired(t *testing.T) {
	f := newFixture(t, "")
	g := f.Issue("app", "u-alice", "openid", "")
	f.Clock.Add(bearertest.AccessTokenTTL)
	r := f.Get(bearerHeader(g.AT))
	if want := `Bearer realm="grantd", error="invalid_token"`; r.Status != 401 || r.Header.Get("WWW-Authenticate") != want {
		t.Errorf("expired token: got %d %q, want 401 %q", r.Status, r.Header.Get("WWW-Authenticate"), want)
	}
}
