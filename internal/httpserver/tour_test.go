package httpserver_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/locale"
	"github.com/grantd/grantd/internal/web/webtest"
)

// tourPage is one page as grantd sent it on the tour.
type tourPage struct {
	name   string
	status int
	resp   *webtest.Response
}

// tourVars are the settings of the tour's server: the operator's brand,
// and a sign-in budget small enough to see its 429 page. The logo is left
// out, since browsers would fetch it from the network.
var tourVars = map[string]string{
	"GRANTD_SITE_NAME":             "Lights Incorporated",
	"GRANTD_SITE_ACCENT":           "#0f766e",
	"GRANTD_SITE_SUPPORT_URL":      "https://help.example.com/privacy",
	"GRANTD_SIGN_IN_LIMIT_ACCOUNT": "2/15m",
}

// withLanguage sends Accept-Language on every request.
type withLanguage struct {
	lang string
	next http.RoundTripper
}

func (l withLanguage) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept-Language", l.lang)
	return l.next.RoundTrip(r)
}

// tour visits every kind of page grantd shows a person, in lang, as a
// browser would — the start page, sign-in, code entry and its mistakes,
// the confirm page, both results, a code that expired while open, consent,
// the account page with a revocation asked, done and named, and the error
// pages — and returns them in order. The clients "tv" and "platform" must
// exist (tourClients). It moves e's clock by a CODE_EXPIRATION.
func (e *env) tour(t *testing.T, lang locale.Lang, tvSecret string) []tourPage {
	t.Helper()
	b := webtest.NewBrowser(t, e.srv.URL, withLanguage{string(lang), http.DefaultTransport})
	var pages []tourPage
	add := func(name string, status int, resp *webtest.Response) *webtest.Response {
		t.Helper()
		if resp.StatusCode != status {
			t.Errorf("%s, %s: status %d, want %d", lang, name, resp.StatusCode, status)
		}
		pages = append(pages, tourPage{name, status, resp})
		return resp
	}
	add("home", http.StatusOK, b.Get("/"))
	add("signin", http.StatusOK, b.Get("/signin"))
	user := "tour-" + string(lang)
	e.user(user)
	b.SignIn(user, "correct horse battery")
	entry := add("enter", http.StatusOK, b.Get("/device"))
	add("enter-mistyped", http.StatusBadRequest, b.Post("/device", url.Values{"csrf_token": {webtest.CSRF(entry.Body)},
		"user_code": {"WDJB-MJHX"}}))
	codes := make([]reply, 3)
	confirms := make([]*webtest.Response, 3)
	for i := range codes {
		codes[i] = e.deviceAuthorize("tv", tvSecret, "openid lights:read")
		confirms[i] = b.Post("/device", url.Values{"csrf_token": {webtest.CSRF(entry.Body)}, "user_code": {codes[i].str("user_code")}})
	}
	add("confirm", http.StatusOK, confirms[0])
	decide := func(confirm *webtest.Response, action string) *webtest.Response {
		return b.Post("/device/decision", url.Values{"csrf_token": {webtest.CSRF(confirm.Body)},
			"user_code": {webtest.Hidden(confirm.Body, "user_code")}, "action": {action}})
	}
	add("result-approved", http.StatusOK, decide(confirms[0], "approve"))
	add("result-denied", http.StatusOK, decide(confirms[1], "deny"))
	if r := e.poll("tv", tvSecret, codes[0].str("device_code")); r.status != http.StatusOK {
		t.Fatalf("%s: poll after approval: %d %s", lang, r.status, r.raw)
	}
	consentURL := "/authorize?" + url.Values{"response_type": {"code"}, "client_id": {"platform"}, "scope": {"openid lights:read"},
		"state": {"s"}, "redirect_uri": {"https://platform.example/cb"}, "prompt": {"consent"}}.Encode()
	add("consent", http.StatusOK, b.Get(consentURL))
	account := add("account", http.StatusOK, b.Get("/account"))
	grant := webtest.Hidden(strings.SplitN(account.Body, `action="/account/revoke"`, 2)[1], "grant")
	ask := add("revoke-confirm", http.StatusOK, b.Get("/account/revoke?grant="+url.QueryEscape(grant)))
	done := b.Post("/account/revoke", url.Values{"csrf_token": {webtest.CSRF(ask.Body)}, "grant_id": {grant}})
	add("account-revoked", http.StatusOK, b.Get(done.Header.Get("Location")))

	add("error-bad-request", http.StatusBadRequest, b.Get("/authorize?client_id=nobody"))
	add("error-forbidden", http.StatusForbidden, b.Post("/account/revoke", url.Values{"grant_id": {grant}}))
	add("error-not-found", http.StatusNotFound, b.Get("/account/revoke?grant=nope"))
	add("error-too-large", http.StatusRequestEntityTooLarge, b.PostBody("/device", "user_code="+strings.Repeat("A", 70<<10)))
	stranger := webtest.NewBrowser(t, e.srv.URL, withLanguage{string(lang), http.DefaultTransport})
	signin := stranger.Get("/signin")
	var limited *webtest.Response
	for range 3 {
		limited = stranger.Post("/signin", url.Values{"csrf_token": {webtest.CSRF(signin.Body)},
			"username": {"nobody-" + string(lang)}, "password": {"wrong password"}})
	}
	add("error-too-many", http.StatusTooManyRequests, limited)
	e.clock.Advance(e.cfg.CodeExpiration)
	add("enter-expired", http.StatusBadRequest, decide(confirms[2], "approve"))
	return pages
}

