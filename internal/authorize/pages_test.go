package authorize_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/grantd/grantd/internal/web/webtest"
)

// TestAuthorizeNoOpenRedirect checks AZ-01 and AZ-19: whatever parameter
// carries another site's address, every Location is either this site's own
// path or the client's registered URI, signed in or not, and the sign-in
// page's return_to stays local.
func TestAuthorizeNoOpenRedirect(t *testing.T) {
	evil := []string{"https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)",
		"%2F%2Fevil.example", "https://app.example.evil.example/cb", "https://app.example/cb@evil.example"}
	params := []string{"redirect_uri", "state", "scope", "nonce", "resource", "return_to", "next",
		"request_uri", "response_mode", "prompt", "client_id", "auth_since"}
	f := newFixture(t)
	signedIn := f.signedIn("alice")
	f.consent("u-alice", "pub", allScopes...)
	for _, name := range params {
		for _, value := range evil {
			for _, b := range []*webtest.Browser{f.browser(), signedIn} {
				what := name + "=" + value
				resp := b.Get(authz(with(pubRequest(), name, value)))
				checkLocation(t, what, resp)
				loc := location(t, resp)
				if loc == nil || loc.Path != "/signin" {
					continue
				}
				page := b.Get(resp.Header.Get("Location"))
				if back := webtest.Hidden(page.Body, "return_to"); !strings.HasPrefix(back, "/authorize?") {
					t.Errorf("%s: sign-in return_to %q, want /authorize?…", what, back)
				}
			}
		}
	}
}

// checkLocation fails unless resp's Location, if any, is a local path or
// begins with a registered redirect URI.
func checkLocation(t *testing.T, what string, resp *webtest.Response) {
	t.Helper()
	raw := resp.Header.Get("Location")
	switch {
	case raw == "":
	case strings.HasPrefix(raw, pubURI+"?"), strings.HasPrefix(raw, "https://xss.example/cb?"):
	case strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") && !strings.Contains(raw, "\\"):
	default:
		t.Errorf("%s: AZ-19: Location %q leaves the site", what, raw)
	}
}

// TestAuthorizeEscaping checks UI-04 and AZ-13: markup in any parameter,
// or in a client's name, never comes back unescaped in a page, and values
// echoed in Location are URL-encoded.
func TestAuthorizeEscaping(t *testing.T) {
	payloads := []string{`"><script>alert(1)</script>`, `'><img src=x onerror=alert(1)>`, "\"\r\nSet-Cookie: x=1"}
	params := []string{"state", "client_id", "redirect_uri", "scope", "nonce", "resource", "login_hint",
		"prompt", "max_age", "response_type", "code_challenge", "error", "error_description"}
	f := newFixture(t)
	b := f.signedIn("alice")
	for _, name := range params {
		for _, payload := range payloads {
			what := name + " with markup"
			resp := b.Get(authz(with(pubRequest(), name, payload)))
			checkEscaped(t, what, resp)
			if resp.StatusCode == http.StatusOK {
				checkEscaped(t, what+", consent POST", b.Post("/authorize/consent", with(consentForm(t, resp), "action", payload)))
			}
		}
	}
	xss := with(pubRequest(), "client_id", "xss", "redirect_uri", "https://xss.example/cb", "state", payloads[0])
	page := b.Get(authz(xss))
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "&lt;script&gt;alert(&#34;client&#34;)&lt;/script&gt;") {
		t.Errorf("client with markup for a name: status %d, want the consent page with the name escaped", page.StatusCode)
	}
	checkEscaped(t, "client with markup for a name", page)
	resp := choose(t, b, page, "approve")
	if q, _ := url.ParseQuery(strings.TrimPrefix(resp.Header.Get("Location"), "https://xss.example/cb?")); q.Get("state") != payloads[0] {
		t.Errorf("AZ-13: state %q came back as %q", payloads[0], q.Get("state"))
	}
	checkEscaped(t, "approve with markup in state", resp)
}

// checkEscaped fails when a page holds markup from a payload or a Location
// holds characters that are not URL-encoded.
func checkEscaped(t *testing.T, what string, resp *webtest.Response) {
	t.Helper()
	for _, bad := range []string{"<script", "<img", "onerror=alert(1)>"} {
		if strings.Contains(resp.Body, bad) {
			t.Errorf("%s: UI-04: page contains %q", what, bad)
		}
	}
	if loc := resp.Header.Get("Location"); strings.ContainsAny(loc, "<>\"' \r\n") {
		t.Errorf("%s: AZ-13: Location %q is not URL-encoded", what, loc)
	}
	if resp.Header.Get("Set-Cookie") != "" && strings.Contains(resp.Header.Get("Set-Cookie"), "x=1") {
		t.Errorf("%s: header injection", what)
	}
	checkLocation(t, what, resp)
}

// TestAuthorizeSecurityHeaders checks UI-01, UI-02, UI-03 and UI-09 on every
// answer of the package's routes, and AZ-17: no CORS. The consent page's CSP
// also lets its form's redirect reach the client (form-action).
func TestAuthorizeSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	anon := f.browser()
	b := f.signedIn("alice")
	consent := b.Get(authz(pubRequest()))
	tests := []struct {
		name string
		resp *webtest.Response
	}{
		{"error page", b.Get("/authorize?client_id=nobody")},
		{"error redirect", b.Get(authz(with(pubRequest(), "response_type", "token")))},
		{"sign-in redirect", anon.Get(authz(pubRequest()))},
		{"code redirect", choose(t, b, consent, "approve")},
		{"CSRF failure", b.Post("/authorize/consent", url.Values{"client_id": {"pub"}})},
		{"account page", b.Get("/account")},
		{"account, signed out", anon.Get("/account")},
		{"revoke with a wrong token", b.Post("/account/revoke", url.Values{"client_id": {"pub"}, "csrf_token": {"x"}})},
		{"too large", b.PostBody("/authorize", "client_id="+strings.Repeat("A", 70<<10))},
	}
	for _, tt := range tests {
		webtest.CheckSecurityHeaders(t, tt.name, tt.resp)
		if got := tt.resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("%s: AZ-17: Access-Control-Allow-Origin %q", tt.name, got)
		}
	}
	const csp = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' https://app.example; frame-ancestors 'none'; base-uri 'none'"
	if got := consent.Header.Get("Content-Security-Policy"); got != csp {
		t.Errorf("consent page CSP\n got %q\nwant %q", got, csp)
	}
	for _, h := range []string{"X-Frame-Options", "Referrer-Policy", "Cache-Control", "X-Content-Type-Options"} {
		if consent.Header.Get(h) == "" {
			t.Errorf("consent page lacks %s", h)
		}
	}
	native := b.Get(authz(with(pubRequest(), "client_id", "native", "redirect_uri", "com.example.app:/oauth2redirect")))
	if got := native.Header.Get("Content-Security-Policy"); !strings.Contains(got, "form-action 'self' com.example.app:;") {
		t.Errorf("native client's consent page CSP %q, want its scheme in form-action", got)
	}
}
