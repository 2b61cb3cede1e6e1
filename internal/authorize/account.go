package authorize

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/grantd/grantd/internal/scopes"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/web"
)

// purposeRevoke is the CSRF purpose of the confirmed Revoke form; its
// binding is the grant id.
const purposeRevoke = "account.revoke"

// Grant kinds shown on the account page (store.Grant.Kind).
const (
	kindDevice  = "urn:ietf:params:oauth:grant-type:device_code"
	kindAuthApp = GrantType
)

// accountPage is the data of the account page.
type accountPage struct {
	Account *web.Account
	// Revoked, when not nil, is the grant just revoked, for the notice.
	Revoked *linkedGrant
	Grants  []linkedGrant
}

// linkedGrant is one grant as the account page shows it: which client,
// how, when it was approved and last used, and with what access. It never
// holds a token or code.
type linkedGrant struct {
	ID       string
	Client   string
	Kind     web.Message
	Approved time.Time
	Datetime string // Approved for machines (RFC 3339)
	LastUsed time.Time
	Scopes   []scopes.Described
}

// revokePage is the data of the page that asks to confirm a revocation.
type revokePage struct {
	Account *web.Account
	Grant   linkedGrant
	CSRF    string
}

// showAccount serves GET /account: the devices and apps the signed-in user
// has let use their account, one entry per grant, newest first — the
// client, how it was linked, when it was approved and last used, the
// access in words — each with its own Revoke (DEV-23, RFC 10027 §6.1.6).
// After a revocation (?revoked=GRANT) a notice names what was revoked.
func (p *Pages) showAccount(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := p.Site.RequireUser(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	grants, err := p.Store.GrantsByUser(ctx, user.ID, p.Site.CurrentTime())
	if err != nil {
		p.Site.Log().ErrorContext(ctx, "list grants", "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	page := accountPage{Account: p.Site.AccountOf(sess, user.Name()), Grants: make([]linkedGrant, 0, len(grants))}
	names := map[string]string{}
	for _, g := range grants {
		lg, err := p.describe(ctx, g, names)
		if err != nil {
			p.Site.Log().ErrorContext(ctx, "list grants", "err", err)
			p.Site.Unavailable(w, r)
			return
		}
		page.Grants = append(page.Grants, lg)
	}
	if id := r.URL.Query().Get("revoked"); id != "" {
		if g, err := p.Store.Grant(ctx, id); err == nil && g.UserID == user.ID && !g.RevokedAt.IsZero() {
			if lg, err := p.describe(ctx, g, names); err == nil {
				page.Revoked = &lg
			}
		}
	}
	p.Site.Render(w, r, http.StatusOK, p.account, page)
}

// describe returns g as the account page shows it. names caches client
// names by id.
func (p *Pages) describe(ctx context.Context, g store.Grant, names map[string]string) (linkedGrant, error) {
	name, ok := names[g.ClientID]
	if !ok {
		var err error
		if name, err = p.clientName(ctx, g.ClientID); err != nil {
			return linkedGrant{}, err
		}
		names[g.ClientID] = name
	}
	return linkedGrant{
		ID:       g.ID,
		Client:   name,
		Kind:     kindLabel(g.Kind),
		Approved: g.CreatedAt,
		Datetime: g.CreatedAt.UTC().Format(time.RFC3339),
		LastUsed: g.LastUsedAt,
		Scopes:   p.Scopes.Describe(g.Scopes),
	}, nil
}

// clientName returns the client's display name, its id when it has none
// or is no longer registered.
func (p *Pages) clientName(ctx context.Context, id string) (string, error) {
	c, err := p.Store.Client(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return id, nil
	case err != nil:
		return "", fmt.Errorf("client %q: %w", id, err)
	case c.Name == "":
		return id, nil
	}
	return c.Name, nil
}

func kindLabel(kind string) web.Message {
	switch kind {
	case kindDevice:
		return web.Msg("account.kind_device")
	case kindAuthApp:
		return web.Msg("account.kind_app")
	}
	return web.Msg("account.kind_other")
}

// askRevoke serves GET /account/revoke?grant=ID, the Revoke button of one
// grant: a page that names it and asks to confirm, with a form that posts
// the revocation. Asking changes nothing, so it needs no CSRF token; the
// confirming form does.
func (p *Pages) askRevoke(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := p.Site.RequireUser(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	g, ok := p.ownLiveGrant(w, r, user, r.URL.Query().Get("grant"))
	if !ok {
		return
	}
	lg, err := p.describe(ctx, g, map[string]string{})
	if err != nil {
		p.Site.Log().ErrorContext(ctx, "describe grant", "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	p.Site.Render(w, r, http.StatusOK, p.revokeAsk, revokePage{
		Account: p.Site.AccountOf(sess, user.Name()),
		Grant:   lg,
		CSRF:    p.Site.CSRFToken(sess, purposeRevoke, g.ID),
	})
}

// ownLiveGrant returns the grant id when it is user's and live; otherwise
// it writes the page that says it is gone (another user's grant looks the
// same as an unknown one) or the 503 page, and reports false.
func (p *Pages) ownLiveGrant(w http.ResponseWriter, r *http.Request, user store.User, id string) (store.Grant, bool) {
	if id == "" {
		p.Site.Error(w, r, http.StatusBadRequest, web.Msg("revoke.choose"))
		return store.Grant{}, false
	}
	g, err := p.Store.Grant(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && (g.UserID != user.ID || !g.RevokedAt.IsZero() ||
		!p.Site.CurrentTime().Before(g.ExpiresAt))):
		p.Site.Error(w, r, http.StatusNotFound, web.Msg("revoke.unknown"))
		return store.Grant{}, false
	case err != nil:
		p.Site.Log().ErrorContext(r.Context(), "look up grant", "err", err)
		p.Site.Unavailable(w, r)
		return store.Grant{}, false
	}
	return g, true
}

// revoke serves POST /account/revoke, the confirmed revocation of one
// grant of the signed-in user: the grant, its refresh tokens and, with the
// user's last grant to its client, the remembered consent. It returns to
// the account page, which names what was revoked.
func (p *Pages) revoke(w http.ResponseWriter, r *http.Request) {
	if !p.Site.ParseForm(w, r) {
		return
	}
	sess, user, err := p.currentUser(r)
	switch {
	case err != nil:
		p.Site.Log().ErrorContext(r.Context(), "session lookup failed", "err", err)
		p.Site.Unavailable(w, r)
		return
	case user.ID == "":
		http.Redirect(w, r, web.SignInURL("/account"), http.StatusSeeOther)
		return
	}
	id := r.PostForm.Get("grant_id")
	if !p.Site.CheckForm(w, r, sess, purposeRevoke, id) {
		return
	}
	if id == "" {
		p.Site.Error(w, r, http.StatusBadRequest, web.Msg("revoke.choose"))
		return
	}
	g, err := p.Store.RevokeUserGrant(r.Context(), user.ID, id, p.Site.CurrentTime())
	switch {
	case errors.Is(err, store.ErrNotFound):
		p.Site.Error(w, r, http.StatusNotFound, web.Msg("revoke.unknown"))
		return
	case err != nil:
		p.Site.Log().ErrorContext(r.Context(), "revoke grant", "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	p.Site.Log().InfoContext(r.Context(), "grant revoked by its user", "client_id", g.ClientID, "user_id", user.ID)
	http.Redirect(w, r, "/account?"+url.Values{"revoked": {g.ID}}.Encode(), http.StatusSeeOther)
}
