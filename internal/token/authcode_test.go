package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// verifier is the PKCE code verifier of the fixture's codes (RFC 7636
// §4.1: 43 characters of the unreserved set).
const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

// s256 is the S256 challenge of v (RFC 7636 §4.2).
func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// code stores an authorization code of web for alice, as /authorize would
// after consent, changed by edit when not nil, and returns it.
func (f *fixture) code(edit func(*store.AuthorizationCode)) string {
	f.t.Helper()
	raw, err := secret.NewToken(rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	now := f.clock.Now()
	c := store.AuthorizationCode{Hash: secret.Hash(raw), ClientID: web, UserID: f.alice.ID, RedirectURI: webCB,
		Scopes: []string{"openid", "lights:read"}, Nonce: "n-0S6_WzA2Mj", CodeChallenge: s256(verifier),
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if edit != nil {
		edit(&c)
	}
	if err := f.st.CreateAuthorizationCode(f.t.Context(), c); err != nil {
		f.t.Fatal(err)
	}
	return raw
}

// exchange is the access token request of the authorization code grant
// (RFC 6749 §4.1.3) by web, with the fixture's redirect URI and verifier
// unless params says otherwise ("" leaves a parameter out).
func (f *fixture) exchange(code string, params map[string]string) reply {
	f.t.Helper()
	form := url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code}, "redirect_uri": {webCB}, "code_verifier": {verifier}}
	for k, v := range params {
		form.Del(k)
		if v != "" {
			form.Set(k, v)
		}
	}
	return f.token(basic(web, webSec), form)
}

// TestAuthorizationCode is the authorization code grant's matrix: a code
// is redeemed only by its client, with its redirect URI and its PKCE
// verifier, before it expires, once.
func TestAuthorizationCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	other := store.Client{ID: "other-web", AuthMethod: oauth.AuthBasic, GrantTypes: []string{GrantAuthorizationCode},
		RedirectURIs: []string{webCB}, Scopes: []string{"openid"}, TokenMode: store.TokenModeLocal, CreatedAt: f.clock.Now()}
	other.SecretHash, _ = secret.HashClientSecret(rand.Reader, webSec, true)
	if err := f.st.CreateClient(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	noPKCE := func(c *store.AuthorizationCode) { c.CodeChallenge = "" }
	tests := []struct {
		name   string
		edit   func(*store.AuthorizationCode)
		params map[string]string
		status int
		code   oauth.ErrorCode
	}{
		{"with its verifier", nil, nil, 200, ""},
		{"without PKCE, from a confidential client", noPKCE, map[string]string{"code_verifier": ""}, 200, ""},
		{"no code_verifier (AZ-10, AZ-21)", nil, map[string]string{"code_verifier": ""}, 400, oauth.InvalidGrant},
		{"wrong code_verifier (AZ-10, AZ-21)", nil, map[string]string{"code_verifier": strings.Repeat("a", 43)}, 400, oauth.InvalidGrant},
		{"code_verifier too short (AZ-09)", nil, map[string]string{"code_verifier": verifier[:42]}, 400, oauth.InvalidRequest},
		{"code_verifier with a character outside RFC 7636's (AZ-09)", nil, map[string]string{"code_verifier": verifier[:42] + "+"},
			400, oauth.InvalidRequest},
		{"PKCE downgrade: a verifier for a code without challenge (AZ-11)", noPKCE, nil, 400, oauth.InvalidGrant},
		{"another redirect_uri (AZ-05)", nil, map[string]string{"redirect_uri": webCB + "/"}, 400, oauth.InvalidGrant},
		{"no redirect_uri (AZ-05)", nil, map[string]string{"redirect_uri": ""}, 400, oauth.InvalidGrant},
		{"expired (AZ-21)", func(c *store.AuthorizationCode) { c.ExpiresAt = f.clock.Now() }, nil, 400, oauth.InvalidGrant},
		{"a code never issued", nil, map[string]string{"code": "never-issued-code"}, 400, oauth.InvalidGrant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.exchange(f.code(tt.edit), tt.params)
			if bad := check(r, tt.status, tt.code); bad != "" {
				t.Errorf("got %s; want %d %q", bad, tt.status, tt.code)
			}
		})
	}
	t.Run("another client's code (AZ-21)", func(t *testing.T) {
		code := f.code(nil)
		r := f.token(basic(other.ID, webSec), url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code},
			"redirect_uri": {webCB}, "code_verifier": {verifier}})
		if bad := check(r, 400, oauth.InvalidGrant); bad != "" {
			t.Errorf("got %s; want invalid_grant", bad)
		}
		if r := f.exchange(code, nil); r.status != 200 {
			t.Errorf("its own client after another's try: %s; want the tokens", r.raw)
		}
	})
}

