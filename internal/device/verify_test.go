package device_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/device"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/memstore"
	"github.com/grantd/grantd/internal/store/storetest"
	"github.com/grantd/grantd/internal/usercode"
	"github.com/grantd/grantd/internal/web"
	"github.com/grantd/grantd/internal/web/webtest"
)

const (
	verifyAlicePassword = "alice's long password"
	verifyBobPassword   = "bob's long password"
	verifyClientName    = "Living-room TV"
	verifyInvalid       = "Check the code on your device and type it again. If your device shows a new code, use that one."
	verifyWarning       = "Only approve if you started this on a device you have with you. If someone sent you this code, choose Deny."
)

// verifyOpenID is how the confirm page lists openid: its built-in
// description, then its name.
const verifyOpenID = `<li class="described"><span class="scope-description">Know which account is yours</span> ` +
	`<small class="scope-name">openid</small></li>`

// verifyFixture is the verification pages on an in-memory store behind a
// real HTTP server, with users alice and bob and clients tv (named),
// nameless and xss (a script for a name).
type verifyFixture struct {
	t     *testing.T
	store *memstore.Store
	srv   *httptest.Server
	clock *webtest.Clock
}

func newVerifyFixture(t *testing.T, budgets web.Budgets) *verifyFixture {
	t.Helper()
	f := &verifyFixture{t: t, store: memstore.New(), clock: webtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))}
	webtest.CreateUser(t, f.store, store.User{ID: "u-alice", Username: "alice", CreatedAt: f.clock.Now()}, verifyAlicePassword)
	webtest.CreateUser(t, f.store, store.User{ID: "u-bob", Username: "bob", CreatedAt: f.clock.Now()}, verifyBobPassword)
	for _, c := range []store.Client{
		{ID: "tv", Name: verifyClientName, Scopes: []string{"openid", "lights:write"}},
		{ID: "nameless"},
		{ID: "xss", Name: `<script>alert("client")</script>`},
	} {
		c.Public, c.GrantTypes, c.CreatedAt = true, []string{device.GrantType}, f.clock.Now()
		if err := f.store.CreateClient(context.Background(), c); err != nil {
			t.Fatalf("create client: %v", err)
		}
	}
	format, err := usercode.ParseFormat("B")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	site := &web.Site{Store: f.store, Issuer: f.srv.URL, Limiter: ratelimit.NewMemory(), Now: f.clock.Now,
		Logger: slog.New(slog.DiscardHandler)}
	site.Mount(mux)
	pages := &device.Pages{Site: site, Store: f.store, UserCodeFormat: format, UserCodeLength: 8, UserCodeBudgets: budgets}
	pages.Mount(mux)
	return f
}

