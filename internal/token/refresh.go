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
// One store call per refresh: the rotation (store.RotateRefreshToken)
// re-checks the user and client and stores the successor computed from the
// generation it read, in one transaction. The tokens are minted once the
// rotation has committed; should that fail, the client's retry gets the
// same successor within the grace window.
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
	)
	old, err := h.Store.RotateRefreshToken(ctx, secret.Hash(raw), client.ID, now,
		func(old store.RefreshToken, u store.User) (store.Issuance, error) {
			var err error
			if info, accessScopes, err = h.refreshGrant(client, old, requested); err != nil {
				return store.Issuance{}, err
			}
			info.setUser(u)
			return store.Issuance{RefreshToken: new(h.refreshRecord(info, rawNext, now))}, nil
		})
	switch {
	case errors.Is(err, store.ErrNotFound): // unknown, or another client's (RT-01)
		return h.refreshNotOurs(ctx, client, raw)
	case errors.Is(err, store.ErrConflict) && !old.RotatedAt.IsZero() && old.RevokedAt.IsZero():
		return h.reuse(r, client, old, raw, requested, now)
	case errors.Is(err, store.ErrConflict): // revoked or expired
		return nil, invalidRefresh()
	case err != nil:
		return nil, redeemError("rotate refresh token", err)
	}
	resp, err := h.mint(info, accessScopes, h.refreshWithID(old.GrantKind), now)
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

// refreshGrant narrows the scope of a refresh: scope can only narrow, and
// the next refresh token keeps the original scope and resource (RFC 6749 §6,
// RT-05). client is the authenticated client, whose token t is (the caller
// checked); its audience shapes the access token.
func (h *Handler) refreshGrant(client store.Client, t store.RefreshToken, requested []string) (grantInfo, []string, error) {
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
			u, err := h.activeUser(r, next.UserID)
			if err != nil {
				return nil, err
			}
			info, accessScopes, err := h.refreshGrant(client, next, requested)
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