// TestAuthorizationCodeTokens: a redeemed code yields an access token for
// its user and client, an ID token with the request's nonce and at_hash
// (OpenID Connect Core §3.1.3.6), and a refresh token for a client allowed
// the refresh grant.
func TestAuthorizationCodeTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := f.exchange(f.code(nil), nil)
	if bad := check(r, 200, ""); bad != "" {
		t.Fatalf("got %s", bad)
	}
	at, id := claims(t, r.str("access_token")), claims(t, r.str("id_token"))
	if at["sub"] != f.alice.ID || at["client_id"] != web || at["scope"] != "openid lights:read" {
		t.Errorf("access token claims %v", at)
	}
	if id["sub"] != f.alice.ID || id["aud"] != web || id["nonce"] != "n-0S6_WzA2Mj" || id["at_hash"] != atHash(f.h.IDTokenAlg, r.str("access_token")) {
		t.Errorf("ID token claims %v", id)
	}
	if r.str("refresh_token") == "" {
		t.Error("no refresh token for a client allowed the refresh grant")
	}
}

// TestAuthorizationCodeReuse is AZ-22: a second use of a code fails and
// revokes the grant its first use created, refresh token included.
func TestAuthorizationCodeReuse(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code := f.code(nil)
	first := f.exchange(code, nil)
	if first.status != 200 {
		t.Fatalf("first use: %s", first.raw)
	}
	if bad := check(f.exchange(code, nil), 400, oauth.InvalidGrant); bad != "" {
		t.Errorf("second use: %s; want invalid_grant", bad)
	}
	if r := f.refresh(web, first.str("refresh_token"), ""); r.status != 400 {
		t.Errorf("the first use's refresh token after the reuse: %s; want it revoked", r.raw)
	}
	grant, _ := claims(t, first.str("access_token"))["grant_id"].(string)
	if g, err := f.st.Grant(t.Context(), grant); err != nil || g.RevokedAt.IsZero() {
		t.Errorf("the first use's grant after the reuse: %+v, %v; want it revoked", g, err)
	}
}

// TestAuthorizationCodeUserDisabled: a code of a user disabled since the
// consent yields nothing.
func TestAuthorizationCodeUserDisabled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code := f.code(nil)
	if err := f.st.SetUserDisabled(t.Context(), f.alice.ID, true); err != nil {
		t.Fatal(err)
	}
	if bad := check(f.exchange(code, nil), 400, oauth.InvalidGrant); bad != "" {
		t.Errorf("got %s; want invalid_grant", bad)
	}
}

// TestAuthorizationCodeRefusalKeepsCode is AZ-10's second half: a missing or
// wrong code_verifier is refused inside the redemption, which then
// consumes nothing, so the client's request with the right one still works
// and is the code's one use.
func TestAuthorizationCodeRefusalKeepsCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	code := f.code(nil)
	for _, v := range []string{"", strings.Repeat("a", 43)} {
		if bad := check(f.exchange(code, map[string]string{"code_verifier": v}), 400, oauth.InvalidGrant); bad != "" {
			t.Fatalf("verifier %q: %s; want invalid_grant", v, bad)
		}
	}
	if bad := check(f.exchange(code, nil), 200, ""); bad != "" {
		t.Fatalf("the right verifier after two refusals: %s; want tokens", bad)
	}
	if bad := check(f.exchange(code, nil), 400, oauth.InvalidGrant); bad != "" {
		t.Errorf("a second use: %s; want invalid_grant", bad)
	}
}