// grant seeds a pending device grant with a normalised user code and
// returns its device code hash. A negative ttl makes it expired.
func (f *verifyFixture) grant(client, userCode string, scopes []string, ttl time.Duration) string {
	f.t.Helper()
	token, err := secret.NewToken(rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	now := f.clock.Now()
	g := store.DeviceGrant{DeviceCodeHash: secret.Hash(token), UserCode: userCode, ClientID: client, Scopes: scopes,
		Interval: 5 * time.Second, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(ttl)}
	if err := f.store.CreateDeviceGrant(context.Background(), g); err != nil {
		f.t.Fatalf("create device grant: %v", err)
	}
	return g.DeviceCodeHash
}

// decide decides a seeded grant in the store, as bob.
func (f *verifyFixture) decide(userCode string, approve bool) {
	f.t.Helper()
	d := store.Decision{Approve: approve, UserID: "u-bob", AuthTime: f.clock.Now()}
	if _, err := f.store.DecideDeviceGrant(context.Background(), userCode, d, f.clock.Now()); err != nil {
		f.t.Fatalf("decide %s: %v", userCode, err)
	}
}

// state returns the stored grant of a user code.
func (f *verifyFixture) state(userCode string) store.DeviceGrant {
	f.t.Helper()
	g, err := f.store.DeviceGrantByUserCode(context.Background(), userCode)
	if err != nil {
		f.t.Fatalf("grant %s: %v", userCode, err)
	}
	return g
}

// signedIn returns a browser signed in as username.
func (f *verifyFixture) signedIn(username, password string) *webtest.Browser {
	f.t.Helper()
	b := webtest.NewBrowser(f.t, f.srv.URL, nil)
	b.SignIn(username, password)
	return b
}

// verifyEnter types code into the code-entry form and submits it.
func verifyEnter(b *webtest.Browser, code string) *webtest.Response {
	b.T.Helper()
	page := b.Get("/device")
	if page.StatusCode != http.StatusOK {
		b.T.Fatalf("GET /device: status %d", page.StatusCode)
	}
	return b.Post("/device", url.Values{"csrf_token": {webtest.CSRF(page.Body)}, "user_code": {code}})
}

// verifyChoose presses the button action ("approve" or "deny") on a
// confirmation page.
func verifyChoose(b *webtest.Browser, confirm *webtest.Response, action string) *webtest.Response {
	b.T.Helper()
	return b.Post("/device/decision", url.Values{
		"csrf_token": {webtest.CSRF(confirm.Body)},
		"user_code":  {webtest.Hidden(confirm.Body, "user_code")},
		"action":     {action},
	})
}

// TestDeviceNeedsSignIn checks DEV-11: a signed-out visitor is sent to sign
// in and brought back to the same link, ?code= included.
func TestVerifyDeviceNeedsSignIn(t *testing.T) {
	f := newVerifyFixture(t, web.Budgets{})
	f.grant("tv", "WDJBMJHT", nil, 10*time.Minute)
	for _, query := range []string{"?user_code=WDJB-MJHT", "?code=WDJB-MJHT", ""} {
		b := webtest.NewBrowser(t, f.srv.URL, nil)
		resp := b.Get("/device" + query)
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Path != "/signin" ||
			loc.Query().Get("return_to") != "/device"+query {
			t.Errorf("GET /device%s signed out: %d to %q, want 303 to /signin?return_to=/device%s",
				query, resp.StatusCode, resp.Header.Get("Location"), query)
		}
	}
	b := webtest.NewBrowser(t, f.srv.URL, nil)
	resp := b.Post("/device/decision", url.Values{"user_code": {"WDJBMJHT"}, "action": {"approve"}})
	if resp.StatusCode != http.StatusSeeOther || f.state("WDJBMJHT").State != store.DevicePending {
		t.Errorf("signed-out decision: status %d, state %s", resp.StatusCode, f.state("WDJBMJHT").State)
	}
}

// TestEntryPrefill checks DEV-12: the link's code pre-fills the form, which
// is labelled for a screen reader, and nothing is approved by the visit.
func TestVerifyEntryPrefill(t *testing.T) {
	f := newVerifyFixture(t, web.Budgets{})
	f.grant("tv", "WDJBMJHT", nil, 10*time.Minute)
	b := f.signedIn("alice", verifyAlicePassword)
	for _, query := range []string{"?user_code=WDJB-MJHT", "?code=WDJB-MJHT"} {
		page := b.Get("/device" + query)
		for _, want := range []string{
			`<label for="user_code">User code</label>`,
			`<input id="user_code" name="user_code"`,
			`value="WDJB-MJHT"`,
			`<button type="submit">Continue</button>`,
			`Signed in as <strong>alice</strong>`,
		} {
			if !strings.Contains(page.Body, want) {
				t.Errorf("GET /device%s lacks %s", query, want)
			}
		}
	}
	if got := f.state("WDJBMJHT").State; got != store.DevicePending {
		t.Errorf("state after visiting the link = %s, want pending", got)
	}
}

// TestCodeVariants checks DEV-08, DEV-11 and DEV-22: spelling variants of a
// code reach the same confirmation page, which names the client and scopes,
// warns, offers both buttons and never shows the device code.
func TestVerifyCodeVariants(t *testing.T) {
	f := newVerifyFixture(t, web.Budgets{})
	f.grant("tv", "WDJBMJHT", []string{"openid", "lights:write"}, 10*time.Minute)
	b := f.signedIn("alice", verifyAlicePassword)
	for _, typed := range []string{"wdjb-mjht", " WDJB MJHT ", "WDJBMJHT", "wDjB-mJhT"} {
		resp := verifyEnter(b, typed)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%q: status %d, want 200", typed, resp.StatusCode)
			continue
		}
		for _, want := range []string{"WDJB-MJHT", verifyClientName, verifyOpenID, "<li>lights:write</li>", verifyWarning,
			`<button type="submit" name="action" value="approve">Approve</button>`,
			`name="action" value="deny" class="secondary">Deny</button>`,
			`<form method="post" action="/device/decision">`} {
			if !strings.Contains(resp.Body, want) {
				t.Errorf("%q: confirmation page lacks %s", typed, want)
			}
		}
		if strings.Contains(resp.Body, "device_code") {
			t.Errorf("%q: DEV-22: page mentions device_code", typed)
		}
	}
	if got := f.state("WDJBMJHT").State; got != store.DevicePending {
		t.Errorf("state after confirmation page = %s, want pending (DEV-12)", got)
	}
}

