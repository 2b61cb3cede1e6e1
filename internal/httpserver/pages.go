package httpserver

import (
	"net/http"

	"github.com/grantd/grantd/internal/authorize"
	"github.com/grantd/grantd/internal/callback"
	"github.com/grantd/grantd/internal/config"
	"github.com/grantd/grantd/internal/device"
	"github.com/grantd/grantd/internal/federation"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/scopes"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/web"
)

// pageDeps are what the pages share with the rest of the server.
type pageDeps struct {
	limiter    ratelimit.Limiter
	verifier   *secret.Verifier
	browserKey []byte
	upstreams  *federation.Directory
	scopes     *scopes.Catalog // describes the scopes the pages list
}

// mountPages mounts the browser pages: sign-in (with a password, or at an
// upstream provider and back at /callback), device verification (RFC 8628
// §3.3), the authorization endpoint with its consent page (RFC 6749 §4.1)
// and the account page. They share one attempt limiter, and show scopes
// in the words of d.scopes.
func mountPages(mux *http.ServeMux, cfg config.Config, o Options, d pageDeps) {
	site := &web.Site{
		Store: o.Store, Issuer: cfg.Issuer, SessionTTL: cfg.SessionTTL, IPs: cfg.ClientIP(),
		Limiter: d.limiter, Verifier: d.verifier, BrowserKey: d.browserKey,
		Upstreams: callback.Buttons(d.upstreams), NoLocalSignIn: !cfg.LocalSignIn,
		Brand: web.Brand{Name: cfg.SiteName, LogoURL: cfg.SiteLogoURL, Accent: cfg.SiteAccent, SupportURL: cfg.SiteSupportURL},
		SignInBudgets: web.Budgets{
			PerAccount: cfg.SignInLimitAccount, PerIP: cfg.SignInLimitIP, Global: cfg.SignInLimitGlobal,
		},
		Now: o.Now, Rand: o.Rand, Logger: o.Logger,
	}
	site.Mount(mux)
	(&callback.Pages{Site: site, Directory: d.upstreams, Users: o.Store, Once: o.Store, Issuer: cfg.Issuer,
		Rand: o.Rand}).Mount(mux)
	(&device.Pages{
		Site: site, Store: o.Store, Scopes: d.scopes, UserCodeFormat: cfg.UserCodeFormat, UserCodeLength: cfg.UserCodeLength,
		UserCodeBudgets: web.Budgets{
			PerAccount: cfg.UserCodeLimitAccount, PerIP: cfg.UserCodeLimitIP, Global: cfg.UserCodeLimitGlobal,
		},
		Tokens:          d.upstreams,
		AWSSampleCompat: cfg.AWSSampleCompat,
	}).Mount(mux)
	(&authorize.Pages{
		Site: site, Store: o.Store, Scopes: d.scopes, Issuer: cfg.Issuer, AuthCodeTTL: cfg.AuthCodeTTL,
		RequirePKCE: cfg.RequirePKCE,
	}).Mount(mux)
}
