package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them; callers test with errors.Is. Any other
// error is an infrastructure fault and must never be turned into a definitive
// protocol answer such as invalid_grant (docs/SECURITY.md INV-01).
var (
	// ErrNotFound reports that no record has the given key.
	ErrNotFound = errors.New("store: not found")
	// ErrAlreadyExists reports a duplicate key on create.
	ErrAlreadyExists = errors.New("store: already exists")
	// ErrConflict reports that a conditional state change lost: the record
	// exists but is not in the state the verb requires (already redeemed,
	// already decided, expired, rotated, revoked).
	ErrConflict = errors.New("store: conflict")
	// ErrUserInactive reports that the user a grant would issue tokens to
	// is gone or disabled (DEV-18).
	ErrUserInactive = errors.New("store: user inactive")
	// ErrClientInactive reports that the client a redemption would issue
	// tokens to is gone or disabled (RT-07).
	ErrClientInactive = errors.New("store: client inactive")
)

// Store is the whole of grantd's persistent state.
type Store interface {
	Clients
	Users
	DeviceGrants
	AuthorizationCodes
	Grants
	RefreshTokens
	AccessTokens
	Consents
	Scopes
	Sessions
	Keys
	Secrets
	Attempts
	Upstreams
	PassthroughTokens
	Once
	Sealed

	// PurgeExpired deletes rows whose lifetime ended before now and reports
	// how many it removed. Expiry is always checked on read as well, so purging
	// late is harmless (REL-18).
	PurgeExpired(ctx context.Context, now time.Time) (int64, error)
	// Ping reports whether the backend answers (readiness).
	Ping(ctx context.Context) error
	// Health reports a fault the backend cannot recover from while the
	// process runs, so that only a restart helps (liveness); nil through
	// faults that heal by themselves, such as a database that does not
	// answer for a while.
	Health() error
	// Close releases the backend's resources.
	Close() error
}

// Client is a registered OAuth client.
type Client struct {
	ID string
	// SecretHash is the client secret as produced by secret.HashClientSecret;
	// empty for public clients.
	SecretHash string
	Public     bool
	Name       string
	// RedirectURIs are matched by exact string comparison (RFC 9700 §4.1.3).
	RedirectURIs []string
	GrantTypes   []string
	// Scopes the client may request. An empty list allows none.
	Scopes []string
	// AuthMethod is the token endpoint authentication method the client must
	// use (client_secret_basic, client_secret_post, none); empty accepts
	// either secret method.
	AuthMethod string
	// Audience is the aud of the client's access tokens when a request names
	// no resource (RFC 8707); empty means the server's default.
	Audience string
	// Introspect allows the client to call the introspection endpoint.
	Introspect bool
	// TokenMode is what the client's device grants yield: TokenModeLocal
	// (grantd's own tokens) or TokenModePassthrough (the upstream's tokens
	// of the user's sign-in, handed over once). A client stored with none
	// is read back as local.
	TokenMode string
	// RevokeEndsGrant makes the client's revocation of one of its own
	// access tokens revoke the whole grant the token was issued under —
	// every refresh token and access token of it — as revoking its refresh
	// token does (RFC 7009 §2.1 allows revoking related tokens). For a
	// client, such as a cloud-to-cloud connector, that holds only an access
	// token when the user unlinks.
	RevokeEndsGrant bool
	// LogoURI and ClientURI are the client's logo and home page (RFC 7591
	// §2), https URLs the consent page shows and links to; grantd never
	// fetches them. Empty when not set.
	LogoURI, ClientURI string
	Disabled           bool
	CreatedAt          time.Time
	// PreviousSecretHash is the secret the client had before its latest
	// rotation (RotateClientSecret), which authenticates it too until
	// PreviousSecretExpiresAt; empty when there is none.
	PreviousSecretHash      string
	PreviousSecretExpiresAt time.Time
}

// SecretHashes returns the hashes of the secrets that authenticate the
// client at now: its secret, and its previous one while that is within
// the grace a rotation gave it. None for a public client.
func (c Client) SecretHashes(now time.Time) []string {
	var hashes []string
	if c.SecretHash != "" {
		hashes = append(hashes, c.SecretHash)
	}
	if c.PreviousSecretHash != "" && now.Before(c.PreviousSecretExpiresAt) {
		hashes = append(hashes, c.PreviousSecretHash)
	}
	return hashes
}

