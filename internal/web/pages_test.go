package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/web"
	"github.com/grantd/grantd/internal/web/webtest"
)

// TestSecurityHeaders checks UI-01, UI-02, UI-03 and UI-09 on every kind of
// page the site sends: forms, errors, redirects, limits.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, false, func(s *web.Site) {
		s.SignInBudgets.Global = ratelimit.Budget{N: 1, Per: time.Hour}
	})
	b := f.browser()
	form := signInForm(b, "", "alice", "wrong")
	tests := []struct {
		name   string
		status int
		do     func() *webtest.Response
	}{
		{"sign-in form", http.StatusOK, func() *webtest.Response { return b.Get("/signin") }},
		{"failed sign-in", http.StatusBadRequest, func() *webtest.Response { return b.Post("/signin", form) }},
		{"rate limited", http.StatusTooManyRequests, func() *webtest.Response { return b.Post("/signin", form) }},
		{"CSRF refused", http.StatusForbidden, func() *webtest.Response { return b.Post("/signin", url.Values{}) }},
		{"too large", http.StatusRequestEntityTooLarge, func() *webtest.Response {
			return b.PostBody("/signin", "csrf_token=x&username="+strings.Repeat("a", web.MaxFormBytes))
		}},
		{"redirect to sign-in", http.StatusSeeOther, func() *webtest.Response { return b.Get("/device") }},
		{"panic", http.StatusInternalServerError, func() *webtest.Response { return b.Get("/panic") }},
		{"sign-out without token", http.StatusForbidden, func() *webtest.Response { return b.Post("/signout", url.Values{}) }},
	}
	for _, tt := range tests {
		resp := tt.do()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
		webtest.CheckSecurityHeaders(t, tt.name, resp)
		if strings.Contains(resp.Body, "://") || strings.Contains(resp.Body, "<script") || strings.Contains(resp.Body, "style=") {
			t.Errorf("%s: page has an external URL, a script or inline style", tt.name)
		}
	}
}

// TestStylesheet checks that the CSS is served from this site, cacheable,
// and linked with a content version.
func TestStylesheet(t *testing.T) {
	f := newFixture(t, false, nil)
	b := f.browser()
	page := b.Get("/signin")
	const link = `<link rel="stylesheet" href="/static/grantd.css?v=`
	if !strings.Contains(page.Body, link) {
		t.Fatalf("sign-in page does not link the stylesheet")
	}
	resp := b.Get(web.StylesheetPath)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("GET %s: %d %q", web.StylesheetPath, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("stylesheet Cache-Control = %q, want a long max-age", cc)
	}
	if !strings.Contains(resp.Body, "prefers-color-scheme: dark") {
		t.Errorf("stylesheet has no dark mode")
	}
}

// TestPageMarkup checks the sign-in form's labels and button, which a
// browser test and a screen reader both rely on.
func TestPageMarkup(t *testing.T) {
	f := newFixture(t, false, nil)
	body := f.browser().Get("/signin").Body
	for _, want := range []string{
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<label for="username">Username</label>`,
		`<input id="username" name="username"`,
		`<label for="password">Password</label>`,
		`<input id="password" name="password" type="password"`,
		`<button type="submit">Sign in</button>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}
}

// TestNoXSS checks UI-04: payloads in return_to and username come back
// escaped, never as markup.
func TestNoXSS(t *testing.T) {
	payloads := []string{
		`<script>alert(1)</script>`,
		`"><img src=x onerror=alert(1)>`,
		`'><svg/onload=alert(1)>`,
		`</textarea><script>alert(1)</script>`,
	}
	f := newFixture(t, false, nil)
	for _, p := range payloads {
		b := f.browser()
		pages := map[string]*webtest.Response{
			"return_to": b.Get("/signin?return_to=" + url.QueryEscape("/"+p)),
		}
		form := signInForm(b, "", p, "wrong")
		form.Set("return_to", "/"+p)
		pages["username"] = b.Post("/signin", form)
		for where, resp := range pages {
			for _, bad := range []string{p, "<script", "<img", "<svg"} {
				if strings.Contains(resp.Body, bad) {
					t.Errorf("payload %q in %s: page contains %q unescaped", p, where, bad)
				}
			}
		}
	}
}

// TestPanicPage checks that a panic becomes a 500 page that shows nothing
// of the cause.
func TestPanicPage(t *testing.T) {
	f := newFixture(t, false, nil)
	resp := f.browser().Get("/panic")
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(resp.Body, "secret internal detail") {
		t.Errorf("panic: status %d, body leaks cause: %v", resp.StatusCode, strings.Contains(resp.Body, "secret"))
	}
}