// TestClientNameFallback shows the client id when the client has no name.
func TestVerifyClientNameFallback(t *testing.T) {
	f := newVerifyFixture(t, web.Budgets{})
	f.grant("nameless", "BCDFGHJK", nil, 10*time.Minute)
	resp := verifyEnter(f.signedIn("alice", verifyAlicePassword), "BCDF-GHJK")
	if !strings.Contains(resp.Body, "<dd>nameless</dd>") {
		t.Errorf("client id not shown for a nameless client")
	}
}

// TestInvalidCodesAlike checks DEV-09: unknown, expired, approved, denied,
// issued and malformed codes get the same status and the same page.
func TestVerifyInvalidCodesAlike(t *testing.T) {
	f := newVerifyFixture(t, web.Budgets{})
	f.grant("tv", "BBBBBBBB", nil, -time.Second)
	f.grant("tv", "CCCCCCCC", nil, 10*time.Minute)
	f.decide("CCCCCCCC", true)
	f.grant("tv", "DDDDDDDD", nil, 10*time.Minute)
	f.decide("DDDDDDDD", false)
	hash := f.grant("tv", "FFFFFFFF", nil, 10*time.Minute)
	f.decide("FFFFFFFF", true)
	g := store.Grant{ID: "grant-ffff", ClientID: "tv", UserID: "u-bob", Kind: device.GrantType,
		CreatedAt: f.clock.Now(), ExpiresAt: f.clock.Now().Add(time.Hour)}
	if _, err := f.store.RedeemDeviceGrant(t.Context(), hash, "tv", f.clock.Now(), storetest.Issue[store.DeviceGrant](&g, nil)); err != nil {
		t.Fatalf("redeem: %v", err)
	}
	b := f.signedIn("alice", verifyAlicePassword)
	tests := []struct{ name, code string }{
		{"unknown", "ZZZZ-ZZZZ"},
		{"expired", "BBBB-BBBB"},
		{"approved", "CCCC-CCCC"},
		{"denied", "DDDD-DDDD"},
		{"issued", "FFFF-FFFF"},
		{"too short", "ZZZZ"},
		{"outside alphabet", "AAAA-AAAA"},
		{"empty", ""},
	}
	var first string
	for _, tt := range tests {
		resp := verifyEnter(b, tt.code)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, verifyInvalid) ||
			!strings.Contains(resp.Body, "<h1>That code didn&#39;t work</h1>") {
			t.Errorf("%s: status %d, want 400 with the generic message", tt.name, resp.StatusCode)
		}
		// The field keeps what was typed; the rest of the page is the same.
		typed := `value="` + tt.code + `"`
		if !strings.Contains(resp.Body, typed) {
			t.Errorf("%s: the field does not hold the typed %q", tt.name, tt.code)
		}
		body := strings.Replace(resp.Body, typed, `value=""`, 1)
		if first == "" {
			first = body
		} else if body != first {
			t.Errorf("%s: page differs from %s's", tt.name, tests[0].name)
		}
	}
}

