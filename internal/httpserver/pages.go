package httpserver

import (
	"net/http"

	"github.com/grantd/grantd/internal/authorize"
	"github.com/grantd/grantd/internal/config"
	"github.com/grantd/grantd/internal/device"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/scopes"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/web"
)

// mountPages mounts the browser pages: sign-in, device verification (RFC
// 8628 §3.3), the authorization endpoint with its consent page (RFC 6749
// §4.1) and the account page. They share one attempt limiter, and describe
// scopes with catalog.
func mountPages(mux *http.ServeMux, cfg config.Config, o Options, limiter ratelimit.Limiter,
	verifier *secret.Verifier, browserKey []byte, catalog *scopes.Catalog) {
	site := &web.Site{
		Store: o.Store, Issuer: cfg.Issuer, SessionTTL: cfg.SessionTTL, IPs: cfg.ClientIP(),
		Limiter: limiter, Verifier: verifier, BrowserKey: browserKey,
		SignInBudgets: web.Budgets{
			PerAccount: cfg.SignInLimitAccount, PerIP: cfg.SignInLimitIP, Global: cfg.SignInLimitGlobal,
		},
		Now: o.Now, Rand: o.Rand, Logger: o.Logger,
	}
	site.Mount(mux)
	(&device.Pages{
		Site: site, Store: o.Store, Scopes: catalog, UserCodeFormat: cfg.UserCodeFormat, UserCodeLength: cfg.UserCodeLength,
		UserCodeBudgets: web.Budgets{
			PerAccount: cfg.UserCodeLimitAccount, PerIP: cfg.UserCodeLimitIP, Global: cfg.UserCodeLimitGlobal,
		},
		AWSSampleCompat: cfg.AWSSampleCompat,
	}).Mount(mux)
	(&authorize.Pages{
		Site: site, Store: o.Store, Scopes: catalog, Issuer: cfg.Issuer, AuthCodeTTL: cfg.AuthCodeTTL,
		RequirePKCE: cfg.RequirePKCE,
	}).Mount(mux)
}