// TestCrossOriginPost checks the http.CrossOriginProtection layer: a
// browser's cross-site post is refused before any handler runs.
func TestCrossOriginPost(t *testing.T) {
	f := newFixture(t, false, nil)
	tests := []struct{ header, value string }{
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "https://evil.example"},
	}
	for _, tt := range tests {
		b := f.browser()
		form := signInForm(b, "", "alice", alicePassword)
		req, _ := http.NewRequest(http.MethodPost, b.Base+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(tt.header, tt.value)
		resp := b.Do(req)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s: status %d, want 403", tt.header, tt.value, resp.StatusCode)
		}
		webtest.CheckSecurityHeaders(t, "cross-origin 403", resp)
	}
}

// TestSignInFormAction: the sign-in page leaves form-action out, because
// Chrome applies it to the redirects after the post, and a sign-in for
// /authorize ends at a client's redirect URI; other pages keep 'self'.
func TestSignInFormAction(t *testing.T) {
	f := newFixture(t, false, nil)
	b := f.browser()
	if csp := b.Get("/signin").Header.Get("Content-Security-Policy"); strings.Contains(csp, "form-action") {
		t.Errorf("sign-in CSP %q has form-action", csp)
	}
	if csp := b.Post("/signout", url.Values{}).Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self';") {
		t.Errorf("error page CSP %q, want form-action 'self'", csp)
	}
}

// TestErrorPageLink: the error page's way on depends on the page that
// failed; after an /authorize error it offers no link, since the request's
// redirect URI may be what failed and /device would be the wrong flow: its
// messages say to go back to the application, once.
func TestErrorPageLink(t *testing.T) {
	f := newFixture(t, false, nil)
	for _, tc := range []struct {
		path, want, notWant string
	}{
		{"/device", `href="/device">Start over</a>`, ""},
		{"/device/decision", `href="/device">Start over</a>`, ""},
		{"/signin", `href="/">Go to the start page</a>`, "Start over"},
		{"/account", `href="/account">Back to your devices and apps</a>`, "Start over"},
		{"/account/revoke", `href="/account">Back to your devices and apps</a>`, "Start over"},
		{"/authorize", "</h1>", `class="button`},
		{"/authorize/consent", "</h1>", `class="button`},
		{"/authorizex", `href="/">Go to the start page</a>`, ""},
	} {
		rec := httptest.NewRecorder()
		f.site.Error(rec, httptest.NewRequest(http.MethodGet, tc.path, nil), http.StatusBadRequest, web.Msg("error.choose"))
		body := rec.Body.String()
		if rec.Code != http.StatusBadRequest || !strings.Contains(body, tc.want) || !strings.Contains(body, "Choose Approve or Deny.") ||
			!strings.Contains(body, "<h1>That didn&#39;t work</h1>") || (tc.notWant != "" && strings.Contains(body, tc.notWant)) {
			t.Errorf("error page after %s: %d, want it to contain %q and not %q:\n%s", tc.path, rec.Code, tc.want, tc.notWant, body)
		}
	}
}

// TestTooManyRequestsSaysWhen: a 429 page is headed in plain words and
// says when to try again, from the same wait as its Retry-After, in the
// page's language.
func TestTooManyRequestsSaysWhen(t *testing.T) {
	f := newFixture(t, false, nil)
	for _, tt := range []struct {
		wait       time.Duration
		lang       string
		retryAfter string
		want       []string
	}{
		{40 * time.Second, "", "40", []string{"<h1>Too many attempts</h1>", "You can try again in 40 seconds."}},
		{7*time.Minute + 30*time.Second, "en-GB", "450", []string{"You can try again in 8 minutes."}},
		{2 * time.Hour, "en", "7200", []string{"You can try again in 2 hours."}},
		{1500 * time.Millisecond, "fr", "2", []string{"<h1>Trop de tentatives</h1>", "Vous pourrez réessayer dans 2 secondes."}},
		{time.Minute, "de", "60", []string{"<h1>Zu viele Versuche</h1>", "Sie können es in 60 Sekunden erneut versuchen."}},
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/signin", nil)
		r.Header.Set("Accept-Language", tt.lang)
		f.site.TooManyRequests(rec, r, tt.wait)
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != tt.retryAfter {
			t.Errorf("wait %v: %d, Retry-After %q, want 429 and %s", tt.wait, rec.Code, rec.Header().Get("Retry-After"), tt.retryAfter)
		}
		for _, want := range tt.want {
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("wait %v (%s): page lacks %q", tt.wait, tt.lang, want)
			}
		}
		if strings.Contains(rec.Body.String(), "Wait a while") || strings.Contains(rec.Body.String(), "Too Many Requests") {
			t.Errorf("wait %v: the page still says the old words", tt.wait)
		}
	}
}
