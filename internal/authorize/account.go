package authorize

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/grantd/grantd/internal/scopes"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/web"
)

// purposeRevoke is the CSRF purpose of a Revoke form; its binding is the
// client id.
const purposeRevoke = "account.revoke"

// Grant kinds shown on the account page (store.Grant.Kind).
const (
	kindDevice  = "urn:ietf:params:oauth:grant-type:device_code"
	kindAuthApp = GrantType
)

// accountPage is the data of the account page.
type accountPage struct {
	Account *web.Account
	Revoked bool
	Clients []linkedClient
}

// linkedClient is one client with access to the account, and its grants.
type linkedClient struct {
	ID, Name string
	CSRF     string
	Grants   []linkedGrant
}

// linkedGrant is one grant as the account page shows it. It never holds a
// token or code.
type linkedGrant struct {
	Kind     string
	When     string // for people
	Datetime string // for machines (RFC 3339)
	Scopes   []scopes.Described
}

// showAccount serves GET /account: the apps and devices the signed-in user
// has let use their account, when, with what access, and a Revoke button
// for each (DEV-23, RFC 10027 §6.1.6).
func (p *Pages) showAccount(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := p.Site.RequireUser(w, r)
	if !ok {
		return
	}
	clients, err := p.linked(r.Context(), sess, user)
	if err != nil {
		p.Site.Log().ErrorContext(r.Context(), "list grants", "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	p.Site.Render(w, http.StatusOK, p.account, accountPage{
		Account: p.Site.AccountOf(sess, user.Name()),
		Revoked: r.URL.Query().Get("revoked") == "1",
		Clients: clients,
	})
}

// linked returns the user's live grants grouped by client, newest first.
func (p *Pages) linked(ctx context.Context, sess web.Session, user store.User) ([]linkedClient, error) {
	grants, err := p.Store.GrantsByUser(ctx, user.ID, p.Site.CurrentTime())
	if err != nil {
		return nil, fmt.Errorf("grants by user: %w", err)
	}
	var out []linkedClient
	index := make(map[string]int)
	for _, g := range grants {
		i, seen := index[g.ClientID]
		if !seen {
			name, err := p.clientName(ctx, g.ClientID)
			if err != nil {
				return nil, err
			}
			i = len(out)
			index[g.ClientID] = i
			out = append(out, linkedClient{ID: g.ClientID, Name: name, CSRF: p.Site.CSRFToken(sess, purposeRevoke, g.ClientID)})
		}
		out[i].Grants = append(out[i].Grants, linkedGrant{
			Kind:     kindLabel(g.Kind),
			When:     g.CreatedAt.UTC().Format("2 Jan 2006, 15:04 UTC"),
			Datetime: g.CreatedAt.UTC().Format(time.RFC3339),
			Scopes:   p.Scopes.Describe(g.Scopes),
		})
	}
	return out, nil
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

func kindLabel(kind string) string {
	switch kind {
	case kindDevice:
		return "Device sign-in"
	case kindAuthApp:
		return "Linked app"
	}
	return "Access"
}

// revoke serves POST /account/revoke: it revokes every grant of the user to
// the posted client, their refresh tokens and the remembered consent, then
// returns to the account page with a confirmation.
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
	clientID := r.PostForm.Get("client_id")
	if !p.Site.CheckForm(w, r, sess, purposeRevoke, clientID) {
		return
	}
	if clientID == "" {
		p.Site.Error(w, r, http.StatusBadRequest, "Choose what to revoke.")
		return
	}
	if err := p.Store.RevokeClientGrants(r.Context(), user.ID, clientID, p.Site.CurrentTime()); err != nil {
		p.Site.Log().ErrorContext(r.Context(), "revoke client grants", "client_id", clientID, "err", err)
		p.Site.Unavailable(w, r)
		return
	}
	p.Site.Log().InfoContext(r.Context(), "client access revoked", "client_id", clientID, "user_id", user.ID)
	http.Redirect(w, r, "/account?revoked=1", http.StatusSeeOther)
}
