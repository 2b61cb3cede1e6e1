package token

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/store"
)

// TestDispatch is the token endpoint's request matrix (RFC 6749 §3.2,
// §5.2): a request must be a form POST, name one grant type the client is
// allowed, and authenticate the client by one method, before the grant
// it names is tried. Each line gives the answer (status and error code), and
// whether it carries a Basic challenge (TOK-01). Every answer is JSON with
// no-store (TOK-06).
func TestDispatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	disabled := store.Client{ID: "old-tv", GrantTypes: []string{GrantDeviceCode}, Disabled: true,
		SecretHash: "sha256$" + strings.Repeat("0", 64), TokenMode: store.TokenModeLocal, CreatedAt: f.clock.Now()}
	if err := f.st.CreateClient(context.Background(), disabled); err != nil {
		t.Fatal(err)
	}
	device, refresh, code := url.Values{"grant_type": {GrantDeviceCode}}, url.Values{"grant_type": {GrantRefreshToken}},
		url.Values{"grant_type": {GrantAuthorizationCode}}
	grant := func(gt string) url.Values { return url.Values{"grant_type": {gt}} }
	tests := []struct {
		name      string
		auth      auth
		form      url.Values
		edit      func(*http.Request) // changes the request as sent, when set
		status    int
		code      oauth.ErrorCode
		challenge bool
		desc      string // a part of error_description, when set
	}{
		// The request's shape (TOK-05, AZ-15).
		{"GET", basic(tv, tvSecret), device, func(r *http.Request) { r.Method = http.MethodGet }, 405, oauth.InvalidRequest, false, "POST"},
		{"secret in the query string", nil, device, func(r *http.Request) { r.URL.RawQuery = "client_id=tv&client_secret=" + tvSecret },
			400, oauth.InvalidRequest, false, "not in the URI"},
		{"JSON body", basic(tv, tvSecret), device, func(r *http.Request) { r.Header.Set("Content-Type", "application/json") },
			400, oauth.InvalidRequest, false, ""},
		{"grant_type repeated", basic(tv, tvSecret), url.Values{"grant_type": {GrantDeviceCode, GrantRefreshToken}},
			nil, 400, oauth.InvalidRequest, false, "repeated"},
		{"no grant_type", basic(tv, tvSecret), url.Values{}, nil, 400, oauth.InvalidRequest, false, "/device_authorization"},

		// Client authentication (TOK-01, TOK-04; RFC 6749 §2.3.1).
		{"wrong secret over Basic", basic(tv, "wrong"), device, nil, 401, oauth.InvalidClient, true, ""},
		{"wrong secret in the body", post(tv, "wrong"), device, nil, 401, oauth.InvalidClient, false, ""},
		{"unknown client over Basic", basic("nobody", "x"), device, nil, 401, oauth.InvalidClient, true, ""},
		{"unknown client in the body", post("nobody", "x"), device, nil, 401, oauth.InvalidClient, false, ""},
		{"malformed Basic header", nil, device, func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") },
			401, oauth.InvalidClient, true, ""},
		{"Basic and client_secret", func(r *http.Request, form url.Values) {
			basic(tv, tvSecret)(r, form)
			form.Set("client_secret", tvSecret)
		}, device, nil, 400, oauth.InvalidRequest, false, "exactly one"},
		{"no client at all", nil, device, nil, 401, oauth.InvalidClient, false, ""},
		{"confidential client without its secret", public(tv), device, nil, 401, oauth.InvalidClient, false, ""},
		{"public client sending a secret", post(bulb, "anything"), device, nil, 401, oauth.InvalidClient, false, ""},
		{"client_secret_post by a Basic client", post(web, webSec), code, nil, 401, oauth.InvalidClient, false, "registered"},
		{"disabled client", basic("old-tv", "x"), device, nil, 401, oauth.InvalidClient, true, ""},
		{"wrong secret and an unsupported grant", basic(tv, "wrong"), grant("password"), nil, 401, oauth.InvalidClient, true, ""},

		// The grant type (TOK-08, RFC 6749 §5.2).
		{"password grant", basic(tv, tvSecret), grant("password"), nil, 400, oauth.UnsupportedGrantType, false, ""},
		{"client_credentials", basic(tv, tvSecret), grant("client_credentials"), nil, 400, oauth.UnsupportedGrantType, false, ""},
		{"implicit", basic(tv, tvSecret), grant("implicit"), nil, 400, oauth.UnsupportedGrantType, false, ""},
		{"code grant for a device client", basic(tv, tvSecret), code, nil, 400, oauth.UnauthorizedClient, false, ""},
		{"refresh grant for a client without it", public(bulb), refresh, nil, 400, oauth.UnauthorizedClient, false, ""},
		{"device grant for a web client", basic(web, webSec), device, nil, 400, oauth.UnauthorizedClient, false, ""},

		// Each grant is dispatched to its own checks.
		{"device grant without device_code", basic(tv, tvSecret), device, nil, 400, oauth.InvalidRequest, false, "device_code"},
		{"public device client", public(bulb), device, nil, 400, oauth.InvalidRequest, false, "device_code"},
		{"refresh grant without refresh_token", post(tv, tvSecret), refresh, nil, 400, oauth.InvalidRequest, false, "refresh_token"},
		{"code grant without code", basic(web, webSec), code, nil, 400, oauth.InvalidRequest, false, "code parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.request(tt.auth, tt.form, tt.edit)
			if bad := check(r, tt.status, tt.code); bad != "" {
				t.Errorf("got %s; want %d %s", bad, tt.status, tt.code)
			}
			if got := r.header.Get("WWW-Authenticate"); (got != "") != tt.challenge || (tt.challenge && !strings.HasPrefix(got, "Basic ")) {
				t.Errorf("WWW-Authenticate %q, want a Basic challenge %t (RFC 6749 §5.2)", got, tt.challenge)
			}
			if !strings.Contains(r.str("error_description"), tt.desc) {
				t.Errorf("error_description %q, want it to say %q", r.str("error_description"), tt.desc)
			}
		})
	}
}

// TestErrorsEchoNoInput is TOK-07: whatever a request carries, the error
// description does not repeat it.
func TestErrorsEchoNoInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	const hostile = `<script>alert("x")</script>`
	tests := []struct {
		name string
		auth auth
		form url.Values
	}{
		{"grant type", basic(tv, tvSecret), url.Values{"grant_type": {hostile}}},
		{"device code", basic(tv, tvSecret), url.Values{"grant_type": {GrantDeviceCode}, "device_code": {hostile}}},
		{"refresh token", basic(tv, tvSecret), url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {hostile}}},
		{"scope", basic(tv, tvSecret), url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {"x"}, "scope": {hostile}}},
		{"client id", post(hostile, "x"), url.Values{"grant_type": {GrantDeviceCode}}},
		{"parameter name", basic(tv, tvSecret), url.Values{"grant_type": {GrantDeviceCode}, hostile: {"1", "2"}}},
	}
	for _, tt := range tests {
		r := f.token(tt.auth, tt.form)
		if r.status < 400 || strings.Contains(r.raw, "<script>") || strings.Contains(r.raw, `\u003cscript`) {
			t.Errorf("%s: %d %s; want an error that does not repeat the input", tt.name, r.status, r.raw)
		}
	}
}
