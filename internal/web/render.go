package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grantd/grantd/internal/locale"
)

//go:embed templates/layout.html templates/signin.html templates/error.html templates/home.html
var siteTemplates embed.FS

// Page is a page template joined to the base layout. A page file defines a
// "title" and a "content" template; "content" may use the "account"
// template with an Account to show who is signed in, a link to their
// devices and apps, and a sign-out button.
//
// Templates write their words with the functions t (a message by key,
// with name/value pairs: {{t "result.approved_lead" "app" .Client}}), tn (a
// message with a count), msg (a Message), date and since (a time, for
// people); brand is the site's Brand and lang the page's language. A Page
// is bound to a Site and a language on first use, and the bound template
// is kept, so that html/template escapes each once.
type Page struct {
	base *template.Template

	mu    sync.Mutex
	bound map[pageKey]*template.Template
}

type pageKey struct {
	site *Site
	lang locale.Lang
}

// funcs are the page functions, as placeholders for parsing; bind
// replaces them with the Site's and the language's.
func funcs(s *Site, l locale.Lang) template.FuncMap {
	return template.FuncMap{
		"t":  func(key string, args ...any) string { return Msg(locale.Key(key), args...).In(l) },
		"tn": func(key string, n int, args ...any) string { return l.N(locale.Key(key), n, args...) },
		"msg": func(m Message) string {
			if m.Key == "" {
				return ""
			}
			return m.In(l)
		},
		"date":       func(t time.Time) string { return l.Date(t) },
		"since":      func(t time.Time) string { return l.Since(t, s.now()) },
		"lang":       func() string { return string(l) },
		"brand":      func() Brand { return s.brand() },
		"stylesheet": func() string { return s.assets().cssURL },
		"favicon":    func() string { return FaviconPath },
	}
}

// ParsePage parses the page template file name from fsys within the base
// layout. Pages of other packages (the device and consent pages) are parsed
// this way so that every page shares one layout, one stylesheet and one set
// of security headers.
func ParsePage(fsys fs.FS, name string) (*Page, error) {
	t := template.New(name).Funcs(funcs(&Site{}, locale.English))
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
	return &Page{base: t, bound: map[pageKey]*template.Template{}}, nil
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

// bind returns the page's template for site s in language l.
func (p *Page) bind(s *Site, l locale.Lang) (*template.Template, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := pageKey{s, l}
	if t, ok := p.bound[k]; ok {
		return t, nil
	}
	t, err := p.base.Clone()
	if err != nil {
		return nil, err
	}
	t.Funcs(funcs(s, l))
	p.bound[k] = t
	return t, nil
}

// Account is the data of the "account" template: the signed-in user and the
// CSRF token of the sign-out form.
type Account struct {
	Username string
	CSRF     string
}

// CSP is what a page's Content-Security-Policy allows beyond the site's
// own stylesheet and images.
type CSP struct {
	// FormAction lists the sources forms may post to (FormActionSelf,
	// FormActionAny, or more sources after 'self'; see RenderForm).
	FormAction string
	// Images lists further image sources (an https origin each), such as
	// the origin of a client's logo.
	Images []string
}

// Form-action sources for RenderForm.
const (
	// FormActionSelf allows forms to post to this site only.
	FormActionSelf = "'self'"
	// FormActionAny leaves form-action out, for a form whose redirect chain
	// may end anywhere (see RenderForm).
	FormActionAny = ""
)

// SetSecurityHeaders sets the headers every page carries: a CSP with no
// script and no third-party resources (UI-02), anti-framing (UI-01), no
// referrer (UI-03), no caching (UI-09) and no MIME sniffing.
func SetSecurityHeaders(h http.Header) {
	setSecurityHeaders(h, CSP{FormAction: FormActionSelf})
}

func setSecurityHeaders(h http.Header, csp CSP) {
	fa := ""
	if csp.FormAction != FormActionAny {
		fa = "form-action " + csp.FormAction + "; "
	}
	img := "img-src 'self' data:"
	for _, src := range csp.Images {
		if src != "" && !strings.Contains(img, " "+src) {
			img += " " + src
		}
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; "+img+"; "+fa+"frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// Render writes page with data and status, in the language of r (Lang).
// Every value reaches the page through html/template and is escaped for
// its context (UI-04). The page is rendered into a buffer first, so a
// template error becomes a clean 500.
func (s *Site) Render(w http.ResponseWriter, r *http.Request, status int, page *Page, data any) {
	s.RenderCSP(w, r, status, page, data, CSP{FormAction: FormActionSelf})
}

// RenderForm is Render with the page's CSP form-action sources given.
// Chrome and Safari apply form-action to every redirect that follows a
// form's submission (w3c/webappsec-csp#8), so a form whose answer redirects
// to a client's redirect URI must name that origin (the consent page), and
// one whose chain can end at any client (sign-in → /authorize → client)
// must leave form-action out: FormActionAny. Every such page is escaped
// template output, so no injected form can use the freedom.
func (s *Site) RenderForm(w http.ResponseWriter, r *http.Request, status int, page *Page, data any, formAction string) {
	s.RenderCSP(w, r, status, page, data, CSP{FormAction: formAction})
}

// RenderCSP is Render with the page's CSP given. The site's logo origin is
// always allowed as an image source.
func (s *Site) RenderCSP(w http.ResponseWriter, r *http.Request, status int, page *Page, data any, csp CSP) {
	var buf bytes.Buffer
	t, err := page.bind(s, s.Lang(r))
	if err == nil {
		err = t.ExecuteTemplate(&buf, "layout", data)
	}
	if err != nil {
		s.logger().Error("render page", "page", page.base.Name(), "err", err)
		if page == s.pages().err {
			writePlainError(w)
			return
		}
		s.Error(w, r, http.StatusInternalServerError, Msg("error.internal"))
		return
	}
	h := w.Header()
	csp.Images = append(csp.Images, s.assets().logoOrigin)
	setSecurityHeaders(h, csp)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", string(s.Lang(r)))
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
