package authorize_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/storetest"
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
		CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour), LastUsedAt: now}
	if _, err := f.store.RedeemAuthorizationCode(ctx, c.Hash, clientID, now,
		storetest.Issue[store.AuthorizationCode](&g, f.refresh(g, l.refreshToken))); err != nil {
		f.t.Fatalf("redeem code: %v", err)
	}
	return l
}

// linkDevice makes a device grant of userID to clientID: a device code
// approved by the user and redeemed with a refresh token.
func (f *fixture) linkDevice(userID, clientID, userCode string) linked {
	f.t.Helper()
	ctx, now := context.Background(), f.clock.Now()
	l := linked{grantID: "g-device-" + f.token()[:8], refreshToken: f.token(), code: f.token()}
	dg := store.DeviceGrant{DeviceCodeHash: secret.Hash(l.code), UserCode: userCode, ClientID: clientID,
		Scopes: []string{"lights:read"}, Interval: 5 * time.Second, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := f.store.CreateDeviceGrant(ctx, dg); err != nil {
		f.t.Fatalf("create device grant: %v", err)
	}
	if _, err := f.store.DecideDeviceGrant(ctx, userCode, store.Decision{Approve: true, UserID: userID, AuthTime: now}, now); err != nil {
		f.t.Fatalf("decide device grant: %v", err)
	}
	g := store.Grant{ID: l.grantID, ClientID: clientID, UserID: userID, Scopes: dg.Scopes, Kind: deviceKind,
		CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour), LastUsedAt: now}
	if _, err := f.store.RedeemDeviceGrant(ctx, dg.DeviceCodeHash, clientID, now,
		storetest.Issue[store.DeviceGrant](&g, f.refresh(g, l.refreshToken))); err != nil {
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

// TestAccountNeedsSignIn checks that the account page, the confirmation of
// a revocation and the revocation need a signed-in user and come back to
// the account page.
func TestAccountNeedsSignIn(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	for _, resp := range []*webtest.Response{b.Get("/account"), b.Get("/account/revoke?grant=g"),
		b.Post("/account/revoke", url.Values{"grant_id": {"g"}})} {
		loc := location(t, resp)
		if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/signin" || loc.Query().Get("return_to") != "/account" &&
			loc.Query().Get("return_to") != "/account/revoke?grant=g" {
			t.Errorf("signed out: status %d to %q, want 303 to /signin, back to the account page", resp.StatusCode, resp.Header.Get("Location"))
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

// revokeLink returns the grant id of the index-th Revoke form of the
// account page.
func revokeGrant(t *testing.T, page *webtest.Response, index int) string {
	t.Helper()
	forms := strings.Split(page.Body, `<form method="get" action="/account/revoke">`)[1:]
	if index >= len(forms) {
		t.Fatalf("account page has %d Revoke forms, want more than %d", len(forms), index)
	}
	return webtest.Hidden(forms[index], "grant")
}

// TestAccountListAndRevoke checks DEV-23: the page lists each grant on its
// own — two sign-ins of one device are two entries — with the client, how
// it was linked, when it was approved and last used, the access in words,
// and never a token or a code. Revoke asks first, then ends that grant
// alone, and the page names what was revoked.
func TestAccountListAndRevoke(t *testing.T) {
	f := newFixture(t)
	app := f.linkApp("u-alice", "pub", []string{"openid", "lights:write"})
	f.clock.Add(time.Hour)
	tv1 := f.linkDevice("u-alice", "xss", "WDJBMJHT")
	f.clock.Add(26 * time.Hour)
	tv2 := f.linkDevice("u-alice", "xss", "BCDFGHJK")
	bobs := f.linkApp("u-bob", "conf", []string{"openid"})
	f.consent("u-alice", "pub", "openid", "lights:write")
	f.clock.Add(3 * 24 * time.Hour)
	b := f.signedIn("alice")
	page := b.Get("/account")
	xssName := "<h2>&lt;script&gt;alert(&#34;client&#34;)&lt;/script&gt;</h2>"
	for _, want := range []string{
		"<h2>" + pubName + "</h2>", "Linked app", "22 Nov 2026, 10:00 UTC", "<li>lights:write</li>",
		xssName, "Device sign-in", "22 Nov 2026, 11:00 UTC", "23 Nov 2026, 13:00 UTC",
		"<dt>Last used</dt>\n<dd>4 days ago</dd>", "<dt>Last used</dt>\n<dd>3 days ago</dd>",
		`aria-label="Revoke ` + pubName + `, approved 22 Nov 2026, 10:00 UTC">Revoke</button>`,
		`<a class="manage" href="/account">Your devices and apps</a>`,
	} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("account page lacks %s", want)
		}
	}
	if n := strings.Count(page.Body, xssName); n != 2 {
		t.Errorf("the device's two sign-ins are %d entries, want 2", n)
	}
	if strings.Index(page.Body, "23 Nov 2026, 13:00 UTC") > strings.Index(page.Body, "22 Nov 2026, 10:00 UTC") {
		t.Errorf("account page is not newest first")
	}
	for _, secretValue := range []string{app.refreshToken, app.code, tv1.refreshToken, tv1.code, secret.Hash(app.refreshToken), confName, "WDJBMJHT"} {
		if strings.Contains(page.Body, secretValue) {
			t.Errorf("account page shows %q", secretValue)
		}
	}
	webtest.CheckSecurityHeaders(t, "account page", page)

	// Revoke the older sign-in of the device: first the question.
	id := revokeGrant(t, page, 1)
	if id != tv1.grantID {
		t.Fatalf("second Revoke names grant %q, want the older device sign-in %q", id, tv1.grantID)
	}
	ask := b.Get("/account/revoke?grant=" + url.QueryEscape(id))
	for _, want := range []string{"Revoke &lt;script&gt;", "approved 22 Nov 2026, 11:00 UTC", `<a class="button secondary" href="/account">Cancel</a>`,
		`<button type="submit">Revoke</button>`} {
		if ask.StatusCode != http.StatusOK || !strings.Contains(ask.Body, want) {
			t.Errorf("confirmation page: status %d, lacks %s", ask.StatusCode, want)
		}
	}
	webtest.CheckSecurityHeaders(t, "confirmation page", ask)
	if !f.revokedAt(tv1.refreshToken).IsZero() {
		t.Fatalf("asking revoked the grant")
	}
	resp := b.Post("/account/revoke", url.Values{"grant_id": {id}, "csrf_token": {webtest.CSRF(ask.Body)}})
	if loc := location(t, resp); resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/account" || loc.Query().Get("revoked") != id {
		t.Fatalf("revoke: status %d to %q, want 303 to /account?revoked=%s", resp.StatusCode, resp.Header.Get("Location"), id)
	}
	after := b.Get(resp.Header.Get("Location"))
	notice := "Revoked: &lt;script&gt;alert(&#34;client&#34;)&lt;/script&gt; (Device sign-in, approved 22 Nov 2026, 11:00 UTC) can no longer use your account."
	if !strings.Contains(after.Body, notice) || strings.Count(after.Body, xssName) != 1 || !strings.Contains(after.Body, "<h2>"+pubName+"</h2>") {
		t.Errorf("after revoking: want the notice naming it, the other sign-in and the app still listed:\n%s", after.Body)
	}
	if f.revokedAt(tv1.refreshToken).IsZero() {
		t.Errorf("the revoked sign-in's refresh token is still active")
	}
	for _, l := range []linked{tv2, app, bobs} {
		if !f.revokedAt(l.refreshToken).IsZero() {
			t.Errorf("revoking one grant revoked grant %s", l.grantID)
		}
	}
	// The app's grant is its last: revoking it forgets the consent too.
	ask = b.Get("/account/revoke?grant=" + url.QueryEscape(app.grantID))
	b.Post("/account/revoke", url.Values{"grant_id": {app.grantID}, "csrf_token": {webtest.CSRF(ask.Body)}})
	if _, err := f.store.Consent(context.Background(), "u-alice", "pub"); err == nil {
		t.Errorf("consent survived revocation: the next /authorize would skip the page")
	}
}

// TestAccountRevokeRefused checks that revoking needs this session's token
// for this very grant, and that another user's grant, an unknown one and
// one revoked already are refused alike, before and at the confirmation.
func TestAccountRevokeRefused(t *testing.T) {
	f := newFixture(t)
	app := f.linkApp("u-alice", "pub", []string{"openid"})
	conf := f.linkApp("u-alice", "conf", []string{"openid"})
	bobs := f.linkApp("u-bob", "pub", []string{"openid"})
	alice, bob := f.signedIn("alice"), f.signedIn("bob")
	ask := alice.Get("/account/revoke?grant=" + url.QueryEscape(app.grantID))
	askConf := alice.Get("/account/revoke?grant=" + url.QueryEscape(conf.grantID))
	askBob := bob.Get("/account/revoke?grant=" + url.QueryEscape(bobs.grantID))
	tests := []struct{ name, grantID, token string }{
		{"missing token", app.grantID, ""},
		{"token for another grant", app.grantID, webtest.CSRF(askConf.Body)},
		{"token of another session", app.grantID, webtest.CSRF(askBob.Body)},
		{"sign-out token", app.grantID, webtest.Hidden(strings.SplitN(ask.Body, `action="/signout"`, 2)[1], "csrf_token")},
	}
	for _, tt := range tests {
		resp := alice.Post("/account/revoke", url.Values{"grant_id": {tt.grantID}, "csrf_token": {tt.token}})
		errorPage(t, tt.name, resp, http.StatusForbidden)
	}
	for name, resp := range map[string]*webtest.Response{
		"ask for another user's grant": alice.Get("/account/revoke?grant=" + url.QueryEscape(bobs.grantID)),
		"ask for an unknown grant":     alice.Get("/account/revoke?grant=nope"),
		// Bob can make a valid token for any grant id in his own session
		// (the HMAC is keyed with his session id): the grant must be his.
		"revoke another user's grant": bob.Post("/account/revoke", url.Values{"grant_id": {app.grantID},
			"csrf_token": {revokeToken(bob.Cookie("grantd_session"), app.grantID)}}),
	} {
		errorPage(t, name, resp, http.StatusNotFound)
	}
	if !f.revokedAt(app.refreshToken).IsZero() || !f.revokedAt(bobs.refreshToken).IsZero() {
		t.Errorf("a refused revocation revoked a refresh token")
	}
	// Revoked once, the grant is gone: asking again says so.
	alice.Post("/account/revoke", url.Values{"grant_id": {app.grantID}, "csrf_token": {webtest.CSRF(ask.Body)}})
	errorPage(t, "ask for a revoked grant", alice.Get("/account/revoke?grant="+url.QueryEscape(app.grantID)), http.StatusNotFound)
}

// revokeToken is the CSRF token of a revocation of grantID that the holder
// of the session cookie can compute.
func revokeToken(sessionID, grantID string) string {
	mac := hmac.New(sha256.New, []byte(sessionID))
	mac.Write([]byte("account.revoke\x00" + grantID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
