package authorize

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/scopes"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/web"
)

// purposeConsent is the CSRF purpose of the consent form.
const purposeConsent = "authorize.consent"

// consentPage is the data of the consent page.
type consentPage struct {
	Account *web.Account
	CSRF    string
	Client  string
	// Logo and Website are the client's registered https logo and home
	// page, "" when it has none; WebsiteHost is the home page's host, the
	// link's text.
	Logo, Website, WebsiteHost string
	Scopes                     []scopes.Described
	Host                       string
	Fields                     []field
}

// field is a hidden field of the consent form.
type field struct{ Name, Value string }

// renderConsent shows the consent page: who asks, for what, where the user
// will be sent, and Approve and Deny. The form carries the request's
// parameters, and its CSRF token is bound to the session and to a digest of
// them, so a changed field fails the check (AZ-24, RFC 6749 §10.12).
func (p *Pages) renderConsent(w http.ResponseWriter, r *http.Request, req *request, sess web.Session, user store.User) {
	params := carriedParams(req.params)
	var fields []field
	for _, name := range carried {
		if vs := params[name]; len(vs) == 1 {
			fields = append(fields, field{Name: name, Value: vs[0]})
		}
	}
	name := req.client.Name
	if name == "" {
		name = req.client.ID
	}
	host := ""
	if u, err := url.Parse(req.redirectURI); err == nil {
		host = u.Host
		if host == "" {
			host = u.Scheme
		}
	}
	page := consentPage{
		Account: p.Site.AccountOf(sess, user.Name()),
		CSRF:    p.Site.CSRFToken(sess, purposeConsent, paramsDigest(params)),
		Client:  name,
		Scopes:  p.Scopes.Describe(req.scopes),
		Host:    host,
		Fields:  fields,
	}
	csp := web.CSP{FormAction: web.FormActionSelf + " " + cspSource(req.redirectURI)}
	// The browser loads the logo; the server never fetches it.
	if origin, err := web.HTTPSOrigin(req.client.LogoURI); err == nil {
		page.Logo, csp.Images = req.client.LogoURI, []string{origin}
	}
	if _, err := web.HTTPSOrigin(req.client.ClientURI); err == nil {
		u, _ := url.Parse(req.client.ClientURI)
		page.Website, page.WebsiteHost = req.client.ClientURI, u.Host
	}
	p.Site.RenderCSP(w, r, http.StatusOK, p.consent, page, csp)
}

// decide serves POST /authorize/consent. It checks the CSRF token against
// the session and the posted parameters, then validates the request again
// from those parameters exactly as /authorize does, and checks the sign-in
// again. Deny answers access_denied; Approve remembers the consent and
// issues the code.
func (p *Pages) decide(w http.ResponseWriter, r *http.Request) {
	if !p.Site.ParseForm(w, r) {
		return
	}
	params := carriedParams(r.PostForm)
	sess, ok, err := p.Site.Session(r)
	switch {
	case err != nil:
		p.Site.Log().ErrorContext(r.Context(), "session lookup failed", "err", err)
		p.Site.Unavailable(w, r)
		return
	case !ok:
		p.Site.Forbidden(w, r)
		return
	}
	if !p.Site.CheckForm(w, r, sess, purposeConsent, paramsDigest(params)) {
		return
	}
	req, ok := p.validRequest(w, r, params)
	if !ok {
		return
	}
	sess, user, ok := p.signedIn(w, r, req)
	if !ok {
		return
	}
	switch r.PostForm.Get("action") {
	case "deny":
		p.redirectError(w, r, req, oauth.NewError(oauth.AccessDenied, "The user denied the request."))
	case "approve":
		if err := p.saveConsent(r.Context(), req, user); err != nil {
			p.Site.Log().ErrorContext(r.Context(), "save consent", "client_id", req.client.ID, "err", err)
			p.Site.Unavailable(w, r)
			return
		}
		p.Site.Log().InfoContext(r.Context(), "consent given", "event", "consent.given", "client_id", req.client.ID,
			"user_id", user.ID, "scope", strings.Join(req.scopes, " "))
		p.issue(w, r, req, sess, user)
	default:
		p.Site.Error(w, r, http.StatusBadRequest, web.Msg("error.choose"))
	}
}

// saveConsent remembers that user approved req's scopes for its client,
// together with the scopes approved before.
func (p *Pages) saveConsent(ctx context.Context, req *request, user store.User) error {
	scopes := req.scopes
	old, err := p.Store.Consent(ctx, user.ID, req.client.ID)
	switch {
	case err == nil:
		scopes = append([]string(nil), old.Scopes...)
		for _, s := range req.scopes {
			if !oauth.Subset([]string{s}, scopes) {
				scopes = append(scopes, s)
			}
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return p.Store.SaveConsent(ctx, store.Consent{
		UserID: user.ID, ClientID: req.client.ID, Scopes: scopes, GrantedAt: p.Site.CurrentTime(),
	})
}

// paramsDigest is the canonical digest of a request's parameters that the
// consent form's CSRF token is bound to: SHA-256 of their form encoding,
// whose keys url.Values.Encode sorts.
func paramsDigest(v url.Values) string {
	sum := sha256.Sum256([]byte(v.Encode()))
	return hex.EncodeToString(sum[:])
}

// cspSource returns the CSP source expression that matches a redirect URI:
// its origin for http and https, its scheme for a private-use scheme (RFC
// 8252 §7.1), or "" when it has characters a source expression cannot hold.
func cspSource(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || !cspSafe(u.Scheme) {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return scheme + ":"
	}
	if u.Host == "" || !cspSafe(u.Host) {
		return ""
	}
	return scheme + "://" + u.Host
}

// cspSafe reports whether s has only letters, digits and -.:[]+ .
func cspSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-.:[]+", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
