package authorize_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/authorize"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/memstore"
	"github.com/grantd/grantd/internal/web"
	"github.com/grantd/grantd/internal/web/webtest"
)

const (
	alicePassword = "alice's long password"
	bobPassword   = "bob's long password"
	codeTTL       = 45 * time.Second

	// pubURI and confURI are the only redirect URIs of the public and the
	// confidential client; confURI has a query of its own to keep.
	pubURI   = "https://app.example/cb"
	confURI  = "https://conf.example/callback?tenant=a"
	pubName  = "Smart Home App"
	confName = "Cloud Connector"
	xssName  = `<script>alert("client")</script>`

	// verifier is a PKCE code_verifier (RFC 7636 §4.1); challenge is its
	// S256 challenge.
	verifier = "dBjftJeZ4CVP-mJ92K9lFWyqPlNWTl82Sk1fw4XDZ5lQvQ"
)

var challenge = func() string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}()

// allScopes are the scopes every test client may request.
var allScopes = []string{"openid", "lights:read", "lights:write", "offline_access"}

// fixture is the authorization pages on an in-memory store behind a real
// HTTP server, with users alice and bob and these clients: pub (public),
// conf (confidential), multi (two redirect URIs), off (disabled), devonly
// (no authorization_code grant), xss (markup for a name) and native (a
// private-use scheme).
type fixture struct {
	t     *testing.T
	store *memstore.Store
	srv   *httptest.Server
	clock *webtest.Clock
}

func newFixture(t *testing.T, options ...func(*fixture, *authorize.Pages)) *fixture {
	t.Helper()
	f := &fixture{t: t, store: memstore.New(), clock: webtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))}
	webtest.CreateUser(t, f.store, store.User{ID: "u-alice", Username: "alice", CreatedAt: f.clock.Now()}, alicePassword)
	webtest.CreateUser(t, f.store, store.User{ID: "u-bob", Username: "bob", CreatedAt: f.clock.Now()}, bobPassword)
	code := []string{authorize.GrantType, "refresh_token"}
	for _, c := range []store.Client{
		{ID: "pub", Public: true, Name: pubName, RedirectURIs: []string{pubURI}, GrantTypes: code},
		{ID: "conf", SecretHash: "unused", Name: confName, RedirectURIs: []string{confURI}, GrantTypes: code},
		{ID: "multi", Public: true, RedirectURIs: []string{"https://multi.example/a", "https://multi.example/b"}, GrantTypes: code},
		{ID: "off", Public: true, Disabled: true, RedirectURIs: []string{"https://off.example/cb"}, GrantTypes: code},
		{ID: "devonly", Public: true, RedirectURIs: []string{"https://dev.example/cb"}, GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code"}},
		{ID: "xss", Public: true, Name: xssName, RedirectURIs: []string{"https://xss.example/cb"}, GrantTypes: code},
		{ID: "native", Public: true, RedirectURIs: []string{"com.example.app:/oauth2redirect"}, GrantTypes: code},
		{ID: "loopback", Public: true, RedirectURIs: []string{"http://127.0.0.1/cb", "http://[::1]:8400/cb?x=1"}, GrantTypes: code,
			Scopes: []string{"openid"}},
	} {
		c.Scopes, c.CreatedAt = allScopes, f.clock.Now()
		if err := f.store.CreateClient(context.Background(), c); err != nil {
			t.Fatalf("create client: %v", err)
		}
	}
	mux := http.NewServeMux()
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	site := &web.Site{Store: f.store, Issuer: f.srv.URL, Limiter: ratelimit.NewMemory(), Now: f.clock.Now,
		Logger: slog.New(slog.DiscardHandler)}
	site.Mount(mux)
	pages := &authorize.Pages{Site: site, Store: f.store, Issuer: f.srv.URL, AuthCodeTTL: codeTTL}
	for _, o := range options {
		o(f, pages)
	}
	pages.Mount(mux)
	return f
}

// browser returns a browser that is not signed in.
func (f *fixture) browser() *webtest.Browser {
	return webtest.NewBrowser(f.t, f.srv.URL, nil)
}

// signedIn returns a browser signed in as alice or bob.
func (f *fixture) signedIn(username string) *webtest.Browser {
	f.t.Helper()
	b := f.browser()
	password := alicePassword
	if username == "bob" {
		password = bobPassword
	}
	b.SignIn(username, password)
	return b
}

// consent stores userID's consent to clientID for scopes.
func (f *fixture) consent(userID, clientID string, scopes ...string) {
	f.t.Helper()
	c := store.Consent{UserID: userID, ClientID: clientID, Scopes: scopes, GrantedAt: f.clock.Now()}
	if err := f.store.SaveConsent(context.Background(), c); err != nil {
		f.t.Fatalf("save consent: %v", err)
	}
}

