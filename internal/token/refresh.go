package token

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// refresh is the refresh token grant (RFC 6749 §6). Refresh tokens rotate on
// every use, and presenting a rotated one revokes its whole grant (RFC 9700
// §4.14.2, RT-02, RT-03) — except within a short grace window, where a
// retried refresh gets the same successor again (RT-04), because platforms
// retry when a response is lost.
//
// The checks run inside the store's rotation, on the generation and user
// it reads in the rotation's transaction: one store call per refresh. The
// tokens are minted once the rotation is stored; should that fail, the
// client's retry gets the same successor within the grace window.
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
	now := h.Now()
	rawNext := h.successor(raw)
	var (
		info         grantInfo
		accessScopes []string
		withID       bool
	)
	old, err := h.Store.RotateRefreshToken(ctx, secret.Hash(raw), now,
		func(old store.RefreshToken, u store.User, userErr error) (store.RefreshToken, error) {
			// Another client's token fails without touching the owner's (RT-01).
			if old.ClientID != client.ID {
				return store.RefreshToken{}, invalidRefresh()
			}
			if !old.RotatedAt.IsZero() && old.RevokedAt.IsZero() {
				return store.RefreshToken{}, errRotated
			}
			if !old.Active(now) {
				return store.RefreshToken{}, invalidRefresh()
			}
			var err error
			info, accessScopes, err = h.refreshGrant(client, old, requested, userError(old.UserID, u, userErr))
			if err != nil {
				return store.RefreshToken{}, err
			}
			info.setUser(u)
			withID = h.refreshWithID(old.GrantKind)
			return h.refreshRecord(info, rawNext, now), nil
		})
	var oerr *oauth.Error
	switch {
	case errors.Is(err, store.ErrNotFound):
		return h.refreshNotOurs(ctx, client, raw)
	case errors.Is(err, errRotated):
		return h.reuse(r, client, old, raw, requested, now)
	case errors.Is(err, store.ErrConflict):
		// Another request rotated this generation first (REL-03), or its
		// grant was revoked.
		if old, err = h.Store.RefreshToken(ctx, old.Hash); err != nil {
			return nil, oauth.Unavailable(fmt.Errorf("reload refresh token: %w", err))
		}
		return h.reuse(r, client, old, raw, requested, now)
	case errors.As(err, &oerr):
		return nil, oerr
	case err != nil:
		return nil, oauth.Unavailable(fmt.Errorf("rotate refresh token: %w", err))
	}
	resp, err := h.mint(info, accessScopes, withID, now)
	if err != nil {
		return nil, oauth.Unavailable(err)
	}
	resp.RefreshToken = rawNext
	return resp, nil
}

// refreshNotOurs answers a refresh token grantd did not issue: an upstream
// refresh token a passthrough client holds, refreshed at its upstream, or
// else an invalid one.
func (h *Handler) refreshNotOurs(ctx context.Context, client store.Client, raw string) (*Response, error) {
	rec, err := h.Store.PassthroughToken(ctx, secret.Hash(raw))
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidRefresh()
	}
	if err != nil {
		return nil, oauth.Unavailable(fmt.Errorf("load passthrough token: %w", err))
	}
	return h.refreshPassthrough(ctx, client, raw, rec)
}

// refreshWithID reports whether a refresh of a family whose grant is of
// kind returns an ID token (when the scope has openid): a device grant's
// refreshes follow RESULT_TOKEN_SET, as its first token set did, and any
// other grant's always may, as its first did (OpenID Connect Core §12.2). A
// family with no grant record (kind "") began as a device grant: before
// grants were recorded, grantd had no other.
func (h *Handler) refreshWithID(kind string) bool {
	if kind == GrantDeviceCode || kind == "" {
		return h.TokenSet.ID
	}
	return true
}

// errRotated stops the rotation of a generation that was rotated before:
// the refresh goes on as a reuse.
var errRotated = errors.New("refresh token already rotated")

// refreshGrant re-checks the user and narrows the scope of a refresh: scope
// can only narrow, and the next refresh token keeps the original scope and
// resource (RFC 6749 §6, RT-05). client is the authenticated client, whose
// token t is (the caller checked); its audience shapes the access token.
// userErr is userError's verdict on t's user.
func (h *Handler) refreshGrant(client store.Client, t store.RefreshToken, requested []string, userErr error) (grantInfo, []string, error) {
	if userErr != nil {
		return grantInfo{}, nil, userErr
	}
	accessScopes := t.Scopes
	if len(requested) > 0 {
		if !oauth.Subset(requested, t.Scopes) {
			return grantInfo{}, nil, oauth.NewError(oauth.InvalidScope, "The requested scope exceeds the granted scope.")
		}
		accessScopes = requested
	}
	return grantInfo{
		GrantID: t.GrantID, ClientID: t.ClientID, UserID: t.UserID, Scopes: t.Scopes, AuthTime: t.AuthTime,
		Audience: h.audience(client, t.Resource), Resource: t.Resource, Expires: t.FamilyExpiresAt,
	}, accessScopes, nil
}

// reuse answers a rotated refresh token presented again. Within the grace
// window, and only while its successor is unused, it gets that same successor
// and a fresh access token (RT-04); otherwise the grant is revoked, the live
// descendant included (RT-03).
func (h *Handler) reuse(r *http.Request, client store.Client, old store.RefreshToken, raw string, requested []string, now time.Time) (*Response, error) {
	if h.RefreshTokenGrace > 0 && now.Sub(old.RotatedAt) <= h.RefreshTokenGrace {
		next, err := h.Store.RefreshSuccessor(r.Context(), old.Hash)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, oauth.Unavailable(fmt.Errorf("load refresh successor: %w", err))
		}
		rawNext := h.successor(raw)
		if err == nil && next.Hash == secret.Hash(rawNext) && next.Active(now) {
			u, uerr := h.activeUser(r, next.UserID)
			info, accessScopes, err := h.refreshGrant(client, next, requested, uerr)
			if err != nil {
				return nil, err
			}
			info.setUser(u)
			resp, err := h.mint(info, accessScopes, h.refreshWithID(next.GrantKind), now)
			if err != nil {
				return nil, oauth.Unavailable(err)
			}
			resp.RefreshToken = rawNext
			return resp, nil
		}
	}
	if err := h.Store.RevokeGrant(r.Context(), old.GrantID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, oauth.Unavailable(fmt.Errorf("revoke grant: %w", err))
	}
	h.Metrics.RefreshReuse()
	h.Logger.WarnContext(r.Context(), "refresh token reused; grant revoked", "event", "refresh_token.reuse_detected",
		"client_id", old.ClientID, "user_id", old.UserID, "grant_id", old.GrantID)
	return nil, invalidRefresh()
}

// successor derives the refresh token that replaces raw: HMAC-SHA256 under a
// server secret. Deriving rather than drawing it lets a retried refresh get
// the same successor although only hashes are stored; without the key, the
// old token tells nothing about the new one.
func (h *Handler) successor(raw string) string {
	m := hmac.New(sha256.New, h.SuccessorKey)
	m.Write([]byte(raw))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func invalidRefresh() error {
	return oauth.NewError(oauth.InvalidGrant, "The refresh token is invalid, expired or revoked.")
}
