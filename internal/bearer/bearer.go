// Package bearer decides whether one of grantd's access tokens is active:
// signed by our keys as an RFC 9068 access token, issued by us, unexpired,
// not revoked, and still backed by a live grant, user and client. The
// introspection and userinfo endpoints share it.
package bearer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/store"
)

// ErrInactive reports a token that is not active, for whatever reason; the
// reason is never told (RFC 7662 §2.2, INT-03).
var ErrInactive = errors.New("bearer: token inactive")

// Leeway tolerates clock skew between instances for iat (REL-11).
const Leeway = 60 * time.Second

// Checker checks access tokens.
type Checker struct {
	Store  store.Store
	Keys   *keys.Set
	Issuer string
	Now    func() time.Time
}

// Check returns the claims of an active access token. It returns ErrInactive
// for any token that is not, and another error when the store cannot say —
// which callers must not turn into "inactive" (SECURITY.md C.1).
func (c *Checker) Check(ctx context.Context, raw string) (oauth.AccessTokenClaims, error) {
	var claims oauth.AccessTokenClaims
	if err := c.Keys.Verify(raw, keys.TypeAccessToken, &claims); err != nil {
		return claims, ErrInactive
	}
	now := c.Now()
	if claims.Issuer != c.Issuer || claims.ID == "" || claims.GrantID == "" ||
		now.Unix() >= claims.ExpiresAt || claims.IssuedAt > now.Add(Leeway).Unix() {
		return claims, ErrInactive
	}
	revoked, err := c.Store.AccessTokenRevoked(ctx, claims.ID)
	if err != nil {
		return claims, fmt.Errorf("check access token revocation: %w", err)
	}
	if revoked {
		return claims, ErrInactive
	}
	if err := c.checkGrant(ctx, claims.GrantID, now); err != nil {
		return claims, err
	}
	return claims, nil
}

// CheckGrant reports ErrInactive unless the grant, its user and its client
// are all still live (RT-07: disabling a user or client ends their tokens).
func (c *Checker) CheckGrant(ctx context.Context, grantID string) error {
	return c.checkGrant(ctx, grantID, c.Now())
}

func (c *Checker) checkGrant(ctx context.Context, grantID string, now time.Time) error {
	g, err := c.Store.Grant(ctx, grantID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrInactive
	}
	if err != nil {
		return fmt.Errorf("load grant: %w", err)
	}
	if !g.RevokedAt.IsZero() || !now.Before(g.ExpiresAt) {
		return ErrInactive
	}
	u, err := c.Store.User(ctx, g.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return ErrInactive
	}
	if err != nil {
		return fmt.Errorf("load user: %w", err)
	}
	cl, err := c.Store.Client(ctx, g.ClientID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && cl.Disabled) {
		return ErrInactive
	}
	if err != nil {
		return fmt.Errorf("load client: %w", err)
	}
	return nil
}
