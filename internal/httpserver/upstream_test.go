package httpserver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/logtest"
	"github.com/grantd/grantd/internal/metrics"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/upstream"
	"github.com/grantd/grantd/internal/upstream/upstreamtest"
	"github.com/grantd/grantd/internal/web/webtest"
)

// fedEnv is a server on the wall clock (upstream ID tokens carry real
// times) with a real OpenID Connect provider, like a Cognito user pool,
// registered as the upstream "cognito".
type fedEnv struct {
	*env
	up *upstreamtest.Upstream
}

func newFedEnv(t testing.TB, vars map[string]string) *fedEnv {
	t.Helper()
	return fedEnvOn(t, newWallEnv(t, vars))
}

// fedEnvOn registers a real provider as the upstream "cognito" of e.
func fedEnvOn(t testing.TB, e *env) *fedEnv {
	t.Helper()
	up := upstreamtest.Start(t, upstreamtest.Options{RedirectURIs: []string{e.srv.URL + "/callback"}})
	_, err := admin.CreateUpstream(context.Background(), e.store, e.sealer, e.clock.Now(), admin.UpstreamSpec{
		ID: "cognito", Name: "Sign in with Lights Incorporated", Issuer: up.Issuer, ClientID: up.ClientID,
		ClientSecret: up.ClientSecret, Scopes: []string{"openid", "email"}, UsernameClaim: "cognito:username"})
	if err != nil {
		t.Fatalf("create upstream: %v", err)
	}
	return &fedEnv{env: e, up: up}
}

// signInUpstream follows the sign-in a protected page asked for: from the
// sign-in page's button to the upstream, where user signs in, and back
// through /callback to the page. It returns the page's response.
func (f *fedEnv) signInUpstream(t testing.TB, b *webtest.Browser, page string, user upstreamtest.User) *webtest.Response {
	t.Helper()
	resp := b.Get(page)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET %s signed out: %d, want 303 to sign in", page, resp.StatusCode)
	}
	signin := b.Get(strings.TrimPrefix(resp.Header.Get("Location"), b.Base))
	m := regexp.MustCompile(`<a class="button" href="([^"]+)">Sign in with Lights Incorporated</a>`).FindStringSubmatch(signin.Body)
	if m == nil {
		t.Fatalf("sign-in page has no button for the upstream:\n%s", signin.Body)
	}
	start := b.Get(htmlUnescape(m[1]))
	if start.StatusCode != http.StatusSeeOther {
		t.Fatalf("start of the upstream sign-in: %d %s", start.StatusCode, start.Body)
	}
	back := f.up.SignIn(t, start.Header.Get("Location"), user.Username, user.Password)
	done := b.Get(back.RequestURI())
	if done.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %d %s", done.StatusCode, done.Body)
	}
	return b.Get(done.Header.Get("Location"))
}

func htmlUnescape(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }

// confirmCode submits the code-entry page, pre-filled from the device's
// link, and returns the confirm page.
func confirmCode(t testing.TB, b *webtest.Browser, entry *webtest.Response) *webtest.Response {
	t.Helper()
	if entry.StatusCode != http.StatusOK {
		t.Fatalf("code entry page: %d %s", entry.StatusCode, entry.Body)
	}
	code := regexp.MustCompile(`name="user_code"[^>]*value="([^"]+)"`).FindStringSubmatch(entry.Body)
	if code == nil {
		t.Fatalf("code entry page has no pre-filled code:\n%s", entry.Body)
	}
	return b.Post("/device", url.Values{"csrf_token": {webtest.CSRF(entry.Body)}, "user_code": {code[1]}})
}

// approve approves the device whose code the confirm page shows.
func approve(t testing.TB, b *webtest.Browser, confirm *webtest.Response) *webtest.Response {
	t.Helper()
	if confirm.StatusCode != http.StatusOK || !strings.Contains(confirm.Body, "Approve this device?") {
		t.Fatalf("confirm page: %d %s", confirm.StatusCode, confirm.Body)
	}
	return b.Post("/device/decision", url.Values{"csrf_token": {webtest.CSRF(confirm.Body)},
		"user_code": {webtest.Hidden(confirm.Body, "user_code")}, "action": {"approve"}})
}