// TestDecision checks that Approve and Deny record the signed-in user's
// decision, with the session's auth time, and say what happens next (DEV-22).
func TestVerifyDecision(t *testing.T) {
	tests := []struct {
		action        string
		state         store.DeviceState
		title, detail string
	}{
		{"approve", store.DeviceApproved, "Device approved", "Living-room TV can now use your account."},
		{"deny", store.DeviceDenied, "Request denied", "Living-room TV was not given access to your account."},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			f := newVerifyFixture(t, web.Budgets{})
			f.grant("tv", "WDJBMJHT", nil, 10*time.Minute)
			b := f.signedIn("alice", verifyAlicePassword)
			resp := verifyChoose(b, verifyEnter(b, "wdjb-mjht"), tt.action)
			for _, want := range []string{tt.title, tt.detail, `<a class="button secondary" href="/account">Your devices and apps</a>`} {
				if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, want) {
					t.Errorf("status %d, want 200 with %q", resp.StatusCode, want)
				}
			}
			if strings.Contains(resp.Body, "device_code") {
				t.Errorf("DEV-22: result page mentions device_code")
			}
			g := f.state("WDJBMJHT")
			if g.State != tt.state || g.UserID != "u-alice" || !g.AuthTime.Equal(f.clock.Now()) {
				t.Errorf("stored grant = %s by %q at %v, want %s by u-alice at %v", g.State, g.UserID, g.AuthTime, tt.state, f.clock.Now())
			}
		})
	}
}

// TestDecidedCodeRefusedForOthers checks DEV-04: once user A approved a
// code, user B can neither see nor decide it, and A cannot decide again.
func TestVerifyDecidedCodeRefusedForOthers(t *testing.T) {
	f := newVerifyFixture(t, web.Budgets{})
	f.grant("tv", "WDJBMJHT", nil, 10*time.Minute)
	alice := f.signedIn("alice", verifyAlicePassword)
	bob := f.signedIn("bob", verifyBobPassword)
	bobConfirm := verifyEnter(bob, "WDJBMJHT") // Bob looks while it is still pending.
	aliceConfirm := verifyEnter(alice, "WDJBMJHT")
	if resp := verifyChoose(alice, aliceConfirm, "approve"); resp.StatusCode != http.StatusOK {
		t.Fatalf("alice approves: status %d", resp.StatusCode)
	}
	if resp := verifyEnter(bob, "WDJB-MJHT"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bob enters the approved code: status %d, want 400", resp.StatusCode)
	}
	if resp := verifyChoose(bob, bobConfirm, "deny"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bob denies the approved code: status %d, want 400", resp.StatusCode)
	}
	if resp := verifyChoose(alice, aliceConfirm, "deny"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("alice decides again: status %d, want 400", resp.StatusCode)
	}
	if g := f.state("WDJBMJHT"); g.State != store.DeviceApproved || g.UserID != "u-alice" {
		t.Errorf("grant = %s by %q, want approved by u-alice", g.State, g.UserID)
	}
}

