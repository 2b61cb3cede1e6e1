package token

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// refresh is the refresh token grant (RFC 6749 §6). Refresh tokens rotate on
// every use, and presenting a rotated one revokes its whole family (RFC 9700
// §4.14.2, RT-02, RT-03).
func (h *Handler) refresh(r *http.Request, client store.Client, f oauth.Form) (*Response, error) {
	ctx := r.Context()
	raw := f.Get("refresh_token")
	if raw == "" {
		return nil, oauth.NewError(oauth.InvalidRequest, "The refresh_token parameter is missing.")
	}
	requested, perr := oauth.ParseScope(f.Get("scope"))
	if perr != nil {
		return nil, perr
	}
	old, err := h.Store.RefreshToken(ctx, secret.Hash(raw))
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidRefresh()
	}
	if err != nil {
		return nil, oauth.Unavailable(fmt.Errorf("load refresh token: %w", err))
	}
	// Another client's token fails without touching the owner's (RT-01).
	if old.ClientID != client.ID {
		return nil, invalidRefresh()
	}
	now := h.Now()
	if !old.RotatedAt.IsZero() && old.RevokedAt.IsZero() {
		return nil, h.revokeFamily(r, old, "refresh token reused")
	}
	if !old.Active(now) {
		return nil, invalidRefresh()
	}
	if err := h.checkUser(r, old.UserID); err != nil {
		return nil, err
	}
	// Scope can only narrow (RFC 6749 §6, RT-05); the new refresh token keeps
	// the original scope.
	accessScopes := old.Scopes
	if len(requested) > 0 {
		if !oauth.Subset(requested, old.Scopes) {
			return nil, oauth.NewError(oauth.InvalidScope, "The requested scope exceeds the granted scope.")
		}
		accessScopes = requested
	}
	info := grantInfo{ClientID: old.ClientID, UserID: old.UserID, Scopes: old.Scopes, AuthTime: old.AuthTime}
	resp, err := h.mint(info, accessScopes, now)
	if err != nil {
		return nil, oauth.Unavailable(err)
	}
	rawNext, next, err := h.newRefreshToken(info, old.FamilyID, old.FamilyExpiresAt, now)
	if err != nil {
		return nil, oauth.Unavailable(err)
	}
	err = h.Store.RotateRefreshToken(ctx, old.Hash, next, now)
	if errors.Is(err, store.ErrConflict) {
		// Another request rotated this generation first: this is a reuse.
		return nil, h.revokeFamily(r, old, "refresh token reused concurrently")
	}
	if err != nil {
		return nil, oauth.Unavailable(fmt.Errorf("rotate refresh token: %w", err))
	}
	resp.RefreshToken = rawNext
	return resp, nil
}

// revokeFamily answers a refresh token reuse: every generation of the family
// is revoked, the live descendant included (RT-03).
func (h *Handler) revokeFamily(r *http.Request, t store.RefreshToken, why string) error {
	if err := h.Store.RevokeRefreshFamily(r.Context(), t.FamilyID, h.Now()); err != nil {
		return oauth.Unavailable(fmt.Errorf("revoke refresh family: %w", err))
	}
	h.Logger.WarnContext(r.Context(), why+"; family revoked", "client_id", t.ClientID, "sub", t.UserID)
	return invalidRefresh()
}

func invalidRefresh() error {
	return oauth.NewError(oauth.InvalidGrant, "The refresh token is invalid, expired or revoked.")
}
