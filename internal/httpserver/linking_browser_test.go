package httpserver_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/browsertest"
)

// callback is the platform's redirect endpoint: it hands each authorization
// response to the test.
func callback(t *testing.T) (*httptest.Server, <-chan url.Values) {
	got := make(chan url.Values, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/callback" { // e.g. the browser's favicon request
			http.NotFound(w, r)
			return
		}
		got <- r.URL.Query()
		fmt.Fprint(w, "<!doctype html><title>Linked</title><main>Account linked</main>")
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func random(t *testing.T) string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestBrowserAccountLinking links an account as AWS IoT managed integrations
// would: golang.org/x/oauth2 with PKCE as the platform, the user in real
// headless Chromium signing in and approving, the ID token verified with
// github.com/coreos/go-oidc/v3, the user id learned from sub, introspection
// and userinfo; then a prompt=login re-link with remembered consent, and a
// revocation from the account page, confirmed on a page of its own (DEV-23).
func TestBrowserAccountLinking(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	e := newWallEnv(t, nil)
	cb, responses := callback(t)
	redirect := cb.URL + "/oauth/callback"
	secret := e.client(admin.ClientSpec{ID: "aws-c2c", Name: "Acme Cloud", RedirectURIs: []string{redirect},
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "profile", "lights:read"}})
	rsSecret := e.client(admin.ClientSpec{ID: "lights-api", Introspect: true, GrantTypes: []string{"refresh_token"}})
	user := e.user("alice")

	provider, err := oidc.NewProvider(ctx, e.srv.URL) // discovery; the issuer must match exactly
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	cfg := &oauth2.Config{ClientID: "aws-c2c", ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "profile", "lights:read"}}
	link := func(steps chromedp.Tasks, extra ...oauth2.AuthCodeOption) *oauth2.Token {
		t.Helper()
		state, nonce, pkce := random(t), random(t), oauth2.GenerateVerifier()
		opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(pkce), oidc.Nonce(nonce)}, extra...)
		if err := chromedp.Run(ctx, append(chromedp.Tasks{chromedp.Navigate(cfg.AuthCodeURL(state, opts...))}, steps...)); err != nil {
			t.Fatalf("browser: %v", err)
		}
		q := <-responses
		if q.Get("state") != state || q.Get("iss") != e.srv.URL || q.Get("code") == "" {
			t.Fatalf("authorization response %v: want the state, iss (RFC 9207) and a code", q)
		}
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pkce))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&oidc.Config{ClientID: "aws-c2c"}).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("verify ID token: %v", err)
		}
		if idt.Nonce != nonce || idt.Subject != user.ID {
			t.Errorf("ID token nonce %q sub %q, want %q %q", idt.Nonce, idt.Subject, nonce, user.ID)
		}
		return tok
	}
	signIn := chromedp.Tasks{
		chromedp.WaitVisible(browsertest.Input("Username")),
		chromedp.SendKeys(browsertest.Input("Username"), "alice"),
		chromedp.SendKeys(browsertest.Input("Password"), "correct horse battery"),
		chromedp.Click(browsertest.Button("Sign in")),
	}
	var consent string
	tok := link(append(signIn,
		chromedp.WaitVisible(browsertest.Button("Approve")), browsertest.Screenshot("5-consent"),
		chromedp.Text("main", &consent),
		chromedp.Click(browsertest.Button("Approve")),
		chromedp.WaitVisible(`//main[contains(., 'Account linked')]`),
	))
	for _, want := range []string{"Acme Cloud", "lights:read"} {
		if !strings.Contains(consent, want) {
			t.Errorf("consent page lacks %q:\n%s", want, consent)
		}
	}

	// The platform learns the user id from introspection and userinfo too.
	in := e.post("/introspect", url.Values{"token": {tok.AccessToken}}, basic("lights-api", rsSecret))
	if in.body["active"] != true || in.str("sub") != user.ID || in.str("username") != "alice" {
		t.Errorf("introspection: %s", in.raw)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != user.ID {
		t.Errorf("userinfo: %v %v", info, err)
	}

	// Re-linking with prompt=login asks for the password again and, with
	// consent remembered, goes straight back to the platform.
	link(append(signIn, chromedp.WaitVisible(`//main[contains(., 'Account linked')]`)),
		oauth2.SetAuthURLParam("prompt", "login"))

	// Revoking the platform on the account page ends its tokens.
	err = chromedp.Run(ctx,
		chromedp.Navigate(e.srv.URL+"/account"),
		chromedp.WaitVisible(`//main[contains(., 'Acme Cloud')]`), browsertest.Screenshot("6-account"),
		// Two links, two grants: the first and the prompt=login one.
		chromedp.Click(browsertest.Button("Revoke")),
		chromedp.WaitVisible(`//h1[contains(., 'Revoke Acme Cloud?')]`), browsertest.Screenshot("7-revoke"),
		chromedp.Click(browsertest.Button("Revoke")),
		chromedp.WaitVisible(`//p[@role='status'][contains(., 'Revoked: Acme Cloud')]`),
		chromedp.Click(browsertest.Button("Revoke")),
		chromedp.WaitVisible(`//h1[contains(., 'Revoke Acme Cloud?')]`),
		chromedp.Click(browsertest.Button("Revoke")),
		chromedp.WaitVisible(`//main[contains(., 'No linked apps or devices')]`),
	)
	if err != nil {
		t.Fatalf("account page: %v", err)
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("the refresh token still works after revocation")
	}
	if in := e.post("/introspect", url.Values{"token": {tok.AccessToken}}, basic("lights-api", rsSecret)); in.raw != `{"active":false}` {
		t.Errorf("introspection after revocation: %s", in.raw)
	}
}