// TestUpstreamSignInDevice is issue 17's round trip for a local client: the
// user opens the device's link, signs in at the upstream (a Cognito-like
// provider), comes back to the confirm page, approves; the device gets
// grantd's own tokens, whose sub is the federated user's stable grantd id,
// the same at the next sign-in, and never the upstream's sub or e-mail.
func TestUpstreamSignInDevice(t *testing.T) {
	t.Parallel()
	f := newFedEnv(t, nil)
	id, secret := demoClient(f.env)
	var subs []string
	for range 2 {
		d := f.deviceAuthorize(id, secret, "openid")
		b := webtest.NewBrowser(t, f.srv.URL, nil)
		confirm := confirmCode(t, b, f.signInUpstream(t, b, "/device?user_code="+d.str("user_code"), upstreamtest.Alice()))
		if !strings.Contains(confirm.Body, upstreamtest.Alice().Username) {
			t.Errorf("confirm page does not show the upstream user name %q", upstreamtest.Alice().Username)
		}
		if r := approve(t, b, confirm); r.StatusCode != http.StatusOK {
			t.Fatalf("approve: %d", r.StatusCode)
		}
		tok := f.poll(id, secret, d.str("device_code"))
		if tok.status != 200 {
			t.Fatalf("poll after approval: %d %s", tok.status, tok.raw)
		}
		subs = append(subs, jwtSub(t, tok.str("access_token")))
	}
	alice := upstreamtest.Alice()
	if subs[0] != subs[1] || len(subs[0]) != 26 || subs[0] == alice.Subject {
		t.Errorf("subs %q: want one grantd user id (26 characters), not the upstream's sub %q", subs, alice.Subject)
	}
	u, err := f.store.User(context.Background(), subs[0])
	if err != nil || u.UpstreamID != "cognito" || u.UpstreamSubject != alice.Subject || u.DisplayName != alice.Username ||
		u.Email != alice.Email || u.PasswordHash != "" {
		t.Errorf("federated user %+v, %v", u, err)
	}
	if _, err := f.store.UserByUsername(context.Background(), alice.Username); err != store.ErrNotFound && err == nil {
		t.Errorf("a local user %q exists: nothing may link by name", alice.Username)
	}
}

// startUpstreamSignIn follows a protected page to the upstream's sign-in
// and returns the upstream's authorization URL.
func (f *fedEnv) startUpstreamSignIn(t *testing.T, b *webtest.Browser, page string) string {
	t.Helper()
	resp := b.Get(page)
	signin := b.Get(strings.TrimPrefix(resp.Header.Get("Location"), b.Base))
	m := regexp.MustCompile(`<a class="button" href="([^"]+)">`).FindStringSubmatch(signin.Body)
	if m == nil {
		t.Fatalf("no upstream button on the sign-in page:\n%s", signin.Body)
	}
	start := b.Get(htmlUnescape(m[1]))
	if start.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d", start.StatusCode)
	}
	return start.Header.Get("Location")
}

// signedOut reports whether b has no signed-in session.
func signedOut(b *webtest.Browser) bool { return b.Get("/device").StatusCode == http.StatusSeeOther }

