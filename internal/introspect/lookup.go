package introspect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/grantd/grantd/internal/bearer"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// finder looks raw up as one kind of token. It returns the zero Response
// for a token that is not an active one of its kind, and an error only when
// it cannot tell.
type finder func(ctx context.Context, caller store.Client, raw string) (Response, error)

// lookup searches every kind of token, the hinted kind first: the hint is an
// optimisation and never limits the search (RFC 7662 §2.1). Unknown hints
// are ignored.
func (h *Handler) lookup(r *http.Request, caller store.Client, raw, hint string) (Response, error) {
	kinds := []finder{h.accessToken, h.refreshToken}
	if hint == HintRefreshToken {
		kinds[0], kinds[1] = kinds[1], kinds[0]
	}
	for _, find := range kinds {
		resp, err := find(r.Context(), caller, raw)
		if err != nil || resp.Active {
			return resp, err
		}
	}
	return Response{}, nil
}

// accessToken introspects a JWT access token. Beyond what package bearer
// checks, the caller sees only the tokens visible to it (INT-02, INT-03): a
// token it may not see is inactive, decided before the store is asked, as
// for a token that does not exist.
func (h *Handler) accessToken(ctx context.Context, caller store.Client, raw string) (Response, error) {
	c, err := h.Checker.CheckIf(ctx, raw, func(c oauth.AccessTokenClaims) bool {
		return visible(caller, c.ClientID, c.Audience)
	})
	if errors.Is(err, bearer.ErrInactive) {
		return Response{}, nil
	}
	if err != nil {
		return Response{}, oauth.Unavailable(fmt.Errorf("check access token: %w", err))
	}
	return Response{
		Active: true, Scope: c.Scope, ClientID: c.ClientID, Username: c.Username, TokenType: TypeBearer,
		ExpiresAt: c.ExpiresAt, IssuedAt: c.IssuedAt, Subject: c.Subject, Audience: c.Audience,
		Issuer: c.Issuer, ID: c.ID,
	}, nil
}

// refreshToken introspects an opaque refresh token: active while its
// generation is (not rotated, revoked or expired) and its grant, user and
// client are live, and visible to the caller. Refresh tokens are for the
// authorization server alone (RFC 6749 §1.5), so a caller bound to an
// audience sees only its own.
func (h *Handler) refreshToken(ctx context.Context, caller store.Client, raw string) (Response, error) {
	rt, err := h.Store.RefreshToken(ctx, secret.Hash(raw))
	if errors.Is(err, store.ErrNotFound) {
		return Response{}, nil
	}
	if err != nil {
		return Response{}, oauth.Unavailable(fmt.Errorf("load refresh token: %w", err))
	}
	if !visible(caller, rt.ClientID, "") || !rt.Active(h.Now()) {
		return Response{}, nil
	}
	username, err := h.Checker.CheckGrant(ctx, rt.GrantID)
	if errors.Is(err, bearer.ErrInactive) {
		return Response{}, nil
	}
	if err != nil {
		return Response{}, oauth.Unavailable(fmt.Errorf("check refresh token grant: %w", err))
	}
	exp := rt.ExpiresAt
	if rt.FamilyExpiresAt.Before(exp) {
		exp = rt.FamilyExpiresAt
	}
	return Response{
		Active: true, Scope: strings.Join(rt.Scopes, " "), ClientID: rt.ClientID, Username: username,
		TokenType: TypeRefresh, ExpiresAt: exp.Unix(), IssuedAt: rt.CreatedAt.Unix(), Subject: rt.UserID,
		Audience: rt.Resource, Issuer: h.Checker.Issuer,
	}, nil
}
