package httpserver_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/store"
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

func newFedEnv(t *testing.T, vars map[string]string) *fedEnv {
	t.Helper()
	e := newWallEnv(t, vars)
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
func (f *fedEnv) signInUpstream(t *testing.T, b *webtest.Browser, page string, user upstreamtest.User) *webtest.Response {
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
func confirmCode(t *testing.T, b *webtest.Browser, entry *webtest.Response) *webtest.Response {
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
func approve(t *testing.T, b *webtest.Browser, confirm *webtest.Response) *webtest.Response {
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
