package httpserver_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/grantd/grantd/internal/admin"
)

// userinfo calls GET /userinfo with token.
func (e *env) userinfo(token string) reply {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return e.do(req)
}

// TestEmailScope: a user's e-mail address and whether it was verified are
// released by the email scope — at UserInfo and in the ID token — and not
// without it (OpenID Connect Core §5.4); an unregistered optional scope
// asked for alongside is ignored rather than refused.
func TestEmailScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"RESULT_TOKEN_SET": "ACCESS+REFRESH+ID"})
	secret := e.client(admin.ClientSpec{ID: "tv", Scopes: []string{"openid", "email", "lights:read"}})
	_, err := admin.CreateUser(context.Background(), e.store, rand.Reader, e.clock.Now(),
		admin.UserSpec{Username: "erin", Password: "correct horse battery", Email: "erin@example.com", EmailVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		scope     string
		wantEmail bool
	}{{"openid email profile phone", true}, {"openid", false}} {
		r := e.approvedTokens("tv", secret, tc.scope, "erin")
		if r.str("scope") != map[bool]string{true: "openid email", false: "openid"}[tc.wantEmail] {
			t.Errorf("scope %q: granted %q", tc.scope, r.str("scope"))
		}
		info := e.userinfo(r.str("access_token"))
		_, id := e.verify(r.str("id_token"), jose.RS256)
		for what, claims := range map[string]map[string]any{"userinfo": info.body, "ID token": id} {
			email, verified := claims["email"], claims["email_verified"]
			switch {
			case tc.wantEmail && (email != "erin@example.com" || verified != true):
				t.Errorf("scope %q, %s: email %v, email_verified %v; want erin@example.com, true", tc.scope, what, email, verified)
			case !tc.wantEmail && (email != nil || verified != nil):
				t.Errorf("scope %q, %s: email %v, email_verified %v; want neither", tc.scope, what, email, verified)
			}
		}
	}
}

// TestUserinfoAudience is JWT-13: an access token meant for another
// resource server is not accepted at UserInfo.
func TestUserinfoAudience(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mine := e.client(admin.ClientSpec{ID: "tv", Scopes: []string{"openid"}})
	theirs := e.client(admin.ClientSpec{ID: "lamp", Scopes: []string{"openid"}, Audience: "https://lights.example"})
	if r := e.userinfo(e.approvedTokens("tv", mine, "openid", "fay").str("access_token")); r.status != 200 {
		t.Errorf("token for this server: %d %s", r.status, r.raw)
	}
	r := e.userinfo(e.approvedTokens("lamp", theirs, "openid", "fay").str("access_token"))
	if r.status != 401 || r.str("error") != "invalid_token" {
		t.Errorf("token for another resource: %d %s; want 401 invalid_token", r.status, r.raw)
	}
}
