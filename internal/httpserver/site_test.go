package httpserver_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/web/webtest"
)

// TestSiteBrand: the operator's name, logo, accent and help page are on
// every page — the name in the title and the mark, the logo from the one
// origin the CSP then allows for images, the accent in the hashed
// stylesheet (never inline), the help link sending no referrer — and a
// server without them says grantd and allows no other image source.
func TestSiteBrand(t *testing.T) {
	t.Parallel()
	branded := newEnv(t, map[string]string{
		"GRANTD_SITE_NAME":        "Lights <Incorporated>",
		"GRANTD_SITE_LOGO_URL":    "https://cdn.lights.example/logo.svg",
		"GRANTD_SITE_ACCENT":      "#FB0",
		"GRANTD_SITE_SUPPORT_URL": "https://help.lights.example/privacy",
	})
	plain := newEnv(t, nil)
	bb, pb := webtest.NewBrowser(t, branded.srv.URL, nil), webtest.NewBrowser(t, plain.srv.URL, nil)
	page, plainPage := bb.Get("/signin"), pb.Get("/signin")
	for _, want := range []string{
		"<title>Sign in · Lights &lt;Incorporated&gt;</title>",
		`<p class="brand"><a href="/"><img src="https://cdn.lights.example/logo.svg" alt="" width="32" height="32"><span>Lights &lt;Incorporated&gt;</span></a></p>`,
		"Sign in to your Lights &lt;Incorporated&gt; account to continue.",
		`<a href="https://help.lights.example/privacy" rel="noopener noreferrer">Help and privacy</a>`,
	} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("branded sign-in page lacks %s", want)
		}
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://cdn.lights.example;") {
		t.Errorf("branded CSP %q: want the logo's origin in img-src", csp)
	}
	webtest.CheckSecurityHeaders(t, "branded page", page)
	for _, want := range []string{"<title>Sign in · grantd</title>", `<span>grantd</span>`} {
		if !strings.Contains(plainPage.Body, want) {
			t.Errorf("unbranded sign-in page lacks %s", want)
		}
	}
	if strings.Contains(plainPage.Body, "<img") || strings.Contains(plainPage.Body, "<footer") {
		t.Errorf("unbranded page shows a logo or a help link")
	}
	webtest.CheckSecurityHeaders(t, "unbranded page", plainPage)
	for _, p := range []*webtest.Response{page, plainPage} {
		if strings.Contains(p.Body, "style=") || strings.Contains(p.Body, "<style") {
			t.Errorf("a page has inline style")
		}
	}

	css := regexp.MustCompile(`href="(/static/grantd\.css\?v=[0-9a-f]+)"`)
	brandedCSS, plainCSS := css.FindStringSubmatch(page.Body), css.FindStringSubmatch(plainPage.Body)
	if brandedCSS == nil || plainCSS == nil || brandedCSS[1] == plainCSS[1] {
		t.Fatalf("stylesheet links %v and %v: want two different hashed URLs", brandedCSS, plainCSS)
	}
	sheet := bb.Get(brandedCSS[1])
	if !strings.Contains(sheet.Body, "--accent: #ffbb00; --accent-text: #111827;") {
		t.Errorf("branded stylesheet lacks the accent (and dark text on it)")
	}
	if strings.Contains(pb.Get(plainCSS[1]).Body, "GRANTD_SITE_ACCENT") {
		t.Errorf("unbranded stylesheet has an accent block")
	}
	if icon := bb.Get("/favicon.ico"); !strings.Contains(icon.Body, `fill="#ffbb00"`) {
		t.Errorf("the icon is not in the accent colour")
	}
}

// TestStartPage: / is a small page that says what the server is and leads
// to code entry and the account page, and the site has an icon; other
// unknown paths are still the router's 404.
func TestStartPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"GRANTD_SITE_NAME": "Lights Incorporated"})
	b := webtest.NewBrowser(t, e.srv.URL, nil)
	home := b.Get("/")
	for _, want := range []string{
		"<h1>Lights Incorporated</h1>",
		"Lights Incorporated connects your TVs, speakers and other devices",
		`<a class="button" href="/device">Connect a device</a>`,
		`<a class="button secondary" href="/account">Your devices and apps</a>`,
		`<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">`,
	} {
		if home.StatusCode != http.StatusOK || !strings.Contains(home.Body, want) {
			t.Errorf("GET /: status %d, lacks %s", home.StatusCode, want)
		}
	}
	webtest.CheckSecurityHeaders(t, "start page", home)
	for _, path := range []string{"/favicon.ico", "/static/favicon.svg"} {
		icon := b.Get(path)
		if icon.StatusCode != http.StatusOK || icon.Header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(icon.Body, "<svg") {
			t.Errorf("GET %s: %d %q", path, icon.StatusCode, icon.Header.Get("Content-Type"))
		}
	}
	if nf := b.Get("/no-such-page"); nf.StatusCode != http.StatusNotFound {
		t.Errorf("GET /no-such-page: %d, want 404", nf.StatusCode)
	}
}

// TestAccountLastUsed: /account shows when a device last used its grant —
// its redemption, then its refreshes — to the day.
func TestAccountLastUsed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	tokens := e.approvedTokens(id, secret, "lights:read", "alice")
	b := webtest.NewBrowser(t, e.srv.URL, nil)
	b.SignIn("alice", "correct horse battery")
	lastUsed := func() string {
		t.Helper()
		page := b.Get("/account").Body
		_, after, ok := strings.Cut(page, "<dt>Last used</dt>\n<dd>")
		if !ok {
			t.Fatalf("account page has no last use:\n%s", page)
		}
		used, _, _ := strings.Cut(after, "</dd>")
		return used
	}
	if got := lastUsed(); got != "in the last 24 hours" {
		t.Errorf("just redeemed: last used %q", got)
	}
	e.clock.Advance(3*24*time.Hour + time.Hour)
	b.SignIn("alice", "correct horse battery") // the session of an hour has ended
	if got := lastUsed(); got != "3 days ago" {
		t.Errorf("three days on: last used %q", got)
	}
	r := e.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.str("refresh_token")}}, basic(id, secret))
	if r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	if got := lastUsed(); got != "in the last 24 hours" {
		t.Errorf("just refreshed: last used %q", got)
	}
}