// code returns the stored row of a code sent to a client, failing the test
// when there is none.
func (f *fixture) code(code string) store.AuthorizationCode {
	f.t.Helper()
	c, err := f.store.AuthorizationCode(context.Background(), secret.Hash(code))
	if err != nil {
		f.t.Fatalf("stored code: %v", err)
	}
	return c
}

// authz returns the /authorize URL with the given parameters.
func authz(params url.Values) string { return "/authorize?" + params.Encode() }

// pubRequest returns a valid request of the public client, with PKCE.
func pubRequest() url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {"pub"}, "redirect_uri": {pubURI},
		"scope": {"openid lights:read"}, "state": {"st-123"}, "nonce": {"n-456"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
}

// with returns a copy of v with the pairs name, value set; a value of
// "\x00" deletes the name.
func with(v url.Values, pairs ...string) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "\x00" {
			out.Del(pairs[i])
		} else {
			out.Set(pairs[i], pairs[i+1])
		}
	}
	return out
}

// location parses the Location of a response; nil when there is none.
func location(t *testing.T, resp *webtest.Response) *url.URL {
	t.Helper()
	raw := resp.Header.Get("Location")
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("Location %q: %v", raw, err)
	}
	return u
}

// clientRedirect checks that resp is a 303 to the registered URI (its
// query kept) with iss, and returns the response parameters.
func (f *fixture) clientRedirect(t *testing.T, what string, resp *webtest.Response, registered string) url.Values {
	t.Helper()
	raw := resp.Header.Get("Location")
	sep := "?"
	if strings.Contains(registered, "?") {
		sep = "&"
	}
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(raw, registered+sep) {
		t.Fatalf("%s: status %d to %q, want 303 to %s%s…", what, resp.StatusCode, raw, registered, sep)
	}
	q, err := url.ParseQuery(strings.TrimPrefix(raw, registered+sep))
	if err != nil {
		t.Fatalf("%s: response query: %v", what, err)
	}
	if got := q["iss"]; len(got) != 1 || got[0] != f.srv.URL {
		t.Errorf("%s: AZ-14: iss = %q, want %q", what, got, f.srv.URL)
	}
	return q
}

// errorPage checks that resp is an error page: status, no Location (AZ-03).
func errorPage(t *testing.T, what string, resp *webtest.Response, status int) {
	t.Helper()
	if resp.StatusCode != status || resp.Header.Get("Location") != "" {
		t.Errorf("%s: status %d Location %q, want a %d page and no redirect", what, resp.StatusCode, resp.Header.Get("Location"), status)
	}
	webtest.CheckSecurityHeaders(t, what, resp)
}

// signInReturn checks that resp sends the browser to sign in and returns the
// return_to path, which must be a local /authorize path.
func signInReturn(t *testing.T, what string, resp *webtest.Response) string {
	t.Helper()
	loc := location(t, resp)
	if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Host != "" || loc.Path != "/signin" {
		t.Fatalf("%s: status %d to %q, want 303 to /signin", what, resp.StatusCode, resp.Header.Get("Location"))
	}
	back := loc.Query().Get("return_to")
	if !strings.HasPrefix(back, "/authorize?") {
		t.Fatalf("%s: return_to %q, want /authorize?…", what, back)
	}
	return back
}

// signInAndReturn signs in on the sign-in page that return_to leads to and
// follows the redirect back, returning the answer of /authorize.
func signInAndReturn(t *testing.T, b *webtest.Browser, username, password, returnTo string) *webtest.Response {
	t.Helper()
	page := b.Get(web.SignInURL(returnTo))
	if got := webtest.Hidden(page.Body, "return_to"); got != returnTo {
		t.Fatalf("sign-in page return_to = %q, want %q", got, returnTo)
	}
	resp := b.Post("/signin", url.Values{
		"csrf_token": {webtest.CSRF(page.Body)}, "return_to": {returnTo},
		"username": {username}, "password": {password},
	})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != returnTo {
		t.Fatalf("sign in: status %d to %q, want 303 to %q", resp.StatusCode, resp.Header.Get("Location"), returnTo)
	}
	return b.Get(returnTo)
}

// consentForm returns the fields of the consent form on page.
func consentForm(t *testing.T, page *webtest.Response) url.Values {
	t.Helper()
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, `<form method="post" action="/authorize/consent">`) {
		t.Fatalf("status %d, want 200 with the consent form", page.StatusCode)
	}
	form := url.Values{}
	for _, name := range []string{"csrf_token", "response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
		"code_challenge", "code_challenge_method", "resource", "prompt", "max_age", "response_mode", "auth_since", "ui_locales"} {
		if strings.Contains(page.Body, `<input type="hidden" name="`+name+`" value="`) {
			form.Set(name, webtest.Hidden(page.Body, name))
		}
	}
	return form
}

// choose presses Approve or Deny ("approve", "deny") on a consent page.
func choose(t *testing.T, b *webtest.Browser, page *webtest.Response, action string) *webtest.Response {
	t.Helper()
	return b.Post("/authorize/consent", with(consentForm(t, page), "action", action))
}
