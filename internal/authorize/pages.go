package authorize

import (
	"crypto/rand"
	"embed"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/grantd/grantd/internal/scopes"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/web"
)

//go:embed templates/*.html
var pageTemplates embed.FS

// DefaultAuthCodeTTL is the lifetime of an authorization code when
// Pages.AuthCodeTTL is zero: one minute (AZ-21).
const DefaultAuthCodeTTL = time.Minute

// Store is the part of the store the pages use: the clients that ask, the
// codes they issue, the consents they remember, and the grants and users
// the account page lists and revokes.
type Store interface {
	store.Clients
	store.AuthorizationCodes
	store.Consents
	store.Grants
	store.Users
}

// Pages serves the authorization endpoint, the consent page and the account
// page. Set the fields, then call Mount once. The clock, randomness and log
// are the Site's.
type Pages struct {
	// Site provides sessions, sign-in, CSRF tokens and rendering. Required.
	Site *web.Site
	// Store holds clients, codes, consents and grants. Required.
	Store Store
	// Scopes describes the scopes the consent and account pages list; nil
	// knows the built-in descriptions only.
	Scopes *scopes.Catalog
	// Issuer is sent as iss in every authorization response (RFC 9207);
	// empty means Site.Issuer.
	Issuer string
	// AuthCodeTTL is the lifetime of a code (default DefaultAuthCodeTTL).
	AuthCodeTTL time.Duration
	// RequirePKCE demands a code_challenge from confidential clients too;
	// public clients must always send one (AZ-07).
	RequirePKCE bool

	once      sync.Once
	consent   *web.Page
	account   *web.Page
	revokeAsk *web.Page
}

func (p *Pages) setup() {
	p.once.Do(func() {
		p.consent = web.MustParsePage(pageTemplates, "templates/consent.html")
		p.account = web.MustParsePage(pageTemplates, "templates/account.html")
		p.revokeAsk = web.MustParsePage(pageTemplates, "templates/revoke.html")
	})
}

// Mount registers the pages on mux, each behind Site.Handler:
//
//	GET  /authorize          authorization request (RFC 6749 §4.1.1)
//	POST /authorize          the same, form-encoded (OpenID Connect Core §3.1.2.1)
//	POST /authorize/consent  Approve or Deny on the consent page
//	GET  /account            linked apps and devices, one entry per grant (DEV-23)
//	GET  /account/revoke     ?grant=ID: confirm the revocation of one grant
//	POST /account/revoke     revoke it
func (p *Pages) Mount(mux *http.ServeMux) {
	p.setup()
	mux.Handle("GET /authorize", p.Site.Handler(http.HandlerFunc(p.authorize)))
	// A cross-site form POST to /authorize (OpenID Connect Core §3.1.2.1) is
	// a top-level navigation from the client's site, as a GET is, and may do
	// nothing a GET may not; the session cookie (SameSite=Lax) is not even
	// sent with it, so it always starts at sign-in.
	p.Site.AllowCrossSite("POST /authorize")
	mux.Handle("POST /authorize", p.Site.Handler(http.HandlerFunc(p.authorize)))
	mux.Handle("POST /authorize/consent", p.Site.Handler(http.HandlerFunc(p.decide)))
	mux.Handle("GET /account", p.Site.Handler(http.HandlerFunc(p.showAccount)))
	mux.Handle("GET /account/revoke", p.Site.Handler(http.HandlerFunc(p.askRevoke)))
	mux.Handle("POST /account/revoke", p.Site.Handler(http.HandlerFunc(p.revoke)))
}

func (p *Pages) rand() io.Reader {
	if p.Site.Rand != nil {
		return p.Site.Rand
	}
	return rand.Reader
}

func (p *Pages) issuer() string {
	if p.Issuer != "" {
		return p.Issuer
	}
	return p.Site.Issuer
}

func (p *Pages) codeTTL() time.Duration {
	if p.AuthCodeTTL > 0 {
		return p.AuthCodeTTL
	}
	return DefaultAuthCodeTTL
}