// TestUpstreamPassthrough is the design's own behaviour for a passthrough
// client: the device receives the upstream's tokens of the user's sign-in,
// filtered by RESULT_TOKEN_SET, exactly once; refreshes and revokes them
// through grantd, which uses its own client credentials at the upstream;
// and the database never holds them, nor the upstream client secret, in
// clear (FED-05, GEN-03).
func TestUpstreamPassthrough(t *testing.T) {
	t.Parallel()
	// On SQLite: the database's files must hold no secret in clear.
	f := fedEnvOn(t, newSQLiteWallEnv(t, map[string]string{"RESULT_TOKEN_SET": "ACCESS+REFRESH+ID"}))
	secret := f.client(admin.ClientSpec{ID: "tv", Name: "Living-room TV", Scopes: []string{"openid"}, TokenMode: "passthrough"})
	d := f.deviceAuthorize("tv", secret, "openid")
	b := webtest.NewBrowser(t, f.srv.URL, nil)
	confirm := confirmCode(t, b, f.signInUpstream(t, b, "/device?user_code="+d.str("user_code"), upstreamtest.Alice()))
	if r := approve(t, b, confirm); r.StatusCode != http.StatusOK {
		t.Fatalf("approve: %d %s", r.StatusCode, r.Body)
	}
	// Concurrent polls of the approved code: the tokens go to exactly one.
	results := make(chan reply, 8)
	for range 8 {
		go func() { results <- f.poll("tv", secret, d.str("device_code")) }()
	}
	var tok reply
	got := 0
	for range 8 {
		if r := <-results; r.status == 200 {
			tok, got = r, got+1
		} else if r.str("error") != "invalid_grant" {
			t.Errorf("a losing poll: %d %s", r.status, r.raw)
		}
	}
	if got != 1 {
		t.Fatalf("%d of 8 concurrent polls got the upstream tokens, want exactly 1", got)
	}
	_, access := f.verifyUpstream(t, tok.str("access_token"))
	_, id := f.verifyUpstream(t, tok.str("id_token"))
	if access["token_use"] != "access" || id["token_use"] != "id" || id["cognito:username"] != "alice" ||
		tok.str("refresh_token") == "" || tok.str("token_type") != "Bearer" {
		t.Errorf("passthrough token set %s: want the upstream's access, ID and refresh tokens", tok.raw)
	}
	f.noSecretsInClear(t, f.up.ClientSecret, tok.str("access_token"), tok.str("refresh_token"), tok.str("id_token"))

	refreshed := f.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}},
		basic("tv", secret))
	if refreshed.status != 200 || refreshed.str("access_token") == "" || refreshed.str("access_token") == tok.str("access_token") {
		t.Fatalf("refresh through grantd: %d %s; want a new upstream access token", refreshed.status, refreshed.raw)
	}
	if refreshed.str("refresh_token") != "" {
		t.Errorf("refresh answered refresh_token %q: the upstream did not rotate it, so the device keeps its own", refreshed.str("refresh_token"))
	}
	other := f.client(admin.ClientSpec{ID: "other-tv", Scopes: []string{"openid"}, TokenMode: "passthrough"})
	wantError(t, f.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}},
		basic("other-tv", other)), 400, "invalid_grant")

	if r := f.post("/revoke", url.Values{"token": {tok.str("refresh_token")}}, basic("tv", secret)); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	wantError(t, f.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}},
		basic("tv", secret)), 400, "invalid_grant")
}

// verifyUpstream parses an upstream JWT (unverified: the test's provider
// signed it) and returns its header typ and claims.
func (f *fedEnv) verifyUpstream(t *testing.T, token string) (string, map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	var claims map[string]any
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		t.Fatalf("claims of %q: %v", token, err)
	}
	return "", claims
}

// noSecretsInClear fails t if any of values is in the database's files,
// or if there are none: the env must run on SQLite.
func (f *fedEnv) noSecretsInClear(t *testing.T, values ...string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(f.dir, "grantd.db*"))
	if len(files) == 0 {
		t.Fatalf("no database files in %s to look for secrets in: run the test on newSQLiteWallEnv", f.dir)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			if v != "" && bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds a secret in clear (%.12s…)", filepath.Base(name), v)
			}
		}
	}
}

