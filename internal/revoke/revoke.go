package revoke

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/grantd/grantd/internal/clientauth"
	"github.com/grantd/grantd/internal/federation"
	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/upstream"
)

// Path is where Mount serves the endpoint.
const Path = "/revoke"

// Token type hints (RFC 7009 §2.1).
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// Store is the part of the store revocation uses: the tokens it revokes,
// the grants they end, and passthrough clients' upstream tokens.
type Store interface {
	store.RefreshTokens
	store.AccessTokens
	store.Grants
	store.PassthroughTokens
}

// Handler serves POST /revoke.
type Handler struct {
	Store Store
	Auth  *clientauth.Authenticator
	// Keys and Issuer recognise grantd's access tokens: a JWT verified by
	// Keys as an at+jwt, with iss equal to Issuer.
	Keys   *keys.Set
	Issuer string
	// Limiter and Budget throttle, per client, requests whose token is not
	// the client's (REV-05). A nil Limiter disables this; with a Limiter,
	// Budget must be positive.
	Limiter ratelimit.Limiter
	Budget  ratelimit.Budget
	// Upstreams revokes, at their upstream, the upstream refresh tokens
	// passthrough clients hold; nil when there are none.
	Upstreams *federation.Directory
	Now       func() time.Time
	Logger    *slog.Logger
}

// Mount registers the endpoint on mux. Every method reaches the handler, so
// that a GET gets the 405 of oauth.ParseForm with an OAuth error body.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle(Path, h)
}

// ServeHTTP answers a revocation request: 200 with an empty body once the
// revocation is durable, or whenever there was nothing of the client's to
// revoke (RFC 7009 §2.2).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		oauth.WriteError(w, r, h.Logger, err)
		return
	}
	oauth.SetNoStore(w.Header())
	w.WriteHeader(http.StatusOK)
}

// revoker revokes raw as one kind of token when it is one of caller's, and
// reports whether it was. It returns an error only when the store fails.
type revoker func(ctx context.Context, caller store.Client, raw string) (mine bool, err error)

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	f, err := oauth.ParseForm(w, r)
	if err != nil {
		return err
	}
	caller, err := h.Auth.Authenticate(r.Context(), r, f)
	if err != nil {
		return err
	}
	raw := f.Get("token")
	if raw == "" {
		return oauth.NewError(oauth.InvalidRequest, "The token parameter is missing.")
	}
	// The hint orders the search and never limits it (§2.1, REV-02).
	kinds := []revoker{h.refreshToken, h.passthroughToken, h.accessToken}
	if f.Get("token_type_hint") == HintAccessToken {
		kinds[0], kinds[2] = kinds[2], kinds[0]
	}
	for _, revoke := range kinds {
		mine, err := revoke(r.Context(), caller, raw)
		if err != nil || mine {
			return err
		}
	}
	return h.spend(r, caller.ID)
}

// refreshToken revokes the grant of one of caller's refresh tokens: every
// generation of it and every access token issued under it (REV-03).
func (h *Handler) refreshToken(ctx context.Context, caller store.Client, raw string) (bool, error) {
	rt, err := h.Store.RefreshToken(ctx, secret.Hash(raw))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, oauth.Unavailable(fmt.Errorf("load refresh token: %w", err))
	}
	// Another client's token: nothing is revoked, and the answer is that of
	// an unknown token (REV-01).
	if rt.ClientID != caller.ID {
		return false, nil
	}
	return true, h.revokeGrant(ctx, caller, rt.GrantID, rt.UserID)
}

// revokeGrant revokes one of caller's grants and every token issued under
// it.
func (h *Handler) revokeGrant(ctx context.Context, caller store.Client, grantID, userID string) error {
	err := h.Store.RevokeGrant(ctx, grantID, h.Now())
	// A grant that is gone was purged after it expired, and every token of
	// it with it: there is nothing left to revoke.
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return oauth.Unavailable(fmt.Errorf("revoke grant %q: %w", grantID, err))
	}
	h.Logger.InfoContext(ctx, "grant revoked", "event", "grant.revoked", "client_id", caller.ID, "user_id", userID,
		"grant_id", grantID)
	return nil
}

// passthroughToken revokes an upstream refresh token one of caller's
// devices holds (a passthrough client): at the upstream, when it has a
// revocation endpoint, then grantd's record of it. An upstream that cannot
// be reached is 503, so that the client tries again.
func (h *Handler) passthroughToken(ctx context.Context, caller store.Client, raw string) (bool, error) {
	rec, err := h.Store.PassthroughToken(ctx, secret.Hash(raw))
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.ClientID != caller.ID) {
		return false, nil
	}
	if err != nil {
		return false, oauth.Unavailable(fmt.Errorf("load passthrough token: %w", err))
	}
	if h.Upstreams != nil {
		e, err := h.Upstreams.Lookup(ctx, rec.UpstreamID)
		if err == nil {
			err = e.Provider.Revoke(ctx, raw, HintRefreshToken)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, upstream.ErrNoRevocation) {
			return false, oauth.Unavailable(fmt.Errorf("revoke at upstream %q: %w", rec.UpstreamID, err))
		}
	}
	if err := h.Store.DeletePassthroughToken(ctx, rec.Hash); err != nil {
		return false, oauth.Unavailable(fmt.Errorf("delete passthrough token: %w", err))
	}
	h.Logger.InfoContext(ctx, "passthrough refresh token revoked", "client_id", caller.ID, "upstream", rec.UpstreamID)
	return true, nil
}

// accessToken revokes one of caller's access tokens, by its jti, until its
// exp. It leaves the grant and its refresh token alone, unless the caller
// is a client whose revocations end grants (store.Client.RevokeEndsGrant):
// then it revokes the token's whole grant, as revoking its refresh token
// would.
func (h *Handler) accessToken(ctx context.Context, caller store.Client, raw string) (bool, error) {
	var c oauth.AccessTokenClaims
	if err := h.Keys.Verify(raw, keys.TypeAccessToken, &c); err != nil {
		return false, nil
	}
	if c.Issuer != h.Issuer || c.ID == "" || c.ClientID != caller.ID {
		return false, nil
	}
	if err := h.Store.RevokeAccessToken(ctx, c.ID, time.Unix(c.ExpiresAt, 0)); err != nil {
		return false, oauth.Unavailable(fmt.Errorf("revoke access token: %w", err))
	}
	h.Logger.InfoContext(ctx, "access token revoked", "client_id", caller.ID, "user_id", c.Subject, "jti", c.ID)
	if caller.RevokeEndsGrant && c.GrantID != "" {
		return true, h.revokeGrant(ctx, caller, c.GrantID, c.Subject)
	}
	return true, nil
}

// spend charges a request whose token was not the caller's to the caller's
// budget (REV-05).
func (h *Handler) spend(r *http.Request, clientID string) error {
	if h.Limiter == nil {
		return nil
	}
	ok, retry, err := h.Limiter.Take(r.Context(), "revoke:"+clientID, h.Budget, h.Now())
	if err != nil {
		return oauth.Unavailable(fmt.Errorf("revocation budget: %w", err))
	}
	if !ok {
		return oauth.TooManyRequests(retry)
	}
	return nil
}
