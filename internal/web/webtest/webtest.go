// Package webtest drives grantd's pages in tests like a browser without
// JavaScript: a cookie jar, no automatic redirects, and helpers to read the
// CSRF token of a form and to sign in.
package webtest

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Browser is an HTTP client with its own cookie jar that does not follow
// redirects, so tests see every 303.
type Browser struct {
	T      testing.TB
	Base   string // the server's URL, e.g. httptest.Server.URL
	Client *http.Client
}

// NewBrowser returns a Browser for the server at base. transport may be nil
// (http.DefaultTransport); pass httptest.Server.Client().Transport for TLS.
func NewBrowser(t testing.TB, base string, transport http.RoundTripper) *Browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("cookie jar: %v", err)
	}
	return &Browser{T: t, Base: base, Client: &http.Client{
		Transport: transport,
		Jar:       jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// Response is an HTTP response with its body read.
type Response struct {
	*http.Response
	Body string
}

// Do sends req and reads the whole response.
func (b *Browser) Do(req *http.Request) *Response {
	b.T.Helper()
	resp, err := b.Client.Do(req)
	if err != nil {
		b.T.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.T.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return &Response{Response: resp, Body: string(body)}
}

// Get requests path (with its query) from the server.
func (b *Browser) Get(path string) *Response {
	b.T.Helper()
	req, err := http.NewRequest(http.MethodGet, b.Base+path, nil)
	if err != nil {
		b.T.Fatalf("GET %s: %v", path, err)
	}
	return b.Do(req)
}

// Post submits form to path as application/x-www-form-urlencoded.
func (b *Browser) Post(path string, form url.Values) *Response {
	b.T.Helper()
	return b.PostBody(path, form.Encode())
}

// PostBody submits a raw urlencoded body to path.
func (b *Browser) PostBody(path, body string) *Response {
	b.T.Helper()
	req, err := http.NewRequest(http.MethodPost, b.Base+path, strings.NewReader(body))
	if err != nil {
		b.T.Fatalf("POST %s: %v", path, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.Do(req)
}

// Cookie returns the value of the named cookie the jar holds for the
// server, or "".
func (b *Browser) Cookie(name string) string {
	u, err := url.Parse(b.Base)
	if err != nil {
		b.T.Fatalf("parse base: %v", err)
	}
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// Hidden returns the value of the first hidden input called name in an
// HTML page, or "".
func Hidden(body, name string) string {
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	return ""
}

// CSRF returns the CSRF token of the first form in an HTML page.
func CSRF(body string) string { return Hidden(body, "csrf_token") }

// SignIn signs in through GET and POST /signin and fails the test unless
// the server answers 303.
func (b *Browser) SignIn(username, password string) {
	b.T.Helper()
	page := b.Get("/signin")
	if page.StatusCode != http.StatusOK {
		b.T.Fatalf("GET /signin: status %d", page.StatusCode)
	}
	resp := b.Post("/signin", url.Values{
		"csrf_token": {CSRF(page.Body)},
		"username":   {username},
		"password":   {password},
	})
	if resp.StatusCode != http.StatusSeeOther {
		b.T.Fatalf("sign in as %q: status %d, want 303", username, resp.StatusCode)
	}
}

// securityHeaders lists the headers every grantd page carries
// (UI-01, UI-03, UI-09).
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
	"Cache-Control":           "no-store",
	"X-Content-Type-Options":  "nosniff",
}

// CheckSecurityHeaders reports every missing or wrong security header of
// resp. The CSP's form-action directive varies by page (web.RenderForm): it
// may be absent, and when present must allow this site first. Its img-src
// may name https origins after 'self' data: — the operator's logo's, a
// client's logo's on the consent page — and nothing else.
func CheckSecurityHeaders(t testing.TB, what string, resp *Response) {
	t.Helper()
	for name, want := range securityHeaders {
		got := resp.Header.Get(name)
		if name == "Content-Security-Policy" {
			got = withoutFormAction(t, what, got)
		}
		if got != want {
			t.Errorf("%s: %s = %q, want %q", what, name, got, want)
		}
	}
}

// withoutFormAction returns csp without its form-action directive, which
// must begin with 'self' when present.
func withoutFormAction(t testing.TB, what, csp string) string {
	t.Helper()
	var kept []string
	for _, d := range strings.Split(csp, "; ") {
		if rest, ok := strings.CutPrefix(d, "img-src 'self' data: "); ok {
			for _, src := range strings.Fields(rest) {
				if !strings.HasPrefix(src, "https://") || strings.ContainsAny(src, "*;,'") || strings.Count(src, "/") != 2 {
					t.Errorf("%s: CSP img-src allows %q, want only https origins", what, src)
				}
			}
			d = "img-src 'self' data:"
		}
		if strings.HasPrefix(d, "form-action ") {
			if !strings.HasPrefix(d, "form-action 'self'") {
				t.Errorf("%s: CSP %s, want 'self' first", what, d)
			}
			continue
		}
		kept = append(kept, d)
	}
	return strings.Join(kept, "; ")
}
