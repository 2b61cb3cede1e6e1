package web

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/grantd/grantd/internal/clientip"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// MaxFormBytes bounds the body of a form post; a larger one gets 413.
const MaxFormBytes = 64 << 10

// Store is the part of the store the site needs: sessions and accounts.
type Store interface {
	store.Sessions
	store.Users
}

// Budgets are the attempt budgets of one kind of guess: per account, per
// client IP and for everyone together (DEV-06, UI-07). A zero Budget takes
// the default of the kind.
type Budgets struct {
	PerAccount ratelimit.Budget
	PerIP      ratelimit.Budget
	Global     ratelimit.Budget
}

// DefaultSignInBudgets returns the budgets that apply where
// Site.SignInBudgets leaves one zero: 10 per account and 50 per IP in 15
// minutes, 1000 a minute in all.
func DefaultSignInBudgets() Budgets {
	return Budgets{
		PerAccount: ratelimit.Budget{N: 10, Per: 15 * time.Minute},
		PerIP:      ratelimit.Budget{N: 50, Per: 15 * time.Minute},
		Global:     ratelimit.Budget{N: 1000, Per: time.Minute},
	}
}

// WithDefaults returns b with each zero budget replaced by def's.
func (b Budgets) WithDefaults(def Budgets) Budgets {
	if b.PerAccount.N <= 0 || b.PerAccount.Per <= 0 {
		b.PerAccount = def.PerAccount
	}
	if b.PerIP.N <= 0 || b.PerIP.Per <= 0 {
		b.PerIP = def.PerIP
	}
	if b.Global.N <= 0 || b.Global.Per <= 0 {
		b.Global = def.Global
	}
	return b
}

// Site is what every grantd page shares: sessions, CSRF tokens, sign-in,
// rate limits, the layout and the security headers. Set the exported fields,
// then call Mount once before serving; a Site must not be copied after use.
type Site struct {
	// Store holds sessions and accounts. Required.
	Store Store
	// Issuer is the server's public URL; an https issuer makes the session
	// cookie Secure and __Host- prefixed (UI-05).
	Issuer string
	// SessionTTL is the lifetime of a signed-in session (default 12h).
	SessionTTL time.Duration
	// IPs finds the client's address, believing X-Forwarded-For from
	// trusted proxies only (GEN-06), and keys per-IP budgets by its network.
	IPs clientip.Resolver
	// Limiter keeps the attempt budgets. Required.
	Limiter ratelimit.Limiter
	// SignInBudgets limit password guesses; zero budgets take
	// DefaultSignInBudgets().
	SignInBudgets Budgets
	// Verifier bounds the password checks (nil: one of its own, of
	// GOMAXPROCS slots); share the server's with its client authentication.
	Verifier *secret.Verifier
	// BrowserKey signs the device cookies of browsers that signed in before
	// (see knownBrowser); shared by every instance. Empty: none are issued.
	BrowserKey []byte
	// Upstreams, when set, lists the upstream providers the sign-in page
	// offers, one button each (package federation serves their routes).
	Upstreams func(ctx context.Context) ([]Upstream, error)
	// Brand is how the pages present the operator's service.
	Brand Brand
	// NoLocalSignIn hides the user name and password form and refuses its
	// posts (GRANTD_LOCAL_SIGN_IN=false): users sign in upstream only.
	NoLocalSignIn bool
	// Now is the clock (default time.Now); Rand the randomness for session
	// ids (default crypto/rand.Reader); Logger the log (default discards).
	Now    func() time.Time
	Rand   io.Reader
	Logger *slog.Logger

	once    sync.Once
	tmpl    sitePages
	files   assets
	origins *http.CrossOriginProtection
}

type sitePages struct {
	signin, err, home *Page
}

func (s *Site) setup() {
	s.once.Do(func() {
		s.tmpl = sitePages{
			signin: MustParsePage(siteTemplates, "templates/signin.html"),
			err:    MustParsePage(siteTemplates, "templates/error.html"),
			home:   MustParsePage(siteTemplates, "templates/home.html"),
		}
		s.files = makeAssets(s.Brand)
		s.origins = http.NewCrossOriginProtection()
		if u, err := url.Parse(s.Issuer); err == nil && u.Scheme != "" && u.Host != "" {
			if err := s.origins.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
				s.logger().Warn("issuer origin not trusted for cross-origin checks", "err", err)
			}
		}
		s.origins.SetDenyHandler(http.HandlerFunc(s.Forbidden))
		if s.Verifier == nil {
			s.Verifier = secret.NewVerifier(0, 0)
		}
	})
}

func (s *Site) verifier() *secret.Verifier {
	s.setup()
	return s.Verifier
}

// AllowCrossSite exempts the route pattern (e.g. "POST /authorize") from the
// cross-origin check of Handler. It is for a form POST that is a top-level
// navigation from another site and may do nothing a GET of the same route
// may not. Call it before serving.
func (s *Site) AllowCrossSite(pattern string) {
	s.setup()
	s.origins.AddInsecureBypassPattern(pattern)
}

func (s *Site) pages() *sitePages {
	s.setup()
	return &s.tmpl
}