// TestUpstreamPassthroughNeedsUpstreamUser: a local user approving a
// passthrough client's device is told it needs a sign-in at the provider,
// and nothing is approved.
func TestUpstreamPassthroughNeedsUpstreamUser(t *testing.T) {
	t.Parallel()
	f := newFedEnv(t, nil)
	secret := f.client(admin.ClientSpec{ID: "tv", Scopes: []string{"openid"}, TokenMode: "passthrough"})
	d := f.deviceAuthorize("tv", secret, "openid")
	f.user("carla")
	b := webtest.NewBrowser(t, f.srv.URL, nil)
	b.SignIn("carla", "correct horse battery")
	entry := b.Get("/device?user_code=" + d.str("user_code"))
	r := approve(t, b, confirmCode(t, b, entry))
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "sign in with your account at its sign-in provider") {
		t.Errorf("local user approving a passthrough device: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, f.poll("tv", secret, d.str("device_code")), 400, "authorization_pending")
}

// TestUpstreamCallbackRefusals: every callback that is not this browser's
// pending sign-in — no state, another browser's, one already used, one too
// old — and the user cancelling at the upstream get a page in plain words,
// never a 500, and no session (FED-01, FED-04).
func TestUpstreamCallbackRefusals(t *testing.T) {
	t.Parallel()
	f := newFedEnv(t, nil)
	alice := upstreamtest.Alice()
	t.Run("cancelled at the upstream", func(t *testing.T) {
		b := webtest.NewBrowser(t, f.srv.URL, nil)
		back := f.up.Cancel(t, f.startUpstreamSignIn(t, b, "/device"))
		r := b.Get(back.RequestURI())
		if r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "You did not sign in at Sign in with Lights Incorporated") {
			t.Errorf("cancelled: %d %s", r.StatusCode, r.Body)
		}
		if !signedOut(b) {
			t.Error("signed in after a cancelled sign-in")
		}
	})
	cases := []struct {
		name string
		back func(t *testing.T, b *webtest.Browser) string // the callback URI to visit
	}{
		{"no state", func(t *testing.T, b *webtest.Browser) string {
			u := f.up.SignIn(t, f.startUpstreamSignIn(t, b, "/device"), alice.Username, alice.Password)
			q := u.Query()
			q.Del("state")
			return u.Path + "?" + q.Encode()
		}},
		{"another browser's state", func(t *testing.T, b *webtest.Browser) string {
			other := webtest.NewBrowser(t, f.srv.URL, nil)
			f.startUpstreamSignIn(t, b, "/device") // b's own pending sign-in
			return f.up.SignIn(t, f.startUpstreamSignIn(t, other, "/device"), alice.Username, alice.Password).RequestURI()
		}},
		{"replayed", func(t *testing.T, b *webtest.Browser) string {
			back := f.up.SignIn(t, f.startUpstreamSignIn(t, b, "/device"), alice.Username, alice.Password).RequestURI()
			cookies := b.Client.Jar.Cookies(mustURL(t, f.srv.URL))
			if r := b.Get(back); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("first callback: %d", r.StatusCode)
			}
			b.Post("/signout", url.Values{"csrf_token": {webtest.CSRF(b.Get("/device").Body)}})
			b.Client.Jar.SetCookies(mustURL(t, f.srv.URL), cookies) // the pending sign-in's cookie, again
			return back
		}},
		{"expired", func(t *testing.T, b *webtest.Browser) string {
			back := f.up.SignIn(t, f.startUpstreamSignIn(t, b, "/device"), alice.Username, alice.Password).RequestURI()
			f.clock.Advance(11 * time.Minute)
			return back
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := webtest.NewBrowser(t, f.srv.URL, nil)
			r := b.Get(tc.back(t, b))
			if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "expired or was already used") {
				t.Errorf("%s: %d %s", tc.name, r.StatusCode, r.Body)
			}
			if !signedOut(b) {
				t.Errorf("%s: signed in", tc.name)
			}
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUpstreamDown: an upstream that stops answering mid-flow gives the
// user a clear page and leaves no half-made session; a passthrough
// refresh while it is down is 503 with Retry-After, not invalid_grant
// (REL-17).
func TestUpstreamDown(t *testing.T) {
	t.Parallel()
	f := newFedEnv(t, nil)
	secret := f.client(admin.ClientSpec{ID: "tv", Scopes: []string{"openid"}, TokenMode: "passthrough"})
	d := f.deviceAuthorize("tv", secret, "openid")
	b := webtest.NewBrowser(t, f.srv.URL, nil)
	confirm := confirmCode(t, b, f.signInUpstream(t, b, "/device?user_code="+d.str("user_code"), upstreamtest.Alice()))
	approve(t, b, confirm)
	tok := f.poll("tv", secret, d.str("device_code"))
	if tok.status != 200 {
		t.Fatalf("poll: %d %s", tok.status, tok.raw)
	}

	late := webtest.NewBrowser(t, f.srv.URL, nil)
	back := f.up.SignIn(t, f.startUpstreamSignIn(t, late, "/device"), "bob", upstreamtest.Bob().Password)
	f.up.Stop()
	r := late.Get(back.RequestURI())
	if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" ||
		!strings.Contains(r.Body, "could not reach") {
		t.Errorf("callback with the upstream down: %d %s", r.StatusCode, r.Body)
	}
	if !signedOut(late) {
		t.Error("a half-made session after the upstream went down")
	}
	refreshed := f.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}},
		basic("tv", secret))
	if refreshed.status != 503 || refreshed.header.Get("Retry-After") == "" {
		t.Errorf("passthrough refresh with the upstream down: %d %s; want 503 with Retry-After", refreshed.status, refreshed.raw)
	}
}

