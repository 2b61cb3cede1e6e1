package web

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/grantd/grantd/internal/locale"
)

// Brand is how the pages present the operator's service: its name in
// titles and headings, its logo, its accent colour and where to get help.
type Brand struct {
	// Name is the service's name (GRANTD_SITE_NAME); "grantd" when empty.
	Name string
	// LogoURL is an https URL of the operator's logo, shown beside the name
	// and loaded by the browser, never by the server; "" for none.
	LogoURL string
	// Accent is a CSS colour "#rrggbb" for buttons and the mark; "" keeps
	// the built-in blue.
	Accent string
	// SupportURL is an https page of help and privacy every page links to;
	// "" for none.
	SupportURL string
}

// DefaultSiteName is the name of a site whose Brand has none.
const DefaultSiteName = "grantd"

// Paths of the site's assets.
const (
	// StylesheetPath is where the site's stylesheet is served; pages link it
	// with a hash of its contents as ?v=, so it may be cached for long.
	StylesheetPath = "/static/grantd.css"
	// FaviconPath is the site's icon; /favicon.ico serves it as well.
	FaviconPath = "/static/favicon.svg"
)

//go:embed static/grantd.css
var stylesheet []byte

// accentColour is the only form an accent takes: it is written into CSS.
var accentColour = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// ParseAccent reads a CSS hex colour, #rgb or #rrggbb in any case, and
// returns it as lower-case #rrggbb.
func ParseAccent(v string) (string, error) {
	c := strings.ToLower(strings.TrimSpace(v))
	if len(c) == 4 && c[0] == '#' {
		c = "#" + strings.Repeat(c[1:2], 2) + strings.Repeat(c[2:3], 2) + strings.Repeat(c[3:4], 2)
	}
	if !accentColour.MatchString(c) {
		return "", fmt.Errorf("%q: want a CSS hex colour such as #1d4ed8", v)
	}
	return c, nil
}

// HTTPSOrigin returns the origin of an absolute https URL with a host, as
// a CSP source expression, or an error. It refuses user info and hosts
// with characters a source expression cannot hold.
func HTTPSOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", fmt.Errorf("%q: not a URL: %w", raw, err)
	case u.Scheme != "https" || u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("%q: want an absolute https:// URL", raw)
	case u.User != nil:
		return "", fmt.Errorf("%q: URL must not carry user info", raw)
	case !hostChars.MatchString(u.Host):
		return "", fmt.Errorf("%q: the host has characters a URL's host cannot have", raw)
	}
	return "https://" + strings.ToLower(u.Host), nil
}

var hostChars = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$`)

// assets are what the site serves besides pages, made from its Brand once.
type assets struct {
	brand      Brand // the Brand, its unusable URLs dropped
	css        []byte
	cssURL     string
	favicon    []byte
	logoOrigin string // the CSP source of the logo; "" for none
}

func (s *Site) brand() Brand { return s.assets().brand }

// usable returns b with the default name when it has none, and without a
// logo or help page that is not an https URL.
func usable(b Brand) Brand {
	if strings.TrimSpace(b.Name) == "" {
		b.Name = DefaultSiteName
	}
	if _, err := HTTPSOrigin(b.LogoURL); err != nil {
		b.LogoURL = ""
	}
	if _, err := HTTPSOrigin(b.SupportURL); err != nil {
		b.SupportURL = ""
	}
	return b
}

func (s *Site) assets() *assets {
	s.setup()
	return &s.files
}

// makeAssets builds the stylesheet, with the accent when b has one, and
// the icon in the accent colour.
func makeAssets(b Brand) assets {
	a := assets{brand: usable(b), css: stylesheet, favicon: favicon("#1d4ed8")}
	if accent, err := ParseAccent(b.Accent); err == nil && b.Accent != "" {
		text := contrastText(accent)
		a.css = append(append([]byte(nil), stylesheet...), fmt.Sprintf(
			"\n/* GRANTD_SITE_ACCENT */\n:root { --accent: %s; --accent-text: %s; }\n"+
				"@media (prefers-color-scheme: dark) { :root { --accent: %s; --accent-text: %s; } }\n",
			accent, text, accent, text)...)
		a.favicon = favicon(accent)
	}
	if origin, err := HTTPSOrigin(b.LogoURL); err == nil {
		a.logoOrigin = origin
	}
	sum := sha256.Sum256(a.css)
	a.cssURL = StylesheetPath + "?v=" + hex.EncodeToString(sum[:6])
	return a
}

// contrastText returns the text colour, near-white or near-black, that
// reads best on the accent: its contrast ratio with the accent is higher
// (WCAG 2.1 relative luminance).
func contrastText(accent string) string {
	lum := 0.0
	for i, weight := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.ParseUint(accent[1+2*i:3+2*i], 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		lum += weight * c
	}
	// Contrast with white (1.05/(L+0.05)) against with black ((L+0.05)/0.05).
	if 1.05/(lum+0.05) >= (lum+0.05)/0.05 {
		return "#ffffff"
	}
	return "#111827"
}

// favicon is the site's icon: a keyhole on the accent colour.
func favicon(accent string) []byte {
	return []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">` +
		`<rect width="32" height="32" rx="7" fill="` + accent + `"/>` +
		`<circle cx="16" cy="13" r="5" fill="` + contrastText(accent) + `"/>` +
		`<rect x="13.5" y="15" width="5" height="11" rx="1.5" fill="` + contrastText(accent) + `"/></svg>`)
}

// serveStylesheet serves the site's CSS. Its URL carries a hash of the
// contents, so it may be cached for a long time.
func (s *Site) serveStylesheet(w http.ResponseWriter, r *http.Request) {
	serveAsset(w, r, "text/css; charset=utf-8", s.assets().css, "public, max-age=31536000, immutable")
}

// serveFavicon serves the site's icon.
func (s *Site) serveFavicon(w http.ResponseWriter, r *http.Request) {
	serveAsset(w, r, "image/svg+xml", s.assets().favicon, "public, max-age=86400")
}

func serveAsset(w http.ResponseWriter, r *http.Request, contentType string, body []byte, cache string) {
	h := w.Header()
	SetSecurityHeaders(h)
	h.Set("Cache-Control", cache)
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// Lang returns the language of the pages answering r: the first of
// ui_locales a language of the pages serves — from the request, or from
// the request that sign-in returns to (return_to), so that the choice an
// application made at /authorize holds through sign-in — else the best
// match for Accept-Language, else English. r may be nil (English).
func (s *Site) Lang(r *http.Request) locale.Lang {
	if r == nil {
		return locale.English
	}
	q := r.Form
	if q == nil {
		q = r.URL.Query()
	}
	ui := q.Get("ui_locales")
	if rt := q.Get("return_to"); ui == "" && rt != "" {
		if u, err := url.Parse(LocalPath(rt)); err == nil {
			ui = u.Query().Get("ui_locales")
		}
	}
	return locale.Match(ui, r.Header.Get("Accept-Language"))
}
