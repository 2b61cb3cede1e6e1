package token

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// authorizationCode is the access token request of the authorization code
// grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.5–4.6). A code is bound to
// its client, redirect URI, PKCE challenge, user and scopes; it is redeemed
// once (store.RedeemAuthorizationCode), its bindings checked in the
// redemption, and a second use revokes what the first issued (RFC 6749
// §4.1.2). The tokens are minted once the redemption has committed.
func (h *Handler) authorizationCode(r *http.Request, client store.Client, f oauth.Form) (*Response, error) {
	ctx := r.Context()
	raw := f.Get("code")
	if raw == "" {
		return nil, oauth.NewError(oauth.InvalidRequest, "The code parameter is missing.")
	}
	now := h.Now()
	withRefresh := client.AllowsGrant(GrantRefreshToken)
	grantID, err := newID(h.Rand)
	if err != nil {
		return nil, oauth.Unavailable(err)
	}
	var refresh string
	if withRefresh {
		if refresh, err = secret.NewToken(h.Rand); err != nil {
			return nil, oauth.Unavailable(fmt.Errorf("make refresh token: %w", err))
		}
	}
	var info grantInfo
	code, err := h.Store.RedeemAuthorizationCode(ctx, secret.Hash(raw), client.ID, now,
		func(c store.AuthorizationCode, u store.User) (store.Issuance, error) {
			if err := checkCodeBindings(c, f); err != nil {
				return store.Issuance{}, err
			}
			var grant store.Grant
			info, grant = h.newGrant(grantID, GrantAuthorizationCode, client, c.UserID, c.Scopes, c.Resource, c.AuthTime, withRefresh, now)
			info.Nonce = c.Nonce
			info.setUser(u)
			iss := store.Issuance{Grant: &grant}
			if withRefresh {
				iss.RefreshToken = new(h.refreshRecord(info, refresh, now))
			}
			return iss, nil
		})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, invalidCode()
	case errors.Is(err, store.ErrConflict) && !code.RedeemedAt.IsZero():
		return nil, h.codeReused(r, code)
	case errors.Is(err, store.ErrConflict): // expired unredeemed
		return nil, invalidCode()
	case err != nil:
		return nil, redeemError("redeem authorization code", err)
	}
	resp, err := h.mint(info, code.Scopes, true, now)
	if err != nil {
		return nil, oauth.Unavailable(err)
	}
	resp.RefreshToken = refresh
	return resp, nil
}

// checkCodeBindings checks the redirect URI and PKCE verifier against what
// the authorization request bound the code to.
func checkCodeBindings(code store.AuthorizationCode, f oauth.Form) error {
	// The redirect_uri must be sent, and identical, when the authorization
	// request carried one (RFC 6749 §4.1.3).
	if code.RedirectURI != "" && f.Get("redirect_uri") != code.RedirectURI {
		return oauth.NewError(oauth.InvalidGrant, "The redirect_uri does not match the authorization request.")
	}
	if err := oauth.CheckVerifier(code.CodeChallenge, f.Get("code_verifier")); err != nil {
		return err
	}
	return nil
}

// codeReused answers a second use of a code: it fails, and the grant the
// first use created is revoked (RFC 6749 §4.1.2, AZ-22).
func (h *Handler) codeReused(r *http.Request, code store.AuthorizationCode) error {
	if code.GrantID != "" {
		err := h.Store.RevokeGrant(r.Context(), code.GrantID, h.Now())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return oauth.Unavailable(fmt.Errorf("revoke grant of reused code: %w", err))
		}
		h.Logger.WarnContext(r.Context(), "authorization code reused; grant revoked", "client_id", code.ClientID, "sub", code.UserID)
	}
	return invalidCode()
}

func invalidCode() error {
	return oauth.NewError(oauth.InvalidGrant, "The authorization code is invalid, expired or used.")
}
