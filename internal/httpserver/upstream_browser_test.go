package httpserver_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/browsertest"
	"github.com/grantd/grantd/internal/upstream/upstreamtest"
)

// upstreamSignIn are the browser steps of a sign-in at the test provider,
// from grantd's sign-in page: its button, then the provider's form.
func upstreamSignIn(u upstreamtest.User) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.WaitVisible(`//a[normalize-space()='Sign in with Lights Incorporated']`),
		browsertest.Screenshot("upstream-1-signin"),
		chromedp.Click(`//a[normalize-space()='Sign in with Lights Incorporated']`),
		chromedp.WaitVisible(browsertest.Input("Username")),
		chromedp.SendKeys(browsertest.Input("Username"), u.Username),
		chromedp.SendKeys(browsertest.Input("Password"), u.Password),
		chromedp.Click(browsertest.Button("Sign in")),
	}
}

// TestBrowserUpstreamDeviceFlow is issue 17 as people do it, in both token
// modes: golang.org/x/oauth2's device flow polls while a user in headless
// Chromium opens verification_uri_complete, signs in at the upstream (the
// Cognito-like provider), comes back through /callback to the code, and
// approves. A local client's device gets grantd's tokens for the federated
// user; a passthrough client's, the upstream's own.
func TestBrowserUpstreamDeviceFlow(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"local", "passthrough"} {
		t.Run(mode, func(t *testing.T) {
			ctx := browsertest.New(t)
			f := newFedEnv(t, map[string]string{"POLLING_INTERVAL": "1"})
			secret := f.client(admin.ClientSpec{ID: "tv", Name: "Living-room TV", Scopes: []string{"openid"}, TokenMode: mode})
			cfg := &oauth2.Config{ClientID: "tv", ClientSecret: secret, Scopes: []string{"openid"},
				Endpoint: oauth2.Endpoint{DeviceAuthURL: f.srv.URL + "/device_authorization", TokenURL: f.srv.URL + "/token",
					AuthStyle: oauth2.AuthStyleInHeader}}
			da, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("client_secret", secret))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan *oauth2.Token, 1)
			go func() {
				tok, err := cfg.DeviceAccessToken(context.WithoutCancel(ctx), da)
				if err != nil {
					t.Errorf("DeviceAccessToken: %v", err)
				}
				done <- tok
			}()
			steps := append(chromedp.Tasks{chromedp.Navigate(da.VerificationURIComplete)}, upstreamSignIn(upstreamtest.Alice())...)
			steps = append(steps,
				chromedp.WaitVisible(browsertest.Input("User code")), browsertest.Screenshot("upstream-2-code-"+mode),
				chromedp.Click(browsertest.Button("Continue")),
				chromedp.WaitVisible(browsertest.Button("Approve")),
				chromedp.Click(browsertest.Button("Approve")),
				chromedp.WaitNotPresent(browsertest.Button("Approve")), browsertest.Screenshot("upstream-3-done-"+mode),
			)
			if err := chromedp.Run(ctx, steps...); err != nil {
				t.Fatalf("browser: %v", err)
			}
			tok := <-done
			if tok == nil {
				return
			}
			_, claims := f.verifyUpstream(t, tok.AccessToken)
			switch mode {
			case "local":
				if claims["iss"] != f.srv.URL || len(claims["sub"].(string)) != 26 {
					t.Errorf("local mode: access token claims %v; want grantd's, for the federated user", claims)
				}
			case "passthrough":
				if claims["iss"] != f.up.Issuer || claims["token_use"] != "access" || claims["username"] != "alice" {
					t.Errorf("passthrough mode: access token claims %v; want the upstream's", claims)
				}
			}
		})
	}
}

// TestBrowserUpstreamAccountLinking: a platform linking an account through
// /authorize (golang.org/x/oauth2 with PKCE, the ID token checked with
// go-oidc) meets a user who signs in at the upstream and approves; the
// platform's user id is the federated user's grantd id.
func TestBrowserUpstreamAccountLinking(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	f := newFedEnv(t, nil)
	cb, responses := callback(t)
	redirect := cb.URL + "/oauth/callback"
	secret := f.client(admin.ClientSpec{ID: "aws-c2c", Name: "Acme Cloud", RedirectURIs: []string{redirect},
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "lights:read"}})
	provider, err := oidc.NewProvider(ctx, f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{ClientID: "aws-c2c", ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: redirect,
		Scopes: []string{oidc.ScopeOpenID, "lights:read"}}
	state, nonce, pkce := random(t), random(t), oauth2.GenerateVerifier()
	steps := append(chromedp.Tasks{chromedp.Navigate(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce), oidc.Nonce(nonce)))},
		upstreamSignIn(upstreamtest.Bob())...)
	steps = append(steps,
		chromedp.WaitVisible(browsertest.Button("Approve")), browsertest.Screenshot("upstream-4-consent"),
		chromedp.Click(browsertest.Button("Approve")),
		chromedp.WaitVisible(`//main[contains(., 'Account linked')]`),
	)
	if err := chromedp.Run(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
	q := <-responses
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("authorization response %v", q)
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "aws-c2c"}).Verify(ctx, raw)
	if err != nil || idt.Nonce != nonce {
		t.Fatalf("ID token: %v", err)
	}
	u, err := f.store.User(ctx, idt.Subject)
	if err != nil || u.UpstreamID != "cognito" || u.UpstreamSubject != upstreamtest.Bob().Subject || strings.Contains(idt.Subject, "@") {
		t.Errorf("linked user %+v, %v; want bob's federated grantd user", u, err)
	}
}
