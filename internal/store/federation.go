package store

import (
	"context"
	"time"
)

// Upstream is an OpenID Connect provider users may sign in with instead of
// (or besides) a local account: Amazon Cognito, Keycloak, Auth0, ….
type Upstream struct {
	ID string
	// Name is shown on the sign-in page's button.
	Name     string
	Issuer   string
	ClientID string
	// ClientSecret is grantd's client secret at the upstream, sealed under
	// the server's secret key (package seal, bound to the upstream's id):
	// never in clear.
	ClientSecret string
	Scopes       []string
	// UsernameClaim names the ID token claim shown as the user's name.
	UsernameClaim string
	// ExtraParams are added to the upstream's authorization request.
	ExtraParams map[string]string
	// RevocationURL, when set, is where tokens are revoked if the
	// upstream's discovery names no revocation endpoint.
	RevocationURL string
	CreatedAt     time.Time
}

// Upstreams stores upstream providers.
type Upstreams interface {
	// CreateUpstream stores u. It returns ErrAlreadyExists when the id is
	// taken.
	CreateUpstream(ctx context.Context, u Upstream) error
	// Upstream returns the upstream with the given id, or ErrNotFound.
	Upstream(ctx context.Context, id string) (Upstream, error)
	// Upstreams returns every upstream, ordered by id.
	Upstreams(ctx context.Context) ([]Upstream, error)
	// DeleteUpstream deletes the upstream, or returns ErrNotFound. Users who
	// signed in with it stay, and can no longer sign in.
	DeleteUpstream(ctx context.Context, id string) error
}

// FederatedUsername is the Username of the user who signs in at upstream
// with subject: unique and stable, and never a local user's name, which
// cannot hold a colon. Pages show the user's DisplayName instead.
func FederatedUsername(upstream, subject string) string { return upstream + ":" + subject }

// PassthroughToken records a refresh token of an upstream that a
// passthrough client holds (its hash, as for grantd's own): who may
// refresh or revoke it through grantd, and at which upstream.
type PassthroughToken struct {
	Hash       string
	ClientID   string
	UserID     string
	UpstreamID string
	CreatedAt  time.Time
	// ExpiresAt is when the record is purged: the upstream decides the
	// token's own lifetime.
	ExpiresAt time.Time
}

// PassthroughTokens stores the records of upstream refresh tokens that
// passthrough clients hold.
type PassthroughTokens interface {
	// PassthroughToken returns the record with the given hash, or
	// ErrNotFound.
	PassthroughToken(ctx context.Context, hash string) (PassthroughToken, error)
	// ReplacePassthroughToken deletes the record oldHash and stores next, in
	// one transaction, when the upstream rotated the token. It returns
	// ErrNotFound, storing nothing, when oldHash is gone (revoked, or
	// replaced by a concurrent refresh).
	ReplacePassthroughToken(ctx context.Context, oldHash string, next PassthroughToken) error
	// DeletePassthroughToken deletes the record. Idempotent.
	DeletePassthroughToken(ctx context.Context, hash string) error
}

// Once records that a single-use value (the state of an upstream sign-in)
// has been used.
type Once interface {
	// UseOnce records key as used until expiresAt, when it may be purged. It
	// returns ErrAlreadyExists when key was used before: of concurrent
	// callers with one key, exactly one succeeds.
	UseOnce(ctx context.Context, key string, expiresAt time.Time) error
}

// SealedValue is one value the store keeps sealed under the server's secret
// key (package seal): its kind, and the key of its row, which together bind
// it to where it is (the seal's additional data).
type SealedValue struct {
	Kind, Key, Value string
}

// Kinds of sealed values.
const (
	SealedUpstreamSecret = "upstream-secret"         // Upstream.ClientSecret, keyed by upstream id
	SealedSessionTokens  = "session-upstream-tokens" // Session.UpstreamTokens, keyed by session id hash
	SealedDeviceTokens   = "device-upstream-tokens"  // DeviceGrant.UpstreamTokens, keyed by device code hash
)

// SealedAAD is the additional data that binds a sealed value of kind to
// the row key: moved to another row, it does not open.
func SealedAAD(kind, key string) []byte { return []byte(kind + ":" + key) }

// AAD is v's SealedAAD.
func (v SealedValue) AAD() []byte { return SealedAAD(v.Kind, v.Key) }

// Sealed re-seals the store's sealed values, for a change of the secret key.
type Sealed interface {
	// ResealAll replaces every sealed value with what reseal returns for
	// it, in one transaction: an error from reseal changes nothing. It
	// returns how many values it replaced.
	ResealAll(ctx context.Context, reseal func(SealedValue) (string, error)) (int, error)
}