// Token modes of a client.
const (
	TokenModeLocal       = "local"
	TokenModePassthrough = "passthrough"
)

// Passthrough reports whether the client's device grants yield the
// upstream's tokens.
func (c Client) Passthrough() bool { return c.TokenMode == TokenModePassthrough }

// AllowsGrant reports whether the client may use grantType.
func (c Client) AllowsGrant(grantType string) bool {
	for _, g := range c.GrantTypes {
		if g == grantType {
			return true
		}
	}
	return false
}

// Clients stores OAuth clients.
type Clients interface {
	// CreateClient stores c. It returns ErrAlreadyExists when the id is taken.
	CreateClient(ctx context.Context, c Client) error
	// Client returns the client with the given id, or ErrNotFound.
	Client(ctx context.Context, id string) (Client, error)
	// ListClients returns every client, ordered by id.
	ListClients(ctx context.Context) ([]Client, error)
	// UpdateClient replaces the settings of the stored client with c's id
	// by c's: everything but the id, the secrets (RotateClientSecret) and
	// CreatedAt, which stay as stored. One atomic write; ErrNotFound when
	// there is no such client.
	UpdateClient(ctx context.Context, c Client) error
	// RotateClientSecret makes newHash the client's secret in one atomic
	// write. The secret it replaces becomes PreviousSecretHash, valid until
	// oldUntil; a zero oldUntil ends it at once (no previous secret). A
	// previous secret kept from an earlier rotation is dropped either way.
	// ErrNotFound when there is no such client.
	RotateClientSecret(ctx context.Context, id, newHash string, oldUntil time.Time) error
	// DeleteClient deletes the client and, in the same transaction, revokes
	// every grant of it at now with their refresh tokens (its access tokens
	// then introspect inactive, even should a client of the same id be
	// created later), and deletes its consents, its device grants and its
	// unredeemed authorization codes. ErrNotFound when there is no such
	// client, and then nothing changes.
	DeleteClient(ctx context.Context, id string, now time.Time) error
}

// User is an account: local, with a password, or federated, signed in at an
// upstream provider. ID is the stable value tokens carry as sub.
type User struct {
	ID string
	// Username is the name a local user signs in with; a federated user's
	// is FederatedUsername(UpstreamID, UpstreamSubject).
	Username string
	// DisplayName is what pages show for a federated user (from the
	// upstream's username claim); "" for a local user, shown by Username.
	DisplayName string
	// UpstreamID and UpstreamSubject identify a federated user at its
	// upstream (the upstream's sub); both "" for a local user.
	UpstreamID, UpstreamSubject string
	// PasswordHash is "" for a federated user, who has no password here.
	PasswordHash string
	// Email is the user's e-mail address ("" for none), released with
	// EmailVerified to clients granted the email scope.
	Email         string
	EmailVerified bool
	Disabled      bool
	CreatedAt     time.Time
}

// Users stores local accounts.
type Users interface {
	// CreateUser stores u. It returns ErrAlreadyExists when the id or the user
	// name is taken, or the id was a deleted user's: user ids are never
	// reused, even after a user is deleted.
	CreateUser(ctx context.Context, u User) error
	// User returns the user with the given id, or ErrNotFound.
	User(ctx context.Context, id string) (User, error)
	// UserByUsername returns the user with the given user name, or ErrNotFound.
	UserByUsername(ctx context.Context, username string) (User, error)
	// SetUserDisabled enables or disables a user. ErrNotFound if absent.
	SetUserDisabled(ctx context.Context, id string, disabled bool) error
	// SignInFederated returns the user who signs in at u.UpstreamID as
	// u.UpstreamSubject: the one stored, with its display name, e-mail and
	// its verification updated to u's, or, when there is none, u itself,
	// stored with Username FederatedUsername(u.UpstreamID,
	// u.UpstreamSubject) and no password. Atomic: concurrent first sign-ins
	// of one subject store one user. A disabled user is returned as it is.
	SignInFederated(ctx context.Context, u User) (User, error)
	// ListUsers returns at most limit users (every one when limit is not
	// positive) whose ids sort after after ("" starts at the first),
	// ordered by id: a page, whose last id is the next page's after.
	ListUsers(ctx context.Context, after string, limit int) ([]User, error)
	// SetPassword replaces the user's password hash in one atomic write.
	// ErrNotFound when there is no such user.
	SetPassword(ctx context.Context, id, passwordHash string) error
	// DeleteUser deletes the user and, in the same transaction, everything
	// that acts for them: it revokes every grant of the user at now with
	// every refresh token issued to them (families older than grants
	// included), and deletes their sessions, consents and unredeemed
	// authorization codes. Access tokens of the user then introspect
	// inactive; an approved device grant not yet redeemed finds the user
	// gone (ErrUserInactive). The id is remembered, so that CreateUser
	// never gives it out again. ErrNotFound when there is no such user,
	// and then nothing changes.
	DeleteUser(ctx context.Context, id string, now time.Time) error
}

