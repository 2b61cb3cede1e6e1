package authorize_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/authorize"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/memstore"
	"github.com/grantd/grantd/internal/web/webtest"
)

// consentOpenID is how the consent page lists openid: its built-in
// description, then its name.
const consentOpenID = `<li class="described"><span class="scope-description">Know which account is yours</span> ` +
	`<small class="scope-name">openid</small></li>`

// TestAuthorizeSignInRoundTrip follows a signed-out user from /authorize
// through sign-in and consent back to the client with a code (AZ-18: every
// redirect after a POST is 303).
func TestAuthorizeSignInRoundTrip(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	back := signInReturn(t, "signed out", b.Get(authz(pubRequest())))
	page := signInAndReturn(t, b, "alice", alicePassword, back)
	for _, want := range []string{
		"<h1>Allow " + pubName + " to use your account?</h1>",
		consentOpenID, "<li>lights:read</li>", "<dd>app.example</dd>",
		`<form method="post" action="/authorize/consent">`,
		`<button type="submit" name="action" value="approve">Approve</button>`,
		`<button type="submit" name="action" value="deny" class="secondary">Deny</button>`,
		"Signed in as <strong>alice</strong>",
	} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("consent page lacks %s", want)
		}
	}
	if strings.Contains(page.Body, "lights:write") {
		t.Errorf("consent page lists a scope that was not requested")
	}
	q := f.clientRedirect(t, "approve", choose(t, b, page, "approve"), pubURI)
	if q.Get("state") != "st-123" || q.Get("code") == "" {
		t.Fatalf("approve: response %v, want code and state", q)
	}
	if c := f.code(q.Get("code")); c.UserID != "u-alice" || c.ClientID != "pub" {
		t.Errorf("code of %q for %q, want u-alice and pub", c.UserID, c.ClientID)
	}
}

// TestAuthorizeCodeBindings checks AZ-21 and GEN-02: the stored row holds
// the hash of a 256-bit code (never the code) bound to the client, the
// redirect URI as sent, PKCE challenge, nonce, resource, user, scopes and
// auth time, and expires AuthCodeTTL after issue.
func TestAuthorizeCodeBindings(t *testing.T) {
	tests := []struct {
		name, redirect string // redirect_uri as sent; "\x00" omits it
	}{
		{"redirect_uri sent", pubURI},
		{"redirect_uri omitted", "\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.consent("u-alice", "pub", allScopes...)
			b := f.signedIn("alice")
			signedInAt := f.clock.Now()
			f.clock.Add(3 * time.Second)
			params := with(pubRequest(), "redirect_uri", tt.redirect, "resource", "https://api.example/lights")
			code := f.clientRedirect(t, tt.name, b.Get(authz(params)), pubURI).Get("code")
			raw, err := base64.RawURLEncoding.DecodeString(code)
			if err != nil || len(raw) < 32 || len(code) != 43 {
				t.Errorf("code %q: %d bytes (%v), want 256 bits", code, len(raw), err)
			}
			if _, err := f.store.AuthorizationCode(context.Background(), code); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("lookup by the raw code: %v, want not found (only the hash is stored)", err)
			}
			c := f.code(code)
			want := store.AuthorizationCode{
				Hash: secret.Hash(code), ClientID: "pub", UserID: "u-alice", RedirectURI: params.Get("redirect_uri"),
				Scopes: []string{"openid", "lights:read"}, Nonce: "n-456", CodeChallenge: challenge,
				Resource: "https://api.example/lights", AuthTime: signedInAt,
				CreatedAt: f.clock.Now(), ExpiresAt: f.clock.Now().Add(codeTTL),
			}
			if c.Hash != want.Hash || c.ClientID != want.ClientID || c.UserID != want.UserID ||
				c.RedirectURI != want.RedirectURI || !slices.Equal(c.Scopes, want.Scopes) || c.Nonce != want.Nonce ||
				c.CodeChallenge != want.CodeChallenge || c.Resource != want.Resource || !c.AuthTime.Equal(want.AuthTime) ||
				!c.CreatedAt.Equal(want.CreatedAt) || !c.ExpiresAt.Equal(want.ExpiresAt) || !c.RedeemedAt.IsZero() {
				t.Errorf("stored code\n got %+v\nwant %+v", c, want)
			}
		})
	}
}

// TestAuthorizePromptNone checks OpenID Connect Core §3.1.2.6: prompt=none
// never shows a page; it answers login_required or consent_required.
func TestAuthorizePromptNone(t *testing.T) {
	f := newFixture(t)
	none := with(pubRequest(), "prompt", "none")
	q := f.clientRedirect(t, "signed out", f.browser().Get(authz(none)), pubURI)
	if q.Get("error") != "login_required" || q.Get("state") != "st-123" {
		t.Errorf("signed out: %v, want login_required with state", q)
	}
	b := f.signedIn("alice")
	q = f.clientRedirect(t, "no consent", b.Get(authz(none)), pubURI)
	if q.Get("error") != "consent_required" || q.Get("state") != "st-123" {
		t.Errorf("no consent: %v, want consent_required with state", q)
	}
	f.consent("u-alice", "pub", "openid")
	q = f.clientRedirect(t, "consent for less", b.Get(authz(none)), pubURI)
	if q.Get("error") != "consent_required" {
		t.Errorf("consent for fewer scopes: %v, want consent_required", q)
	}
	f.consent("u-alice", "pub", "openid", "lights:read")
	q = f.clientRedirect(t, "consented", b.Get(authz(none)), pubURI)
	if q.Get("code") == "" {
		t.Errorf("consented: %v, want a code", q)
	}
	f.clock.Add(time.Hour)
	q = f.clientRedirect(t, "max_age exceeded", b.Get(authz(with(none, "max_age", "60"))), pubURI)
	if q.Get("error") != "login_required" {
		t.Errorf("prompt=none, max_age exceeded: %v, want login_required", q)
	}
}

