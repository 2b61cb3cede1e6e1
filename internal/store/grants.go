package store

import (
	"context"
	"time"
)

// Grant is a user's authorization of a client: what an approved device code
// or a redeemed authorization code creates. Every token issued under it names
// it — refresh tokens by GrantID, access tokens by their grant_id claim — so
// revoking the grant ends them all (RFC 7009 §2.1, DEV-23).
type Grant struct {
	ID       string
	ClientID string
	UserID   string
	Scopes   []string
	// Kind says how the grant was made: the grant type's name, e.g.
	// "urn:ietf:params:oauth:grant-type:device_code" or "authorization_code".
	Kind      string
	CreatedAt time.Time
	// ExpiresAt is when no token of the grant can be valid any more (the end
	// of its refresh family, or of its last access token).
	ExpiresAt time.Time
	RevokedAt time.Time // zero unless revoked
	// LastUsedAt is when tokens were last issued under the grant, to the
	// nearest LastUsedStep: the redemption sets it, and a refresh moves it
	// only when it is more than LastUsedStep old (RotateRefreshToken), so
	// that refreshes seldom write more than their rotation. Zero when not
	// known (a grant stored before schema version 9).
	LastUsedAt time.Time
}

// LastUsedStep is how far a grant's last use must have moved before a
// refresh records it (Grant.LastUsedAt): the account page shows it to the
// day, and a device refreshing every few minutes adds one write an hour.
const LastUsedStep = time.Hour

// Grants stores grants.
type Grants interface {
	// Grant returns the grant with the given id, or ErrNotFound.
	Grant(ctx context.Context, id string) (Grant, error)
	// GrantsByUser returns the user's unrevoked, unexpired grants at now,
	// newest first: the linked clients and devices of the account page.
	GrantsByUser(ctx context.Context, userID string, now time.Time) ([]Grant, error)
	// GrantsByClient returns the client's unrevoked, unexpired grants at
	// now, newest first.
	GrantsByClient(ctx context.Context, clientID string, now time.Time) ([]Grant, error)
	// RevokeGrant revokes the grant and every refresh token of it, in one
	// transaction. Idempotent; ErrNotFound for an unknown id.
	RevokeGrant(ctx context.Context, id string, now time.Time) error
	// RevokeUserGrant revokes the grant id of userID and every refresh
	// token of it, and deletes the user's consent to the grant's client
	// when no other grant of the user to that client is live at now, in one
	// transaction; it returns the grant as revoked. It returns ErrNotFound
	// when id is unknown or another user's, alike. Idempotent: a revoked
	// grant keeps its first RevokedAt.
	RevokeUserGrant(ctx context.Context, userID, id string, now time.Time) (Grant, error)
	// RevokeUserGrants revokes, in one transaction, every grant of the user
	// at now, every refresh token issued to the user (families older than
	// grants included), and deletes the user's consents, so that a client
	// must ask the user again. It returns how many grants it revoked that
	// were not revoked before. Idempotent.
	RevokeUserGrants(ctx context.Context, userID string, now time.Time) (int, error)
}

// AuthorizationCode is an authorization code (RFC 6749 §4.1.2), bound to
// everything its redemption must match.
type AuthorizationCode struct {
	// Hash of the code (the primary key).
	Hash        string
	ClientID    string
	UserID      string
	RedirectURI string // exactly as sent in the authorization request
	Scopes      []string
	Nonce       string
	// CodeChallenge is the PKCE S256 challenge (RFC 7636 §4.2); empty when
	// the request had none.
	CodeChallenge string
	// Resource is the RFC 8707 resource indicator, the access token's aud.
	Resource  string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	// RedeemedAt and GrantID are set by the one successful redemption.
	RedeemedAt time.Time
	GrantID    string
}

// AuthorizationCodes stores authorization codes.
type AuthorizationCodes interface {
	CreateAuthorizationCode(ctx context.Context, c AuthorizationCode) error
	// AuthorizationCode returns the code with the given hash, or ErrNotFound.
	AuthorizationCode(ctx context.Context, hash string) (AuthorizationCode, error)
	// RedeemAuthorizationCode redeems an unredeemed code of clientID that
	// has not expired at now (see redeem.go for the shape every redemption
	// has): it marks the code redeemed by the grant issue returns and
	// stores what issue returns, in one transaction, after re-checking the
	// code's user and client, and returns the code as redeemed. Exactly
	// one of concurrent callers wins. A redeemed or expired code gives
	// ErrConflict with the code as stored, whose GrantID names what the
	// winner got (empty when it expired unredeemed), so that the caller
	// can revoke it (RFC 6749 §4.1.2).
	RedeemAuthorizationCode(ctx context.Context, hash, clientID string, now time.Time, issue IssueFunc[AuthorizationCode]) (AuthorizationCode, error)
}

// AccessTokens records revoked access tokens. Access tokens are JWTs that
// resource servers may verify alone; introspection also consults this list
// and the token's grant (RFC 7662 §4, INT-04).
type AccessTokens interface {
	// RevokeAccessToken records the token id jti as revoked until expiresAt,
	// when the token would have expired anyway. Idempotent.
	RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error
	// AccessTokenLive reports, in one read, whether an access token with id
	// jti of grant grantID is still backed by live state at now: jti not
	// revoked; the grant present, unrevoked and unexpired; its user and its
	// client present and enabled (RT-07). When it is, username is the name
	// of the grant's user, read in the same statement: introspection and
	// UserInfo answer with it, and need no read of their own. An empty jti
	// checks the grant alone. An error means the store could not say, never
	// that the token is dead.
	AccessTokenLive(ctx context.Context, jti, grantID string, now time.Time) (username string, live bool, err error)
}

// Consent is a user's remembered approval of a client for some scopes.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}

// Consents stores remembered consent.
type Consents interface {
	// Consent returns the user's consent to the client, or ErrNotFound.
	Consent(ctx context.Context, userID, clientID string) (Consent, error)
	// SaveConsent stores c, replacing any earlier consent of the user to the
	// client.
	SaveConsent(ctx context.Context, c Consent) error
}

// Attempts keeps attempt budgets in the store, so that every instance
// spends from one budget (RFC 8628 §5.1, DEV-06, REL-10).
type Attempts interface {
	// TakeAttempt spends one attempt of key's budget of n per window at now
	// (a GCRA token bucket: n attempts at once, then one per window/n). When
	// the budget is spent it returns ok false and how long until an attempt
	// is available. Atomic: concurrent attempts never overshoot the budget.
	TakeAttempt(ctx context.Context, key string, n int, window time.Duration, now time.Time) (ok bool, retryAfter time.Duration, err error)
	// ReturnAttempt gives back one attempt TakeAttempt took from key's budget
	// of n per window, for an attempt that turned out not to count (a
	// sign-in that succeeded): the budget is as if it had not been taken,
	// and never fuller than full. Return only what was taken.
	ReturnAttempt(ctx context.Context, key string, n int, window time.Duration) error
}