// Name is what pages show for u: its display name, or its user name.
func (u User) Name() string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.Username
}

// DeviceState is the life cycle of a device grant (RFC 8628 §3).
type DeviceState string

// Device grant states. pending → approved → issued, or pending → denied.
const (
	DevicePending  DeviceState = "pending"
	DeviceApproved DeviceState = "approved"
	DeviceDenied   DeviceState = "denied"
	DeviceIssued   DeviceState = "issued"
)

// DeviceGrant is one device authorization request (RFC 8628 §3.1–3.5).
type DeviceGrant struct {
	// DeviceCodeHash is the hash of the device_code (the primary key).
	DeviceCodeHash string
	// UserCode is stored normalised (see package usercode); unique.
	UserCode string
	ClientID string
	Scopes   []string
	State    DeviceState
	// UserID and AuthTime are set by the decision.
	UserID   string
	AuthTime time.Time
	// Interval is the current minimum polling interval; each slow_down raises
	// it by 5 seconds (RFC 8628 §3.5).
	Interval     time.Duration
	LastPolledAt time.Time // zero before the first poll
	CreatedAt    time.Time
	ExpiresAt    time.Time
	DecidedAt    time.Time // zero while pending
	// UpstreamTokens, for a passthrough client's approved grant, are the
	// upstream's tokens of the approving user's sign-in, sealed (see
	// SealedDeviceTokens), until the device collects them.
	UpstreamTokens string
}

// Expired reports whether the grant's lifetime is over at now.
func (g DeviceGrant) Expired(now time.Time) bool { return !now.Before(g.ExpiresAt) }

// Decision is the user's answer on the verification page.
type Decision struct {
	Approve  bool
	UserID   string
	AuthTime time.Time
	// UpstreamTokens are the sealed upstream tokens a passthrough client's
	// grant hands over (DeviceGrant.UpstreamTokens); "" otherwise.
	UpstreamTokens string
}

// PollResult is what one poll of a device code finds (RFC 8628 §3.5): enough
// to answer any poll. An approved grant's token set is issued from the grant
// as RedeemDeviceGrant reads it.
type PollResult struct {
	// ClientID, State and ExpiresAt are the grant's, State as of the poll.
	ClientID  string
	State     DeviceState
	ExpiresAt time.Time
	// SlowDown reports that the grant is pending and the poll came sooner
	// than its interval after the one before (PollTooSoon); the interval
	// has grown by SlowDownStep.
	SlowDown bool
	// Interval is the grant's polling interval after this poll; zero for a
	// poll by another client, which is not recorded.
	Interval time.Duration
}

// SlowDownStep is how much each slow_down raises a grant's polling interval
// (RFC 8628 §3.5).
const SlowDownStep = 5 * time.Second

// PollTooSoon reports whether a poll that comes elapsed after the one before
// is too soon for a grant whose interval is interval. A poll up to a second
// early, or a fifth of the interval when that is less, is on time: network
// jitter makes a device that polls at exactly its interval arrive early now
// and then, and RFC 8628 §3.5 asks for slow_down when a client polls too
// fast, not when its packets jitter.
func PollTooSoon(elapsed, interval time.Duration) bool {
	return elapsed < interval-min(time.Second, interval/5)
}

// Expired reports whether the grant's lifetime is over at now.
func (p PollResult) Expired(now time.Time) bool { return !now.Before(p.ExpiresAt) }