// TestDecisionCSRF checks DEV-13: a decision without this session's token
// for this very code is refused with 403 and the grant stays pending.
func TestVerifyDecisionCSRF(t *testing.T) {
	f := newVerifyFixture(t, web.Budgets{})
	f.grant("tv", "WDJBMJHT", nil, 10*time.Minute)
	f.grant("tv", "BCDFGHJK", nil, 10*time.Minute)
	alice := f.signedIn("alice", verifyAlicePassword)
	bob := f.signedIn("bob", verifyBobPassword)
	entry := alice.Get("/device")
	tests := []struct{ name, token string }{
		{"missing token", ""},
		{"wrong token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"token from another session", webtest.CSRF(verifyEnter(bob, "WDJBMJHT").Body)},
		{"token for another code", webtest.CSRF(verifyEnter(alice, "BCDFGHJK").Body)},
		{"token of the entry form", webtest.CSRF(entry.Body)},
	}
	for _, tt := range tests {
		resp := alice.Post("/device/decision", url.Values{"csrf_token": {tt.token}, "user_code": {"WDJBMJHT"}, "action": {"approve"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tt.name, resp.StatusCode)
		}
		webtest.CheckSecurityHeaders(t, tt.name, resp)
	}
	if resp := alice.Post("/device", url.Values{"user_code": {"WDJBMJHT"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("code entry without token: status %d, want 403", resp.StatusCode)
	}
	for _, code := range []string{"WDJBMJHT", "BCDFGHJK"} {
		if got := f.state(code).State; got != store.DevicePending {
			t.Errorf("%s: state %s after refused posts, want pending", code, got)
		}
	}
}

// verifyDecisionToken computes a decision token the way the session's owner can:
// the key is their own cookie.
func verifyDecisionToken(sessionID, userCode string) string {
	mac := hmac.New(sha256.New, []byte(sessionID))
	mac.Write([]byte("device.decision\x00" + userCode))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// TestUserCodeRateLimit checks DEV-06 and DEV-07: budgets are spent before
// a code is evaluated, unknown codes count, success refunds nothing, and
// once a budget is spent even the right code gets 429 with Retry-After.
func TestVerifyUserCodeRateLimit(t *testing.T) {
	three := ratelimit.Budget{N: 3, Per: 10 * time.Minute}
	tests := []struct {
		name    string
		budgets web.Budgets
		users   []string // who makes the three spending attempts
		valid   bool     // whether the second attempt is a valid code
	}{
		{"DEV-06 per account", web.Budgets{PerAccount: three}, []string{"alice", "alice", "alice"}, false},
		{"DEV-07 success does not refund", web.Budgets{PerAccount: three}, []string{"alice", "alice", "alice"}, true},
		{"DEV-06 per IP across accounts", web.Budgets{PerIP: three}, []string{"alice", "bob", "bob"}, false},
		{"DEV-06 global", web.Budgets{Global: three}, []string{"bob", "alice", "bob"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newVerifyFixture(t, tt.budgets)
			f.grant("tv", "WDJBMJHT", nil, 10*time.Minute)
			f.grant("tv", "BCDFGHJK", nil, 10*time.Minute)
			browsers := map[string]*webtest.Browser{
				"alice": f.signedIn("alice", verifyAlicePassword),
				"bob":   f.signedIn("bob", verifyBobPassword),
			}
			for i, user := range tt.users {
				code, want := "ZZZZZZZZ", http.StatusBadRequest
				if tt.valid && i == 1 {
					code, want = "BCDFGHJK", http.StatusOK
				}
				if resp := verifyEnter(browsers[user], code); resp.StatusCode != want {
					t.Fatalf("attempt %d: status %d, want %d", i+1, resp.StatusCode, want)
				}
			}
			b := browsers[tt.users[2]]
			resp := verifyEnter(b, "WDJB-MJHT")
			verifyTooMany(t, "right code after the budget", resp)
			// A decision is a guess too: a self-made token does not get round the budget.
			resp = b.Post("/device/decision", url.Values{
				"csrf_token": {verifyDecisionToken(b.Cookie("grantd_session"), "WDJBMJHT")},
				"user_code":  {"WDJBMJHT"}, "action": {"approve"},
			})
			verifyTooMany(t, "decision after the budget", resp)
			if got := f.state("WDJBMJHT").State; got != store.DevicePending {
				t.Errorf("state %s, want pending", got)
			}
		})
	}
}

func verifyTooMany(t *testing.T, what string, resp *webtest.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%s: status %d, want 429", what, resp.StatusCode)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" || strings.Trim(ra, "0123456789") != "" {
		t.Errorf("%s: Retry-After = %q, want seconds", what, ra)
	}
	if strings.Contains(resp.Body, "WDJB-MJHT") || strings.Contains(resp.Body, verifyClientName) {
		t.Errorf("%s: the code was evaluated", what)
	}
	webtest.CheckSecurityHeaders(t, what, resp)
}

// TestVerifyPagesHeadersAndEscaping checks UI-01, UI-03, UI-09 on every
// device page, UI-04 for a user code and a client name carrying markup, and
// the 413 and bad-action pages.
func TestVerifyPagesHeadersAndEscaping(t *testing.T) {
	f := newVerifyFixture(t, web.Budgets{})
	f.grant("xss", "WDJBMJHT", []string{`"><img src=x onerror=alert(1)>`}, 10*time.Minute)
	b := f.signedIn("alice", verifyAlicePassword)
	xss := `"><script>alert(1)</script>`
	confirm := verifyEnter(b, "WDJB-MJHT")
	tests := []struct {
		name   string
		status int
		resp   *webtest.Response
	}{
		{"entry with markup in user_code", http.StatusOK, b.Get("/device?user_code=" + url.QueryEscape(xss))},
		{"entry with markup in code", http.StatusOK, b.Get("/device?code=" + url.QueryEscape(xss))},
		{"invalid code with markup", http.StatusBadRequest, verifyEnter(b, xss)},
		{"confirmation, markup in client name", http.StatusOK, confirm},
		{"neither approve nor deny", http.StatusBadRequest, verifyChoose(b, confirm, xss)},
		{"too large", http.StatusRequestEntityTooLarge, b.PostBody("/device", "user_code="+strings.Repeat("A", web.MaxFormBytes))},
		{"too large decision", http.StatusRequestEntityTooLarge, b.PostBody("/device/decision", "user_code="+strings.Repeat("A", web.MaxFormBytes))},
		{"result", http.StatusOK, verifyChoose(b, confirm, "deny")},
	}
	for _, tt := range tests {
		if tt.resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, tt.resp.StatusCode, tt.status)
		}
		webtest.CheckSecurityHeaders(t, tt.name, tt.resp)
		for _, bad := range []string{"<script", "<img", "://"} {
			if strings.Contains(tt.resp.Body, bad) {
				t.Errorf("%s: UI-04: page contains %q", tt.name, bad)
			}
		}
	}
}

// TestVerifyStoreFailure checks that a failing store gives 503 with
// Retry-After and never a false success.
func TestVerifyStoreFailure(t *testing.T) {
	f := newVerifyFixture(t, web.Budgets{})
	f.grant("tv", "WDJBMJHT", nil, 10*time.Minute)
	b := f.signedIn("alice", verifyAlicePassword)
	confirm := verifyEnter(b, "WDJBMJHT")
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	resp := verifyChoose(b, confirm, "approve")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		strings.Contains(resp.Body, "Device approved") {
		t.Errorf("decision on a closed store: status %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestVerifyPostWithoutSession: a form post that finds no signed-in session
// (it expired) sends the user to sign in and back to the page the form came
// from, never to the POST-only route itself.
func TestVerifyPostWithoutSession(t *testing.T) {
	f := newVerifyFixture(t, web.Budgets{})
	b := webtest.NewBrowser(t, f.srv.URL, nil)
	for _, path := range []string{"/device", "/device/decision"} {
		resp := b.Post(path, url.Values{"user_code": {"BBBBBBBB"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != web.SignInURL("/device") {
			t.Errorf("POST %s without a session: %d to %q, want 303 to %q", path, resp.StatusCode, resp.Header.Get("Location"), web.SignInURL("/device"))
		}
	}
}