// TestAuthorizeFreshSignIn checks prompt=login and max_age: the user signs
// in once more, comes back, and gets a code without a second loop; coming
// back without signing in, or after the marker's window, does not count.
func TestAuthorizeFreshSignIn(t *testing.T) {
	tests := []struct {
		name  string
		extra []string // parameters added to the request
		fresh bool     // whether a 10-second-old sign-in is enough
	}{
		{"prompt=login", []string{"prompt", "login"}, false},
		{"prompt=login consent", []string{"prompt", "login consent"}, false},
		{"max_age=0", []string{"max_age", "0"}, false},
		{"max_age=5", []string{"max_age", "5"}, false},
		{"max_age=60", []string{"max_age", "60"}, true},
		{"max_age=10 (not exceeded)", []string{"max_age", "10"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.consent("u-alice", "pub", allScopes...)
			b := f.signedIn("alice")
			f.clock.Add(10 * time.Second)
			req := authz(with(pubRequest(), tt.extra...))
			resp := b.Get(req)
			if tt.fresh {
				f.clientRedirect(t, "fresh enough", resp, pubURI)
				return
			}
			back := signInReturn(t, "first visit", resp)
			f.clock.Add(time.Second)
			signInReturn(t, "back without signing in", b.Get(back))
			resp = signInAndReturn(t, b, "alice", alicePassword, back)
			if strings.Contains(tt.name, "consent") {
				resp = choose(t, b, resp, "approve")
			}
			if q := f.clientRedirect(t, "after signing in", resp, pubURI); q.Get("code") == "" {
				t.Fatalf("after signing in: %v, want a code", q)
			}
			f.clock.Add(11 * time.Minute)
			signInReturn(t, "marker past its window", b.Get(back))
		})
	}
}

// TestAuthorizeConsentRemembered checks that consent is asked once, asked
// again for a new scope or prompt=consent, and remembered as the union.
func TestAuthorizeConsentRemembered(t *testing.T) {
	f := newFixture(t)
	b := f.signedIn("alice")
	first := b.Get(authz(pubRequest()))
	f.clientRedirect(t, "first approval", choose(t, b, first, "approve"), pubURI)
	if q := f.clientRedirect(t, "second visit", b.Get(authz(pubRequest())), pubURI); q.Get("code") == "" {
		t.Errorf("second visit: %v, want a code without a page", q)
	}
	if q := f.clientRedirect(t, "subset", b.Get(authz(with(pubRequest(), "scope", "openid"))), pubURI); q.Get("code") == "" {
		t.Errorf("fewer scopes: %v, want a code without a page", q)
	}
	more := b.Get(authz(with(pubRequest(), "scope", "lights:write")))
	if !strings.Contains(more.Body, "<li>lights:write</li>") {
		t.Fatalf("new scope: status %d, want the consent page listing it", more.StatusCode)
	}
	f.clientRedirect(t, "second approval", choose(t, b, more, "approve"), pubURI)
	c, err := f.store.Consent(context.Background(), "u-alice", "pub")
	if err != nil || !slices.Equal(c.Scopes, []string{"openid", "lights:read", "lights:write"}) {
		t.Errorf("stored consent %v (%v), want the union of both approvals", c.Scopes, err)
	}
	again := b.Get(authz(with(pubRequest(), "prompt", "consent")))
	consentForm(t, again)
}

// TestAuthorizeDeny checks that Deny answers access_denied with state and
// iss, and stores no consent.
func TestAuthorizeDeny(t *testing.T) {
	f := newFixture(t)
	b := f.signedIn("alice")
	q := f.clientRedirect(t, "deny", choose(t, b, b.Get(authz(pubRequest())), "deny"), pubURI)
	if q.Get("error") != "access_denied" || q.Get("state") != "st-123" || q.Has("code") {
		t.Errorf("deny: %v, want access_denied with state and no code", q)
	}
	if _, err := f.store.Consent(context.Background(), "u-alice", "pub"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("consent after deny: %v, want none", err)
	}
}