// CurrentTime returns the time on the site's clock (Now, or time.Now).
func (s *Site) CurrentTime() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Site) now() time.Time { return s.CurrentTime() }

func (s *Site) rand() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return rand.Reader
}

// Log returns the site's logger (Logger, or one that discards).
func (s *Site) Log() *slog.Logger { return s.logger() }

func (s *Site) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Site) sessionTTL() time.Duration {
	if s.SessionTTL > 0 {
		return s.SessionTTL
	}
	return 12 * time.Hour
}

// Mount registers the site's routes on mux:
//
//	GET  /                    what this server is, and the ways in
//	GET  /signin              sign-in form (?return_to=<local path>)
//	POST /signin              check the password, start the session
//	POST /signout             end the session
//	GET  /static/grantd.css   the stylesheet
//	GET  /static/favicon.svg  the icon, also at /favicon.ico
func (s *Site) Mount(mux *http.ServeMux) {
	s.setup()
	mux.Handle("GET /{$}", s.Handler(http.HandlerFunc(s.getHome)))
	mux.Handle("GET /signin", s.Handler(http.HandlerFunc(s.getSignIn)))
	mux.Handle("POST /signin", s.Handler(http.HandlerFunc(s.postSignIn)))
	mux.Handle("POST /signout", s.Handler(http.HandlerFunc(s.postSignOut)))
	mux.HandleFunc("GET "+StylesheetPath, s.serveStylesheet)
	mux.HandleFunc("GET "+FaviconPath, s.serveFavicon)
	mux.HandleFunc("GET /favicon.ico", s.serveFavicon)
}

// getHome serves the start page: what this server is, with the ways to
// connect a device and to see what uses one's account.
func (s *Site) getHome(w http.ResponseWriter, r *http.Request) {
	s.Render(w, r, http.StatusOK, s.pages().home, struct{}{})
}

// Handler wraps a page handler: security headers on every response, a
// cross-origin check on unsafe methods (http.CrossOriginProtection, in
// addition to the CSRF tokens), a MaxFormBytes body limit, and a recover
// that turns a panic into a 500 page.
func (s *Site) Handler(h http.Handler) http.Handler {
	s.setup()
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer s.recoverPanic(w, r)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
		}
		h.ServeHTTP(w, r)
	})
	guarded := s.origins.Handler(inner)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetSecurityHeaders(w.Header())
		guarded.ServeHTTP(w, r)
	})
}

func (s *Site) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	s.logger().ErrorContext(r.Context(), "panic in page handler", "method", r.Method, "path", r.URL.Path, "panic", v)
	s.Error(w, r, http.StatusInternalServerError, Msg("error.internal"))
}

// ParseForm parses a posted form within MaxFormBytes. On failure it writes
// the 413 or 400 page and returns false.
func (s *Site) ParseForm(w http.ResponseWriter, r *http.Request) bool {
	err := r.ParseForm()
	if err == nil {
		return true
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		s.Error(w, r, http.StatusRequestEntityTooLarge, Msg("error.form_too_large"))
		return false
	}
	s.Error(w, r, http.StatusBadRequest, Msg("error.form_unreadable"))
	return false
}

// ClientIP returns the client address of r, believing X-Forwarded-For only
// from TrustedProxies (GEN-06).
func (s *Site) ClientIP(r *http.Request) netip.Addr {
	return s.IPs.Addr(r)
}

// Upstream is a provider the sign-in page offers.
type Upstream struct {
	ID   string
	Name string // the button's text
}

// UpstreamSignInURL is where a sign-in at the upstream id starts, returning
// to the local path returnTo.
func UpstreamSignInURL(id, returnTo string) string {
	return "/signin/upstream/" + url.PathEscape(id) + "?" + url.Values{"return_to": {LocalPath(returnTo)}}.Encode()
}

// Charge is one attempt to spend from one budget.
type Charge struct {
	Key    string
	Budget ratelimit.Budget
}

// Spend takes one attempt from each charge in order, before the attempt is
// evaluated, and stops at the first budget that is spent: it then reports
// ok false and how long to wait. Order charges from the narrowest key (the
// IP) to the widest (global), so a blocked caller stops draining the others.
// Nothing is ever refunded (DEV-07).
func (s *Site) Spend(ctx context.Context, charges ...Charge) (ok bool, retryAfter time.Duration, err error) {
	now := s.now()
	for _, c := range charges {
		ok, retryAfter, err = s.Limiter.Take(ctx, c.Key, c.Budget, now)
		if err != nil || !ok {
			return ok, retryAfter, err
		}
	}
	return true, 0, nil
}

// Charges returns the per-IP, per-account and global charges of one attempt
// of kind (e.g. "signin", "usercode") against b, in that order.
func (s *Site) Charges(r *http.Request, kind, account string, b Budgets) []Charge {
	return []Charge{
		{Key: kind + ":ip:" + s.IPs.Key(r), Budget: b.PerIP},
		{Key: kind + ":account:" + account, Budget: b.PerAccount},
		{Key: kind + ":global", Budget: b.Global},
	}
}