// DeviceGrants stores device authorization requests.
type DeviceGrants interface {
	// CreateDeviceGrant stores g in state pending. It returns ErrAlreadyExists
	// when the device code hash or the user code is already in use; the caller
	// then draws a new code.
	CreateDeviceGrant(ctx context.Context, g DeviceGrant) error
	// DeviceGrantByDeviceCode returns the grant with the given device code
	// hash, or ErrNotFound.
	DeviceGrantByDeviceCode(ctx context.Context, deviceCodeHash string) (DeviceGrant, error)
	// DeviceGrantByUserCode returns the grant with the given normalised user
	// code, or ErrNotFound.
	DeviceGrantByUserCode(ctx context.Context, userCode string) (DeviceGrant, error)
	// PollDeviceGrant is the store's part of a device access token request
	// (RFC 8628 §3.4), in one call: it finds the grant with the given device
	// code hash, or returns ErrNotFound, and when the grant is clientID's it
	// records the poll at now. When the grant is pending and unexpired and
	// the poll comes too soon after the previous one (PollTooSoon), it
	// raises the grant's interval by SlowDownStep and reports SlowDown (RFC
	// 8628 §3.5); the first poll is never slow, and neither is a poll of a
	// decided or expired grant, which is answered by its state. Atomic: of
	// concurrent polls at one instant, at most one is on time. A poll by another client is not recorded: it neither uses the
	// code up nor counts as a poll (DEV-16), and its result carries the
	// grant's owner so that the caller can refuse it. The poll record (the
	// last poll and the raised interval, which DeviceGrantByDeviceCode
	// reports) is soft state: a backend need not make it durable and may
	// lose it (in a crash, say), since it decides only slow_down, never
	// whether a token is issued; the grant's state stays durable.
	PollDeviceGrant(ctx context.Context, deviceCodeHash, clientID string, now time.Time) (PollResult, error)
	// DecideDeviceGrant moves a pending, unexpired grant to approved or denied.
	// It returns ErrNotFound for an unknown user code and ErrConflict when the
	// grant is no longer pending or has expired. Atomic: exactly one of
	// concurrent decisions wins.
	DecideDeviceGrant(ctx context.Context, userCode string, d Decision, now time.Time) (DeviceGrant, error)
	// RedeemDeviceGrant redeems an approved, unexpired grant of clientID
	// (see redeem.go for the shape every redemption has): it moves the
	// grant to issued, clearing its UpstreamTokens, and stores what issue
	// returns for the grant as it was, tokens included, in the same
	// transaction, after re-checking the grant's user and client. It
	// returns the grant as it was. It succeeds for exactly one caller, so
	// a device code yields one token set (RFC 8628 §3.5, INV-02, INV-03);
	// a grant that is not approved, or expired, gives ErrConflict with the
	// grant. When the user is gone or disabled (ErrUserInactive, DEV-18)
	// or issue fails, nothing changes and the grant stays approved.
	RedeemDeviceGrant(ctx context.Context, deviceCodeHash, clientID string, now time.Time, issue IssueFunc[DeviceGrant]) (DeviceGrant, error)
}

// RefreshToken is one generation of a rotating refresh token. Generations of
// one grant form a family and share its GrantID (RFC 9700 §4.14.2).
type RefreshToken struct {
	// Hash of the opaque token (the primary key).
	Hash     string
	GrantID  string
	ClientID string
	UserID   string
	Scopes   []string
	// Resource is the RFC 8707 resource the grant was bound to: the aud of
	// access tokens minted with this token (RT-05). Empty: the default.
	Resource string
	AuthTime time.Time
	// ExpiresAt ends this generation (idle lifetime); FamilyExpiresAt ends
	// every generation of the family (absolute lifetime).
	CreatedAt       time.Time
	ExpiresAt       time.Time
	FamilyExpiresAt time.Time
	RotatedAt       time.Time // zero until rotated
	RevokedAt       time.Time // zero unless revoked
	// GrantKind is the Kind of the generation's grant (Grant.Kind): how the
	// family began, which decides the token set its refreshes return
	// (RESULT_TOKEN_SET for a device grant). Backends read it from the
	// grant with every generation they return and ignore it on writes; it
	// is empty when the family has no grant record (one stored before
	// grants existed, schema version 1, when only device grants did).
	GrantKind string
}

// Active reports whether the token can be used at now.
func (t RefreshToken) Active(now time.Time) bool {
	return t.RotatedAt.IsZero() && t.RevokedAt.IsZero() &&
		now.Before(t.ExpiresAt) && now.Before(t.FamilyExpiresAt)
}

