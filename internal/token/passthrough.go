package token

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/grantd/grantd/internal/federation"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/upstream"
)

// A passthrough client's device receives the upstream's own tokens of the
// approving user's sign-in (the behaviour of the design grantd follows),
// filtered by RESULT_TOKEN_SET, once; grantd keeps them sealed only until
// then, and afterwards only the hash of the upstream refresh token, to
// refresh it and revoke it through grantd with grantd's own client
// credentials at the upstream, which the device never holds.

// redeemPassthrough hands over an approved passthrough grant's upstream
// tokens, once (store.RedeemDeviceGrant), recording the hash of their
// refresh token when the device gets it.
func (h *Handler) redeemPassthrough(r *http.Request, client store.Client, hash string) (*Response, error) {
	ctx, now := r.Context(), h.Now()
	if h.Upstreams == nil {
		return nil, oauth.Unavailable(errors.New("passthrough client, and no upstream providers"))
	}
	var held federation.Held
	_, err := h.Store.RedeemDeviceGrant(ctx, hash, client.ID, now, func(g store.DeviceGrant, _ store.User) (store.Issuance, error) {
		var err error
		if held, err = h.Upstreams.Open(g.UpstreamTokens, store.SealedDeviceTokens, hash); err != nil {
			return store.Issuance{}, err
		}
		if !h.TokenSet.Refresh || held.Tokens.RefreshToken == "" {
			return store.Issuance{}, nil
		}
		return store.Issuance{Passthrough: h.passthroughRecord(client, g.UserID, held, now)}, nil
	})
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		return nil, deviceCodeUsed()
	case err != nil:
		return nil, redeemError("redeem passthrough device grant", err)
	}
	h.Logger.InfoContext(ctx, "passthrough device grant redeemed", "client_id", client.ID, "upstream", held.Upstream)
	return h.passthroughResponse(held.Tokens, now), nil
}

// passthroughRecord is the record of held's refresh token, held by client
// for the user whose grantd id is userID.
func (h *Handler) passthroughRecord(client store.Client, userID string, held federation.Held, now time.Time) *store.PassthroughToken {
	return &store.PassthroughToken{Hash: secret.Hash(held.Tokens.RefreshToken), ClientID: client.ID, UserID: userID,
		UpstreamID: held.Upstream, CreatedAt: now, ExpiresAt: now.Add(h.RefreshTokenTTL)}
}

// passthroughResponse is the token response of upstream tokens, filtered by
// RESULT_TOKEN_SET.
func (h *Handler) passthroughResponse(t upstream.Tokens, now time.Time) *Response {
	resp := &Response{AccessToken: t.AccessToken, TokenType: "Bearer", Scope: t.Scope}
	if !t.Expiry.IsZero() {
		resp.ExpiresIn = max(int64(t.Expiry.Sub(now)/time.Second), 0)
	}
	if h.TokenSet.ID {
		resp.IDToken = t.IDToken
	}
	if h.TokenSet.Refresh {
		resp.RefreshToken = t.RefreshToken
	}
	return resp
}

// refreshPassthrough is the refresh token grant for an upstream refresh
// token a passthrough client holds: grantd refreshes it at the upstream
// with its own client credentials. The upstream's invalid_grant ends the
// record and is the answer; any other failure is 503 with Retry-After,
// since the token may still be good.
func (h *Handler) refreshPassthrough(ctx context.Context, client store.Client, raw string, rec store.PassthroughToken) (*Response, error) {
	if rec.ClientID != client.ID || h.Upstreams == nil {
		return nil, invalidRefresh() // another client's token: as an unknown one (RT-01)
	}
	user, err := h.Store.User(ctx, rec.UserID)
	if err := userError(rec.UserID, user, err); err != nil {
		return nil, err
	}
	e, err := h.Upstreams.Lookup(ctx, rec.UpstreamID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidRefresh() // the upstream was removed: nothing can refresh it
	}
	if err != nil {
		return nil, oauth.Unavailable(fmt.Errorf("look up upstream %q: %w", rec.UpstreamID, err))
	}
	now := h.Now()
	t, err := e.Provider.Refresh(ctx, raw, user.UpstreamSubject)
	var ue *upstream.Error
	switch {
	case errors.As(err, &ue) && ue.Code == "invalid_grant":
		if err := h.Store.DeletePassthroughToken(ctx, rec.Hash); err != nil {
			h.Logger.WarnContext(ctx, "delete a dead passthrough token", "err", err)
		}
		return nil, invalidRefresh()
	case err != nil:
		return nil, oauth.Unavailable(fmt.Errorf("refresh at upstream %q: %w", rec.UpstreamID, err))
	}
	if t.RefreshToken != "" && t.RefreshToken != raw {
		next := h.passthroughRecord(client, rec.UserID, federation.Held{Upstream: rec.UpstreamID, Tokens: t}, now)
		if err := h.Store.ReplacePassthroughToken(ctx, rec.Hash, *next); err != nil {
			return nil, oauth.Unavailable(fmt.Errorf("record the upstream's new refresh token: %w", err))
		}
	}
	resp := h.passthroughResponse(t, now)
	if t.RefreshToken == raw {
		resp.RefreshToken = "" // unchanged: the client keeps the one it has (RFC 6749 §6)
	}
	return resp, nil
}
