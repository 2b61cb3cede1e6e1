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
// once, and a second use revokes what the first issued (RFC 6749 §4.1.2).
func (h *Handler) authorizationCode(r *http.Request, client store.Client, f oauth.Form) (*Response, error) {
	ctx := r.Context()
	raw := f.Get("code")
	if raw == "" {
		return nil, oauth.NewError(oauth.InvalidRequest, "The code parameter is missing.")
	}
	code, err := h.Store.AuthorizationCode(ctx, secret.Hash(raw))
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidCode()
	}
	if err != nil {
		return nil, oauth.Unavailable(fmt.Errorf("load authorization code: %w", err))
	}
	if code.ClientID != client.ID {
		return nil, invalidCode()
	}
	now := h.Now()
	if !code.RedeemedAt.IsZero() {
		return nil, h.codeReused(r, code)
	}
	if !now.Before(code.ExpiresAt) {
		return nil, invalidCode()
	}
	if err := checkCodeBindings(code, f); err != nil {
		return nil, err
	}
	user, err := h.activeUser(r, code.UserID)
	if err != nil {
		return nil, err
	}
	withRefresh := client.AllowsGrant(GrantRefreshToken)
	info, grant, err := h.newGrant(GrantAuthorizationCode, client, code.UserID, code.Scopes, code.Resource, code.AuthTime, withRefresh, now)
	if err != nil {
		return nil, oauth.Unavailable(err)
	}
	info.Nonce = code.Nonce
	info.setUser(user)
	resp, rt, err := h.newTokenSet(info, code.Scopes, true, withRefresh, now)
	if err != nil {
		return nil, err
	}
	stored, err := h.Store.RedeemAuthorizationCode(ctx, code.Hash, now, grant, rt)
	if errors.Is(err, store.ErrConflict) {
		return nil, h.codeReused(r, stored) // lost the race to a concurrent redemption
	}
	if err != nil {
		return nil, oauth.Unavailable(fmt.Errorf("redeem authorization code: %w", err))
	}
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