// TestUpstreamOnly: with GRANTD_LOCAL_SIGN_IN=false and one upstream, the
// sign-in page goes straight to it, and a password post is refused.
func TestUpstreamOnly(t *testing.T) {
	t.Parallel()
	f := newFedEnv(t, map[string]string{"GRANTD_LOCAL_SIGN_IN": "false"})
	b := webtest.NewBrowser(t, f.srv.URL, nil)
	r := b.Get("/signin?return_to=%2Faccount")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/signin/upstream/cognito?return_to=%2Faccount" {
		t.Errorf("GET /signin: %d to %q; want 303 straight to the one upstream", r.StatusCode, r.Header.Get("Location"))
	}
	f.user("carla")
	page := b.Get("/signin?return_to=%2Fdevice") // rendered for its CSRF token only when two upstreams exist; post anyway
	form := url.Values{"csrf_token": {webtest.CSRF(page.Body)}, "username": {"carla"}, "password": {"correct horse battery"}}
	if r := b.Post("/signin", form); r.StatusCode != http.StatusForbidden {
		t.Errorf("password sign-in with GRANTD_LOCAL_SIGN_IN=false: %d, want 403", r.StatusCode)
	}
	if _, err := admin.CreateUpstream(context.Background(), f.store, f.sealer, f.clock.Now(), admin.UpstreamSpec{
		ID: "dex", Name: "Sign in with Dex", Issuer: f.up.Issuer, ClientID: f.up.ClientID}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute) // the directory re-reads the upstreams
	page = b.Get("/signin")
	if page.StatusCode != 200 || !strings.Contains(page.Body, "Sign in with Dex") || strings.Contains(page.Body, `name="password"`) {
		t.Errorf("two upstreams and no local sign-in: %d %s", page.StatusCode, page.Body)
	}
}

// TestUpstreamMetrics: every call to the upstream is counted and timed by
// upstream, call and outcome — discovery, keys and code exchange at
// sign-in, refreshes of passthrough tokens, and a refresh that found the
// upstream down (GEN-04: no label carries a token or a user).
func TestUpstreamMetrics(t *testing.T) {
	t.Parallel()
	e := &env{t: t, clock: &clock{now: time.Now(), wall: true, start: time.Now()}, logs: &logtest.Buffer{},
		dir: t.TempDir(), metrics: metrics.New(metrics.Options{})}
	e.start(nil)
	f := fedEnvOn(t, e)
	secret := f.client(admin.ClientSpec{ID: "tv", Scopes: []string{"openid"}, TokenMode: "passthrough"})
	d := f.deviceAuthorize("tv", secret, "openid")
	b := webtest.NewBrowser(t, f.srv.URL, nil)
	approve(t, b, confirmCode(t, b, f.signInUpstream(t, b, "/device?user_code="+d.str("user_code"), upstreamtest.Alice())))
	tok := f.poll("tv", secret, d.str("device_code"))
	if tok.status != 200 {
		t.Fatalf("poll: %d %s", tok.status, tok.raw)
	}
	rt := tok.str("refresh_token")
	refresh := func() reply {
		return f.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, basic("tv", secret))
	}
	if r := refresh(); r.status != 200 {
		t.Fatalf("passthrough refresh: %d %s", r.status, r.raw)
	} else if next := r.str("refresh_token"); next != "" {
		rt = next // the upstream rotated it
	}
	f.up.Stop()
	if r := refresh(); r.status != 503 {
		t.Fatalf("passthrough refresh with the upstream down: %d %s", r.status, r.raw)
	}

	samples, raw := f.scrape()
	count := func(call, outcome string) float64 {
		return samples[`grantd_upstream_request_duration_seconds_count{call="`+call+`",outcome="`+outcome+
			`",upstream="cognito"}`]
	}
	for _, c := range []struct {
		call, outcome string
	}{
		{upstream.CallDiscovery, "2xx"}, {upstream.CallKeys, "2xx"}, {upstream.CallToken, "2xx"},
		{upstream.CallRefresh, "2xx"}, {upstream.CallRefresh, "error"},
	} {
		if count(c.call, c.outcome) < 1 {
			t.Errorf("no %s call with outcome %s counted; upstream metrics:\n%s", c.call, c.outcome, grepLines(raw, "grantd_upstream"))
		}
	}
	for _, secretValue := range []string{rt, tok.str("access_token"), upstreamtest.Alice().Subject} {
		if strings.Contains(raw, secretValue) {
			t.Errorf("the metrics carry %q", secretValue)
		}
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
