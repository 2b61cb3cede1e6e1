package upstreamtest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/grantd/grantd/internal/browsertest"
	"github.com/grantd/grantd/internal/upstream/upstreamtest"
)

// TestLooksLikeCognito checks, with independent clients (go-oidc and
// x/oauth2), the traits of a Cognito user pool that the test provider
// claims to reproduce.
func TestLooksLikeCognito(t *testing.T) {
	u := upstreamtest.Start(t, upstreamtest.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ctx = oidc.ClientContext(ctx, &http.Client{Timeout: 30 * time.Second})
	p, err := oidc.NewProvider(ctx, u.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(u.Issuer, "/us-east-1_grantdTest") {
		t.Errorf("issuer %q has no user pool path", u.Issuer)
	}
	if got := p.Endpoint().TokenURL; got != u.Issuer+"/oauth2/token" {
		t.Errorf("token endpoint %q", got)
	}
	conf := &oauth2.Config{
		ClientID: u.ClientID, ClientSecret: u.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: u.RedirectURIs[0], Scopes: []string{"openid", "email", "profile"},
	}
	verifier := oauth2.GenerateVerifier()

	// PKCE is required.
	plain := u.SignIn(t, conf.AuthCodeURL("s0", oidc.Nonce("n0")), "alice", upstreamtest.Alice().Password)
	if got := plain.Query().Get("error"); got != "invalid_request" {
		t.Errorf("authorization request without PKCE: error=%q, want invalid_request", got)
	}

	back := u.SignIn(t, conf.AuthCodeURL("s1", oidc.Nonce("n1"), oauth2.S256ChallengeOption(verifier)),
		"alice", upstreamtest.Alice().Password)
	if back.Query().Get("state") != "s1" || back.Query().Get("iss") != u.Issuer {
		t.Fatalf("callback %s", back)
	}
	tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: u.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var id map[string]any
	idt.Claims(&id)
	want := map[string]any{
		"sub": upstreamtest.Alice().Subject, "cognito:username": "alice", "token_use": "id",
		"email": "alice@example.com", "email_verified": true, "nonce": "n1",
	}
	for k, v := range want {
		if id[k] != v {
			t.Errorf("ID token %s = %v, want %v", k, id[k], v)
		}
	}

	atHeader, at := decode(t, tok.AccessToken)
	idHeader, _ := decode(t, tok.Extra("id_token").(string))
	if atHeader["kid"] == idHeader["kid"] {
		t.Errorf("access and ID tokens signed with the same key %v", atHeader["kid"])
	}
	if _, ok := at["aud"]; ok {
		t.Errorf("access token has aud %v", at["aud"])
	}
	if at["token_use"] != "access" || at["client_id"] != u.ClientID || at["username"] != "alice" {
		t.Errorf("access token claims %v", at)
	}
	// The re-signed access token verifies with the published access key.
	keys := oidc.NewRemoteKeySet(ctx, u.Issuer+"/.well-known/jwks.json")
	if _, err := keys.VerifySignature(ctx, tok.AccessToken); err != nil {
		t.Errorf("access token signature: %v", err)
	}

	// A refresh is answered without a refresh token: Cognito does not rotate.
	raw := refresh(ctx, t, u, p.Endpoint().TokenURL, tok.RefreshToken)
	if _, ok := raw["refresh_token"]; ok {
		t.Errorf("refresh rotated the refresh token: %v", raw)
	}
	if raw["id_token"] == nil || raw["access_token"] == nil {
		t.Errorf("refresh answered %v", raw)
	}
}

func TestSignInRefusesAWrongPassword(t *testing.T) {
	u := upstreamtest.Start(t, upstreamtest.Options{})
	auth := u.Issuer + "/oauth2/authorize?" + url.Values{
		"client_id": {u.ClientID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {u.RedirectURIs[0]}, "state": {"s"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}.Encode()
	if _, err := u.TrySignIn(t.Context(), auth, "alice", "wrong"); !errors.Is(err, upstreamtest.ErrWrongPassword) {
		t.Errorf("wrong password: %v, want ErrWrongPassword", err)
	}
	back := u.Cancel(t, auth)
	if got := back.Query().Get("error"); got != "access_denied" {
		t.Errorf("cancel: error=%q, want access_denied", got)
	}
}

func decode(t *testing.T, jwt string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", jwt)
	}
	for i, into := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}

func refresh(ctx context.Context, t *testing.T, u *upstreamtest.Upstream, tokenURL, rt string) map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL,
		strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(u.ClientID, u.ClientSecret)
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var raw map[string]any
	json.NewDecoder(res.Body).Decode(&raw)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("refresh: HTTP %d %v", res.StatusCode, raw)
	}
	return raw
}

// TestSignInWithABrowser: the sign-in page works in headless Chromium, by
// its labels and button names, up to the redirect back to the client.
func TestSignInWithABrowser(t *testing.T) {
	got := make(chan url.Values, 1)
	client := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.URL.Query():
		default:
		}
		w.Write([]byte("<!DOCTYPE html><title>back</title><p id=back>back at the client</p>"))
	}))
	t.Cleanup(client.Close)
	ctx := browsertest.New(t)
	u := upstreamtest.Start(t, upstreamtest.Options{RedirectURIs: []string{client.URL + "/callback"}})
	auth := u.Issuer + "/oauth2/authorize?" + url.Values{
		"client_id": {u.ClientID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {client.URL + "/callback"}, "state": {"s1"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}.Encode()
	err := chromedp.Run(ctx,
		chromedp.Navigate(auth),
		chromedp.WaitVisible(browsertest.Input("Username")),
		chromedp.SendKeys(browsertest.Input("Username"), "bob"),
		chromedp.SendKeys(browsertest.Input("Password"), upstreamtest.Bob().Password),
		chromedp.Click(browsertest.Button("Sign in")),
		chromedp.WaitVisible("#back", chromedp.ByID),
	)
	if err != nil {
		t.Fatal(err)
	}
	var q url.Values
	select {
	case q = <-got:
	case <-time.After(time.Minute):
		t.Fatal("the client's callback was not called")
	}
	if q.Get("state") != "s1" || q.Get("code") == "" {
		t.Errorf("callback query %v", q)
	}
}
