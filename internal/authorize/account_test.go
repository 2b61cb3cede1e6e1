package authorize_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/web/webtest"
)

const deviceKind = "urn:ietf:params:oauth:grant-type:device_code"

// linked holds the secrets of one grant made through the store, which must
// never appear on the account page.
type linked struct {
	grantID, refreshToken, code string
}

// linkApp makes a grant of userID to clientID the way the token endpoint
// does: it redeems a stored authorization code together with a grant and
// its first refresh token.
func (f *fixture) linkApp(userID, clientID string, scopes []string) linked {
	f.t.Helper()
	ctx, now := context.Background(), f.clock.Now()
	l := linked{grantID: "g-" + clientID + "-" + userID, refreshToken: f.token(), code: f.token()}
	c := store.AuthorizationCode{Hash: secret.Hash(l.code), ClientID: clientID, UserID: userID, Scopes: scopes,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := f.store.CreateAuthorizationCode(ctx, c); err != nil {
		f.t.Fatalf("create code: %v", err)
	}
	g := store.Grant{ID: l.grantID, ClientID: clientID, UserID: userID, Scopes: scopes, Kind: "authorization_code",
		CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
	if _, err := f.store.RedeemAuthorizationCode(ctx, c.Hash, now, g, f.refresh(g, l.refreshToken)); err != nil {
		f.t.Fatalf("redeem code: %v", err)
	}
	return l
}

// linkDevice makes a device grant of userID to clientID: a device code
// approved by the user and redeemed with a refresh token.
func (f *fixture) linkDevice(userID, clientID, userCode string) linked {
	f.t.Helper()
	ctx, now := context.Background(), f.clock.Now()
	l := linked{grantID: "g-device-" + userCode, refreshToken: f.token(), code: f.token()}
	dg := store.DeviceGrant{DeviceCodeHash: secret.Hash(l.code), UserCode: userCode, ClientID: clientID,
		Scopes: []string{"lights:read"}, Interval: 5 * time.Second, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := f.store.CreateDeviceGrant(ctx, dg); err != nil {
		f.t.Fatalf("create device grant: %v", err)
	}
	if _, err := f.store.DecideDeviceGrant(ctx, userCode, store.Decision{Approve: true, UserID: userID, AuthTime: now}, now); err != nil {
		f.t.Fatalf("decide device grant: %v", err)
	}
	g := store.Grant{ID: l.grantID, ClientID: clientID, UserID: userID, Scopes: dg.Scopes, Kind: deviceKind,
		CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
	if err := f.store.RedeemDeviceGrant(ctx, dg.DeviceCodeHash, clientID, now, g, f.refresh(g, l.refreshToken)); err != nil {
		f.t.Fatalf("redeem device grant: %v", err)
	}
	return l
}

func (f *fixture) token() string {
	f.t.Helper()
	tok, err := secret.NewToken(rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

func (f *fixture) refresh(g store.Grant, token string) *store.RefreshToken {
	return &store.RefreshToken{Hash: secret.Hash(token), GrantID: g.ID, ClientID: g.ClientID, UserID: g.UserID,
		Scopes: g.Scopes, AuthTime: g.CreatedAt, CreatedAt: g.CreatedAt, ExpiresAt: g.ExpiresAt, FamilyExpiresAt: g.ExpiresAt}
}

// revokedAt returns when the refresh token was revoked (zero if it is not).
func (f *fixture) revokedAt(token string) time.Time {
	f.t.Helper()
	rt, err := f.store.RefreshToken(context.Background(), secret.Hash(token))
	if err != nil {
		f.t.Fatalf("refresh token: %v", err)
	}
	return rt.RevokedAt
}

// TestAccountNeedsSignIn checks that the account page and revocation need
// a signed-in user and come back to the account page.
func TestAccountNeedsSignIn(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	for _, resp := range []*webtest.Response{b.Get("/account"), b.Post("/account/revoke", url.Values{"client_id": {"pub"}})} {
		loc := location(t, resp)
		if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/signin" || loc.Query().Get("return_to") != "/account" {
			t.Errorf("signed out: status %d to %q, want 303 to /signin?return_to=/account", resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// TestAccountEmpty checks the friendly empty state.
func TestAccountEmpty(t *testing.T) {
	f := newFixture(t)
	page := f.signedIn("alice").Get("/account")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "No linked apps or devices.") {
		t.Errorf("empty account page: status %d, want 200 with the empty message", page.StatusCode)
	}
}

// TestAccountListAndRevoke checks DEV-23: the page lists each client with
// its name, the kind of access, when and which scopes, never a token or a
// code; Revoke ends the client's grants, refresh tokens and consent, and
// leaves the rest.
func TestAccountListAndRevoke(t *testing.T) {
	f := newFixture(t)
	app := f.linkApp("u-alice", "pub", []string{"openid", "lights:write"})
	f.clock.Add(time.Hour)
	tv := f.linkDevice("u-alice", "xss", "WDJBMJHT")
	bobs := f.linkApp("u-bob", "conf", []string{"openid"})
	f.consent("u-alice", "pub", "openid", "lights:write")
	b := f.signedIn("alice")
	page := b.Get("/account")
	for _, want := range []string{
		"<dt>" + pubName + "</dt>", "Linked app since", "22 Nov 2026, 10:00 UTC", "<li>lights:write</li>",
		"<dt>&lt;script&gt;alert(&#34;client&#34;)&lt;/script&gt;</dt>", "Device sign-in since", "22 Nov 2026, 11:00 UTC",
		`<button type="submit" class="secondary" aria-label="Revoke ` + pubName + `">Revoke</button>`,
	} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("account page lacks %s", want)
		}
	}
	if strings.Index(page.Body, "Device sign-in since") > strings.Index(page.Body, "Linked app since") {
		t.Errorf("account page is not newest first")
	}
	for _, secretValue := range []string{app.refreshToken, app.code, tv.refreshToken, tv.code, secret.Hash(app.refreshToken), confName, "WDJBMJHT"} {
		if strings.Contains(page.Body, secretValue) {
			t.Errorf("account page shows %q", secretValue)
		}
	}
	webtest.CheckSecurityHeaders(t, "account page", page)

	token := revokeToken(t, page, "pub")
	resp := b.Post("/account/revoke", url.Values{"client_id": {"pub"}, "csrf_token": {token}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account?revoked=1" {
		t.Fatalf("revoke: status %d to %q, want 303 to /account?revoked=1", resp.StatusCode, resp.Header.Get("Location"))
	}
	after := b.Get(resp.Header.Get("Location"))
	if !strings.Contains(after.Body, "Access revoked.") || strings.Contains(after.Body, pubName) || !strings.Contains(after.Body, "Device sign-in") {
		t.Errorf("after revoking: want the confirmation, no %s and the device still listed", pubName)
	}
	if f.revokedAt(app.refreshToken).IsZero() {
		t.Errorf("the revoked app's refresh token is still active")
	}
	if !f.revokedAt(tv.refreshToken).IsZero() || !f.revokedAt(bobs.refreshToken).IsZero() {
		t.Errorf("revoking one client revoked another's refresh token")
	}
	g, err := f.store.Grant(context.Background(), app.grantID)
	if err != nil || g.RevokedAt.IsZero() {
		t.Errorf("grant after revoking: %+v (%v), want revoked", g, err)
	}
	if _, err := f.store.Consent(context.Background(), "u-alice", "pub"); err == nil {
		t.Errorf("consent survived revocation: the next /authorize would skip the page")
	}
}

// TestAccountRevokeCSRF checks that a Revoke needs this session's token for
// this very client.
func TestAccountRevokeCSRF(t *testing.T) {
	f := newFixture(t)
	app := f.linkApp("u-alice", "pub", []string{"openid"})
	f.linkApp("u-alice", "conf", []string{"openid"})
	f.linkApp("u-bob", "pub", []string{"openid"})
	alice, bob := f.signedIn("alice"), f.signedIn("bob")
	page := alice.Get("/account")
	tests := []struct{ name, clientID, token string }{
		{"missing token", "pub", ""},
		{"token for another client", "pub", revokeToken(t, page, "conf")},
		{"token of another session", "pub", revokeToken(t, bob.Get("/account"), "pub")},
		{"sign-out token", "pub", webtest.Hidden(strings.SplitN(page.Body, `action="/signout"`, 2)[1], "csrf_token")},
	}
	for _, tt := range tests {
		resp := alice.Post("/account/revoke", url.Values{"client_id": {tt.clientID}, "csrf_token": {tt.token}})
		errorPage(t, tt.name, resp, http.StatusForbidden)
	}
	if !f.revokedAt(app.refreshToken).IsZero() {
		t.Errorf("a refused revocation revoked the refresh token")
	}
}

// revokeToken returns the CSRF token of the Revoke form of clientID.
func revokeToken(t *testing.T, page *webtest.Response, clientID string) string {
	t.Helper()
	for _, form := range strings.Split(page.Body, `<form method="post" action="/account/revoke">`)[1:] {
		if webtest.Hidden(form, "client_id") == clientID {
			return webtest.CSRF(form)
		}
	}
	t.Fatalf("no Revoke form for %s", clientID)
	return ""
}