// tourClients registers the tour's device client and platform, and
// returns the device client's secret.
func tourClients(e *env) string {
	e.client(admin.ClientSpec{ID: "platform", Name: "Acme Cloud", RedirectURIs: []string{"https://platform.example/cb"},
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "lights:read"}})
	return e.client(admin.ClientSpec{ID: "tv", Name: "Living-room TV", Scopes: []string{"openid", "lights:read"}})
}

// TestPagesInEveryLanguage renders every page in every language and fails
// on a message the language lacks, a page in another language than asked
// for, or a page without the security headers (UI-01, UI-03, UI-09). It is
// the HTTP half of TestPageScreenshots, which looks at the same pages in
// a browser.
func TestPagesInEveryLanguage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, tourVars)
	secret := tourClients(e)
	for _, lang := range locale.Supported() {
		for _, p := range e.tour(t, lang, secret) {
			what := string(lang) + " " + p.name
			body := p.resp.Body
			if strings.Contains(body, locale.MissingMark) {
				i := strings.Index(body, locale.MissingMark)
				t.Errorf("%s: a message is missing: %s", what, body[i:min(len(body), i+60)])
			}
			if !strings.Contains(body, `<html lang="`+string(lang)+`">`) || p.resp.Header.Get("Content-Language") != string(lang) {
				t.Errorf("%s: not marked as %s (Content-Language %q)", what, lang, p.resp.Header.Get("Content-Language"))
			}
			if !strings.Contains(body, "<title>") || !strings.Contains(body, " · Lights Incorporated</title>") {
				t.Errorf("%s: the title does not end with the site's name", what)
			}
			if strings.Contains(body, `class="account"`) && !strings.Contains(body, `<a class="manage" href="/account">`) {
				t.Errorf("%s: a signed-in page without a link to /account", what)
			}
			if dup := repeatedSentence(body); dup != "" {
				t.Errorf("%s: says %q twice", what, dup)
			}
			webtest.CheckSecurityHeaders(t, what, p.resp)
		}
	}
}

var (
	tag      = regexp.MustCompile(`<[^>]*>`)
	heading  = regexp.MustCompile(`(?s)<h1>(.*?)</h1>`)
	sentence = regexp.MustCompile(`[^.!?\n]{12,}[.!?]`)
)

// repeatedSentence returns a sentence the page's text says twice, or says
// again after its heading, or "".
func repeatedSentence(page string) string {
	start, end := strings.Index(page, "<main"), strings.Index(page, "</main>")
	if start < 0 || end < start {
		return ""
	}
	norm := func(s string) string {
		return strings.TrimRight(strings.Join(strings.Fields(html.UnescapeString(s)), " "), ".!?")
	}
	seen := map[string]bool{}
	if h := heading.FindStringSubmatch(page); h != nil {
		seen[norm(tag.ReplaceAllString(h[1], ""))] = true
	}
	text := html.UnescapeString(tag.ReplaceAllString(heading.ReplaceAllString(page[start:end], ""), "\n"))
	for _, s := range sentence.FindAllString(text, -1) {
		s = norm(s)
		if seen[s] {
			return s
		}
		seen[s] = true
	}
	return ""
}
