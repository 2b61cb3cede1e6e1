package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/layout.html templates/signin.html templates/error.html
var siteTemplates embed.FS

//go:embed static/grantd.css
var stylesheet []byte

// StylesheetPath is where the embedded stylesheet is served.
const StylesheetPath = "/static/grantd.css"

// Page is a page template joined to the base layout. A page file defines a
// "title" and a "content" template; "content" may use the "account"
// template with an Account to show who is signed in and a sign-out button.
type Page struct {
	t *template.Template
}

// ParsePage parses the page template file name from fsys within the base
// layout. Pages of other packages (the device and consent pages) are parsed
// this way so that every page shares one layout, one stylesheet and one set
// of security headers.
func ParsePage(fsys fs.FS, name string) (*Page, error) {
	sum := sha256.Sum256(stylesheet)
	cssURL := StylesheetPath + "?v=" + hex.EncodeToString(sum[:6])
	t := template.New(name).Funcs(template.FuncMap{
		"stylesheet": func() string { return cssURL },
	})
	t, err := t.ParseFS(siteTemplates, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	if t, err = t.ParseFS(fsys, name); err != nil {
		return nil, fmt.Errorf("parse page %s: %w", name, err)
	}
	for _, want := range []string{"title", "content"} {
		if t.Lookup(want) == nil {
			return nil, fmt.Errorf("page %s: no %q template", name, want)
		}
	}
	return &Page{t: t}, nil
}

// MustParsePage is ParsePage for embedded templates, which are known at
// build time: it panics on error.
func MustParsePage(fsys fs.FS, name string) *Page {
	p, err := ParsePage(fsys, name)
	if err != nil {
		panic(err)
	}
	return p
}

// Account is the data of the "account" template: the signed-in user and the
// CSRF token of the sign-out form.
type Account struct {
	Username string
	CSRF     string
}

// errorPage is the data of the error page.
type errorPage struct {
	Title   string
	Message string
	// Link, when its Href is set, is where the page offers to go on.
	Link errorLink
}

// errorLink is the way on from an error page.
type errorLink struct{ Href, Text string }

// errorLinkFor chooses the error page's way on by the page that failed: the
// device pages start over at /device; the account page returns to itself;
// an /authorize request has no safe way back — its redirect URI may be the
// very thing that failed — so the user is sent back to the app instead.
func errorLinkFor(r *http.Request) errorLink {
	switch {
	case r == nil:
		return errorLink{"/device", "Start over"}
	case r.URL.Path == "/authorize" || strings.HasPrefix(r.URL.Path, "/authorize/"):
		return errorLink{}
	case r.URL.Path == "/account" || strings.HasPrefix(r.URL.Path, "/account/"):
		return errorLink{"/account", "Back to your account"}
	default:
		return errorLink{"/device", "Start over"}
	}
}

// SetSecurityHeaders sets the headers every page carries: a CSP with no
// script and no third-party resources (UI-02), anti-framing (UI-01), no
// referrer (UI-03), no caching (UI-09) and no MIME sniffing.
func SetSecurityHeaders(h http.Header) {
	setSecurityHeaders(h, FormActionSelf)
}

// Form-action sources for RenderForm.
const (
	// FormActionSelf allows forms to post to this site only.
	FormActionSelf = "'self'"
	// FormActionAny leaves form-action out, for a form whose redirect chain
	// may end anywhere (see RenderForm).
	FormActionAny = ""
)

func setSecurityHeaders(h http.Header, formAction string) {
	fa := ""
	if formAction != FormActionAny {
		fa = "form-action " + formAction + "; "
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; "+fa+"frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// Render writes page with data and status. Every value reaches the page
// through html/template and is escaped for its context (UI-04). The page is
// rendered into a buffer first, so a template error becomes a clean 500.
func (s *Site) Render(w http.ResponseWriter, status int, page *Page, data any) {
	s.RenderForm(w, status, page, data, FormActionSelf)
}

// RenderForm is Render with the page's CSP form-action sources given.
// Chrome and Safari apply form-action to every redirect that follows a
// form's submission (w3c/webappsec-csp#8), so a form whose answer redirects
// to a client's redirect URI must name that origin (the consent page), and
// one whose chain can end at any client (sign-in → /authorize → client)
// must leave form-action out: FormActionAny. Every such page is escaped
// template output, so no injected form can use the freedom.
func (s *Site) RenderForm(w http.ResponseWriter, status int, page *Page, data any, formAction string) {
	var buf bytes.Buffer
	if err := page.t.ExecuteTemplate(&buf, "layout", data); err != nil {
		s.logger().Error("render page", "page", page.t.Name(), "err", err)
		if page == s.pages().err {
			writePlainError(w)
			return
		}
		s.Error(w, nil, http.StatusInternalServerError, "Something went wrong on our side. Please try again.")
		return
	}
	h := w.Header()
	setSecurityHeaders(h, formAction)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writePlainError is the last resort when even the error page fails.
func writePlainError(w http.ResponseWriter) {
	SetSecurityHeaders(w.Header())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte("500 Internal Server Error\n"))
}

// Error writes the error page with status and a message meant for the user.
// msg is escaped like every other value; never pass err.Error() of an
// internal error. r may be nil.
func (s *Site) Error(w http.ResponseWriter, r *http.Request, status int, msg string) {
	title := http.StatusText(status)
	if title == "" {
		title = "Error"
	}
	s.Render(w, status, s.pages().err, errorPage{Title: title, Message: msg, Link: errorLinkFor(r)})
}

// TooManyRequests writes the 429 page with a Retry-After header in whole
// seconds, rounded up.
func (s *Site) TooManyRequests(w http.ResponseWriter, r *http.Request, retryAfter time.Duration) {
	secs := int64((retryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	s.Error(w, r, http.StatusTooManyRequests, "Too many attempts. Wait a while, then try again.")
}

// Unavailable writes the 503 page with a Retry-After header, for a failing
// store: the user is told to retry, never that something succeeded.
func (s *Site) Unavailable(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "5")
	s.Error(w, r, http.StatusServiceUnavailable, "The service is briefly unavailable. Please try again in a moment.")
}

// Busy writes the 503 page when too many password checks are under way:
// the user is told to try again in a moment.
func (s *Site) Busy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "2")
	s.Error(w, r, http.StatusServiceUnavailable, "We are checking many sign-ins right now. Please try again in a moment.")
}

// Forbidden writes the 403 page for a failed CSRF or origin check.
func (s *Site) Forbidden(w http.ResponseWriter, r *http.Request) {
	s.Error(w, r, http.StatusForbidden, "This form has expired or did not come from this site. Go back, reload the page and try again.")
}

// serveStylesheet serves the embedded CSS. Its URL carries a content hash,
// so it may be cached for a long time.
func serveStylesheet(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	SetSecurityHeaders(h)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(stylesheet)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(stylesheet)
	}
}