// RefreshTokens stores refresh token generations.
type RefreshTokens interface {
	// CreateRefreshToken stores the first generation of a family.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RefreshToken returns the generation with the given hash, or ErrNotFound.
	RefreshToken(ctx context.Context, hash string) (RefreshToken, error)
	// RotateRefreshToken redeems the generation oldHash of clientID at now
	// (see redeem.go for the shape every redemption has): it marks the
	// generation rotated and stores the successor issue returns for it, in
	// one transaction, after re-checking its user and client. It returns
	// the generation as read, with every outcome but ErrNotFound. A
	// generation that is rotated, revoked or expired, or whose grant is
	// revoked, gives ErrConflict; exactly one of concurrent rotations of
	// one generation succeeds. A successful rotation also records now as
	// the grant's LastUsedAt, in the same transaction, when the one
	// recorded is zero or more than LastUsedStep before now.
	RotateRefreshToken(ctx context.Context, oldHash, clientID string, now time.Time, issue IssueFunc[RefreshToken]) (RefreshToken, error)
	// RefreshSuccessor returns the generation that replaced the one with the
	// given hash, or ErrNotFound (it was not rotated, or is unknown). It lets
	// a retried refresh inside the grace window get the same successor.
	RefreshSuccessor(ctx context.Context, hash string) (RefreshToken, error)
}

// Session is a browser session on the verification and sign-in pages. The
// cookie holds a random id; the store holds only its hash.
type Session struct {
	IDHash    string
	UserID    string // empty until sign-in
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	// UpstreamTokens are the upstream's tokens of a sign-in at an
	// upstream, sealed (see SealedSessionTokens), until a passthrough
	// client's device is approved with them (TakeUpstreamTokens); "" for
	// none.
	UpstreamTokens string
}

// Secrets stores named server secrets shared by every instance, such as the
// key that derives refresh token successors.
type Secrets interface {
	// EnsureSecret stores value under name unless a secret of that name
	// exists, and returns the secret in force. Atomic: instances starting
	// together agree on one value.
	EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error)
}

// Sessions stores browser sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session with the given id hash, or ErrNotFound.
	// Expired sessions are reported as ErrNotFound.
	Session(ctx context.Context, idHash string, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, idHash string) error
	// TakeUpstreamTokens returns the session's UpstreamTokens and clears
	// them. Of concurrent callers exactly one gets them; the others, and
	// any caller once they are taken, get ErrNotFound, as does an unknown
	// session.
	TakeUpstreamTokens(ctx context.Context, idHash string) (string, error)
	// DeleteUserSessions deletes every session of the user: signed out
	// everywhere. Idempotent.
	DeleteUserSessions(ctx context.Context, userID string) error
}

// SigningKey is a private key that signs tokens, PKCS #8 DER encoded.
//
// A key's life has three phases, so that no verifier ever meets a kid it has
// not seen (REL-12): from CreatedAt it is published in the JWKS; from
// ActivatesAt it signs (the latest activated key of its algorithm does);
// at RetiresAt, set when a successor is scheduled, it leaves the JWKS, no
// token it signed being valid any more. A zero RetiresAt means not retiring.
type SigningKey struct {
	ID          string // the JWS kid
	Algorithm   string // RS256, ES256 or EdDSA
	PrivateKey  []byte
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetiresAt   time.Time
}

// Retired reports whether k has left the JWKS at now.
func (k SigningKey) Retired(now time.Time) bool {
	return !k.RetiresAt.IsZero() && !now.Before(k.RetiresAt)
}

// Keys stores signing keys, shared by every instance.
type Keys interface {
	// SigningKeys returns every stored key, retired or not, ordered by
	// activation, then creation, then id: for each algorithm, the last key
	// activated at a given time is the one that signs.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// EnsureSigningKey stores k unless a key for k.Algorithm already exists,
	// and returns the newest key for that algorithm (k or an older one).
	// Atomic: instances starting together agree on one key.
	EnsureSigningKey(ctx context.Context, k SigningKey) (SigningKey, error)
	// RotateSigningKey stores next and retires the key current at retireAt,
	// provided current is still the newest key of next.Algorithm. Otherwise
	// it changes nothing and returns ErrConflict: another instance or an
	// operator rotated first. Atomic, so instances rotating together
	// schedule one successor.
	RotateSigningKey(ctx context.Context, current string, next SigningKey, retireAt time.Time) error
}