// TestConsentCSRF checks AZ-24: the consent POST is refused with 403 and
// no code unless its token matches this session and these very parameters.
func TestConsentCSRF(t *testing.T) {
	f := newFixture(t)
	alice, bob := f.signedIn("alice"), f.signedIn("bob")
	page := alice.Get(authz(pubRequest()))
	form := with(consentForm(t, page), "action", "approve")
	bobForm := consentForm(t, bob.Get(authz(pubRequest())))
	tests := []struct {
		name string
		form url.Values
	}{
		{"missing token", with(form, "csrf_token", "\x00")},
		{"empty token", with(form, "csrf_token", "")},
		{"token of another session", with(form, "csrf_token", bobForm.Get("csrf_token"))},
		{"tampered scope", with(form, "scope", "openid lights:write")},
		{"tampered redirect_uri", with(form, "redirect_uri", "\x00")},
		{"tampered state", with(form, "state", "forged")},
		{"tampered code_challenge", with(form, "code_challenge", strings.Repeat("A", 43))},
		{"added prompt", with(form, "prompt", "none")},
		{"added resource", with(form, "resource", "https://evil.example/")},
		{"removed nonce", with(form, "nonce", "\x00")},
	}
	for _, tt := range tests {
		resp := alice.Post("/authorize/consent", tt.form)
		errorPage(t, tt.name, resp, http.StatusForbidden)
	}
	resp := f.browser().Post("/authorize/consent", form)
	errorPage(t, "no session", resp, http.StatusForbidden)
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/authorize/consent", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	errorPage(t, "cross-site POST", alice.Do(req), http.StatusForbidden)
	if q := f.clientRedirect(t, "untampered", alice.Post("/authorize/consent", form), pubURI); q.Get("code") == "" {
		t.Errorf("the untampered form: %v, want a code", q)
	}
	errorPage(t, "neither approve nor deny", alice.Post("/authorize/consent", with(form, "action", "maybe")), http.StatusBadRequest)
}

// TestConsentRevalidates checks that a consent POST checks the sign-in
// again: a user disabled while the page was open is sent to sign in, and
// no code is issued.
func TestConsentRevalidates(t *testing.T) {
	f := newFixture(t)
	b := f.signedIn("alice")
	form := with(consentForm(t, b.Get(authz(pubRequest()))), "action", "approve")
	if err := f.store.SetUserDisabled(context.Background(), "u-alice", true); err != nil {
		t.Fatal(err)
	}
	signInReturn(t, "disabled user", b.Post("/authorize/consent", form))
}

// TestAuthorizePost checks the form-POST variant (OpenID Connect Core
// §3.1.2.1), including from another site, where the browser sends
// Sec-Fetch-Site: cross-site and no session cookie.
func TestAuthorizePost(t *testing.T) {
	f := newFixture(t)
	f.consent("u-alice", "pub", allScopes...)
	post := func(b *webtest.Browser, body url.Values) *webtest.Response {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/authorize", strings.NewReader(body.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://app.example")
		return b.Do(req)
	}
	back := signInReturn(t, "cross-site, signed out", post(f.browser(), pubRequest()))
	if u, _ := url.Parse(back); u.Query().Get("client_id") != "pub" || u.Query().Get("code_challenge") != challenge {
		t.Errorf("return_to %q lacks the posted parameters", back)
	}
	b := f.signedIn("alice")
	if q := f.clientRedirect(t, "signed in", post(b, pubRequest()), pubURI); q.Get("code") == "" {
		t.Errorf("signed in: %v, want a code", q)
	}
	dup := pubRequest()
	dup.Add("client_id", "conf")
	errorPage(t, "AZ-15 POST with repeated client_id", post(b, dup), http.StatusBadRequest)
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/authorize?client_id=pub", strings.NewReader(pubRequest().Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	errorPage(t, "AZ-15 client_id in query and body", b.Do(req), http.StatusBadRequest)
}

// failingCodes is the real store with CreateAuthorizationCode failing, as a
// full disk or a lost database connection would.
type failingCodes struct{ *memstore.Store }

func (failingCodes) CreateAuthorizationCode(context.Context, store.AuthorizationCode) error {
	return errors.New("database is locked")
}

// TestAuthorizeStoreFailure checks docs/SECURITY.md INV-01: when the
// code cannot be stored the user gets 503 with Retry-After, never a
// redirect with a code that does not exist.
func TestAuthorizeStoreFailure(t *testing.T) {
	f := newFixture(t, func(f *fixture, p *authorize.Pages) { p.Store = failingCodes{f.store} })
	f.consent("u-alice", "pub", allScopes...)
	b := f.signedIn("alice")
	resp := b.Get(authz(pubRequest()))
	errorPage(t, "store failure", resp, http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
}

// TestAuthorizePromptLoginSameSecond: a sign-in made a moment before a
// prompt=login request, within the same second, is not the fresh sign-in the
// request asks for, even when the user comes back by the return URL without
// signing in. (auth_since once had whole seconds and let it pass.)
func TestAuthorizePromptLoginSameSecond(t *testing.T) {
	f := newFixture(t)
	f.consent("u-alice", "pub", allScopes...)
	f.clock.Add(100 * time.Millisecond)
	b := f.signedIn("alice")
	f.clock.Add(200 * time.Millisecond)
	back := signInReturn(t, "prompt=login", b.Get(authz(with(pubRequest(), "prompt", "login"))))
	signInReturn(t, "back without signing in, same second", b.Get(back))
}
