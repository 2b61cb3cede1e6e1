// Package bearer decides whether one of grantd's access tokens is active:
// signed by our keys as an RFC 9068 access token, issued by us, unexpired,
// not revoked, and still backed by a live grant, user and client. The
// introspection and userinfo endpoints share it.
package bearer

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
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
	Store  store.AccessTokens
	Keys   *keys.Set
	Issuer string
	Now    func() time.Time
	// MaxVerified bounds the verified-token cache; zero means maxVerified.
	MaxVerified int

	// verified remembers the claims of tokens whose signature checked out,
	// by SHA-256 of the token: resource servers introspect the same token
	// again and again, and an ES256 verification costs more than the rest
	// of the check together. Equal bytes carry an equal signature, so a hit
	// needs no new verification, only the key still published.
	mu       sync.Mutex
	verified map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	claims oauth.AccessTokenClaims
	kid    string
}

// maxVerified bounds the verified-token cache (about 300 bytes an entry).
const maxVerified = 20_000

// Token is an active access token: its claims, and the name of its grant's
// user, which the store reads in the statement that finds the token live.
type Token struct {
	oauth.AccessTokenClaims
	Username string
}

// Check returns an active access token. It returns ErrInactive for any
// token that is not, and another error when the store cannot say — which
// callers must not turn into "inactive" (docs/SECURITY.md INV-01).
func (c *Checker) Check(ctx context.Context, raw string) (Token, error) {
	return c.CheckIf(ctx, raw, nil)
}

// CheckIf is Check of a token the caller may see: when accept is not nil
// and refuses the token's verified claims, the token is ErrInactive before
// the store is asked about it, so a caller learns of a token it may not see
// no more than of one that does not exist.
func (c *Checker) CheckIf(ctx context.Context, raw string, accept func(oauth.AccessTokenClaims) bool) (Token, error) {
	now := c.Now()
	claims, ok := c.verify(raw, now)
	if !ok {
		return Token{}, ErrInactive
	}
	if claims.Issuer != c.Issuer || claims.ID == "" || claims.GrantID == "" ||
		now.Unix() >= claims.ExpiresAt || claims.IssuedAt > now.Add(Leeway).Unix() {
		return Token{}, ErrInactive
	}
	if accept != nil && !accept(claims) {
		return Token{}, ErrInactive
	}
	username, live, err := c.Store.AccessTokenLive(ctx, claims.ID, claims.GrantID, now)
	if err != nil {
		return Token{}, fmt.Errorf("check access token: %w", err)
	}
	if !live {
		return Token{}, ErrInactive
	}
	return Token{AccessTokenClaims: claims, Username: username}, nil
}

// verify returns the claims of raw if it is an access token signed by one of
// the keys published now, from the cache when it has been verified before.
func (c *Checker) verify(raw string, now time.Time) (oauth.AccessTokenClaims, bool) {
	if len(raw) > keys.MaxTokenBytes {
		return oauth.AccessTokenClaims{}, false
	}
	sum := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	v, hit := c.verified[sum]
	c.mu.Unlock()
	if hit {
		// A withdrawn key (an immediate rotation) ends its tokens at once.
		return v.claims, c.Keys.Published(v.kid)
	}
	var claims oauth.AccessTokenClaims
	kid, err := c.Keys.VerifyKID(raw, keys.TypeAccessToken, &claims)
	if err != nil {
		return claims, false
	}
	c.mu.Lock()
	if c.verified == nil {
		c.verified = make(map[[sha256.Size]byte]verifiedToken)
	}
	if limit := cmp.Or(c.MaxVerified, maxVerified); len(c.verified) >= limit {
		c.evict(now, limit)
	}
	c.verified[sum] = verifiedToken{claims: claims, kid: kid}
	c.mu.Unlock()
	return claims, true
}

// evict makes room in the cache, full at limit entries: expired tokens go,
// then, if that was not a tenth of it, arbitrary ones (map order). Called
// with c.mu held.
func (c *Checker) evict(now time.Time, limit int) {
	n := 0
	for k, v := range c.verified {
		if now.Unix() >= v.claims.ExpiresAt || n < max(1, limit/10) {
			delete(c.verified, k)
			n++
		}
	}
}

// CheckGrant reports ErrInactive unless the grant, its user and its client
// are all still live (RT-07: disabling a user or client ends their tokens).
// Of a live grant it returns its user's name.
func (c *Checker) CheckGrant(ctx context.Context, grantID string) (username string, err error) {
	username, live, err := c.Store.AccessTokenLive(ctx, "", grantID, c.Now())
	if err != nil {
		return "", fmt.Errorf("check grant: %w", err)
	}
	if !live {
		return "", ErrInactive
	}
	return username, nil
}
