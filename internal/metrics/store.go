package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/grantd/grantd/internal/store"
)

// Store returns st timing every operation
// (grantd_store_operation_duration_seconds) and counting those that fail
// with a fault (grantd_store_errors_total), or st itself when r is nil. It
// also counts the users' decisions on device codes
// (grantd_device_decisions_total, grantd_device_decision_seconds), which
// reach the store through DecideDeviceGrant whatever page made them.
func Store(st store.Store, r *Recorder) store.Store {
	if r == nil {
		return st
	}
	s := &timedStore{next: st, r: r}
	for op, name := range opNames {
		s.seconds[op] = r.storeSeconds.WithLabelValues(name)
		s.errors[op] = r.storeErrors.WithLabelValues(name)
	}
	return s
}

var _ store.Store = (*timedStore)(nil)

// timedStore is Store's store.Store. Its observers are looked up once, so
// that timing a call costs two clock readings and an observation.
type timedStore struct {
	next    store.Store
	r       *Recorder
	seconds [numOps]prometheus.Observer
	errors  [numOps]prometheus.Counter
}

// observe records an operation that began at start and ended with *err.
// The store's sentinels are outcomes, not faults.
func (s *timedStore) observe(op int, start time.Time, err *error) {
	s.seconds[op].Observe(time.Since(start).Seconds())
	if e := *err; e != nil && !errors.Is(e, store.ErrNotFound) && !errors.Is(e, store.ErrConflict) &&
		!errors.Is(e, store.ErrAlreadyExists) && !errors.Is(e, store.ErrUserInactive) &&
		!errors.Is(e, store.ErrClientInactive) {
		s.errors[op].Inc()
	}
}

// observeRedemption is observe for a redemption whose IssueFunc refused
// with *refused (nil when it did not): the caller's refusal — a wrong PKCE
// verifier, a wider scope — comes back from the store wrapped, and is an
// outcome, not the store's fault.
func (s *timedStore) observeRedemption(op int, start time.Time, err, refused *error) {
	if *refused != nil && errors.Is(*err, *refused) {
		var outcome error
		s.observe(op, start, &outcome)
		return
	}
	s.observe(op, start, err)
}

// remembering returns issue, recording in *refused the error of its last
// call.
func remembering[T any](issue store.IssueFunc[T], refused *error) store.IssueFunc[T] {
	return func(consumed T, u store.User) (store.Issuance, error) {
		iss, err := issue(consumed, u)
		*refused = err
		return iss, err
	}
}

// Health implements store.Store; it reads no database.
func (s *timedStore) Health() error { return s.next.Health() }

// Close implements store.Store.
func (s *timedStore) Close() error { return s.next.Close() }

// The operations timed, by their label.
const (
	opAccessTokenLive = iota
	opAuthorizationCode
	opClient
	opConsent
	opCreateAuthorizationCode
	opCreateClient
	opCreateDeviceGrant
	opCreateRefreshToken
	opCreateSession
	opCreateUpstream
	opCreateUser
	opDecideDeviceGrant
	opDeleteClient
	opDeletePassthroughToken
	opDeleteScope
	opDeleteSession
	opDeleteUpstream
	opDeleteUser
	opDeleteUserSessions
	opDeviceGrantByDeviceCode
	opDeviceGrantByUserCode
	opEnsureSecret
	opEnsureSigningKey
	opGrant
	opGrantsByClient
	opGrantsByUser
	opListClients
	opListUsers
	opPassthroughToken
	opPing
	opPollDeviceGrant
	opPurgeExpired
	opRedeemAuthorizationCode
	opRedeemDeviceGrant
	opRefreshSuccessor
	opRefreshToken
	opReplacePassthroughToken
	opResealAll
	opReturnAttempt
	opRevokeAccessToken
	opRevokeGrant
	opRevokeUserGrant
	opRevokeUserGrants
	opRotateClientSecret
	opRotateRefreshToken
	opRotateSigningKey
	opSaveConsent
	opScopes
	opSession
	opSetPassword
	opSetScope
	opSetUserDisabled
	opSignInFederated
	opSigningKeys
	opTakeAttempt
	opTakeUpstreamTokens
	opUpdateClient
	opUpstream
	opUpstreams
	opUseOnce
	opUser
	opUserByUsername
	numOps
)

var opNames = [numOps]string{
	opAccessTokenLive:         "access_token_live",
	opAuthorizationCode:       "authorization_code",
	opClient:                  "client",
	opConsent:                 "consent",
	opCreateAuthorizationCode: "create_authorization_code",
	opCreateClient:            "create_client",
	opCreateDeviceGrant:       "create_device_grant",
	opCreateRefreshToken:      "create_refresh_token",
	opCreateSession:           "create_session",
	opCreateUpstream:          "create_upstream",
	opCreateUser:              "create_user",
	opDecideDeviceGrant:       "decide_device_grant",
	opDeleteClient:            "delete_client",
	opDeletePassthroughToken:  "delete_passthrough_token",
	opDeleteScope:             "delete_scope",
	opDeleteSession:           "delete_session",
	opDeleteUpstream:          "delete_upstream",
	opDeleteUser:              "delete_user",
	opDeleteUserSessions:      "delete_user_sessions",
	opDeviceGrantByDeviceCode: "device_grant_by_device_code",
	opDeviceGrantByUserCode:   "device_grant_by_user_code",
	opEnsureSecret:            "ensure_secret",
	opEnsureSigningKey:        "ensure_signing_key",
	opGrant:                   "grant",
	opGrantsByClient:          "grants_by_client",
	opGrantsByUser:            "grants_by_user",
	opListClients:             "list_clients",
	opListUsers:               "list_users",
	opPassthroughToken:        "passthrough_token",
	opPing:                    "ping",
	opPollDeviceGrant:         "poll_device_grant",
	opPurgeExpired:            "purge_expired",
	opRedeemAuthorizationCode: "redeem_authorization_code",
	opRedeemDeviceGrant:       "redeem_device_grant",
	opRefreshSuccessor:        "refresh_successor",
	opRefreshToken:            "refresh_token",
	opReplacePassthroughToken: "replace_passthrough_token",
	opResealAll:               "reseal_all",
	opReturnAttempt:           "return_attempt",
	opRevokeAccessToken:       "revoke_access_token",
	opRevokeGrant:             "revoke_grant",
	opRevokeUserGrant:         "revoke_user_grant",
	opRevokeUserGrants:        "revoke_user_grants",
	opRotateClientSecret:      "rotate_client_secret",
	opRotateRefreshToken:      "rotate_refresh_token",
	opRotateSigningKey:        "rotate_signing_key",
	opSaveConsent:             "save_consent",
	opScopes:                  "scopes",
	opSession:                 "session",
	opSetPassword:             "set_password",
	opSetScope:                "set_scope",
	opSetUserDisabled:         "set_user_disabled",
	opSignInFederated:         "sign_in_federated",
	opSigningKeys:             "signing_keys",
	opTakeAttempt:             "take_attempt",
	opTakeUpstreamTokens:      "take_upstream_tokens",
	opUpdateClient:            "update_client",
	opUpstream:                "upstream",
	opUpstreams:               "upstreams",
	opUseOnce:                 "use_once",
	opUser:                    "user",
	opUserByUsername:          "user_by_username",
}

// AccessTokenLive implements store.Store.
func (s *timedStore) AccessTokenLive(ctx context.Context, a1 string, a2 string, a3 time.Time) (_ string, _ bool, err error) {
	defer s.observe(opAccessTokenLive, time.Now(), &err)
	return s.next.AccessTokenLive(ctx, a1, a2, a3)
}

// AuthorizationCode implements store.Store.
func (s *timedStore) AuthorizationCode(ctx context.Context, a1 string) (_ store.AuthorizationCode, err error) {
	defer s.observe(opAuthorizationCode, time.Now(), &err)
	return s.next.AuthorizationCode(ctx, a1)
}

// Client implements store.Store.
func (s *timedStore) Client(ctx context.Context, a1 string) (_ store.Client, err error) {
	defer s.observe(opClient, time.Now(), &err)
	return s.next.Client(ctx, a1)
}

// Consent implements store.Store.
func (s *timedStore) Consent(ctx context.Context, a1 string, a2 string) (_ store.Consent, err error) {
	defer s.observe(opConsent, time.Now(), &err)
	return s.next.Consent(ctx, a1, a2)
}

// CreateAuthorizationCode implements store.Store.
func (s *timedStore) CreateAuthorizationCode(ctx context.Context, a1 store.AuthorizationCode) (err error) {
	defer s.observe(opCreateAuthorizationCode, time.Now(), &err)
	return s.next.CreateAuthorizationCode(ctx, a1)
}

// CreateClient implements store.Store.
func (s *timedStore) CreateClient(ctx context.Context, a1 store.Client) (err error) {
	defer s.observe(opCreateClient, time.Now(), &err)
	return s.next.CreateClient(ctx, a1)
}

// CreateDeviceGrant implements store.Store.
func (s *timedStore) CreateDeviceGrant(ctx context.Context, a1 store.DeviceGrant) (err error) {
	defer s.observe(opCreateDeviceGrant, time.Now(), &err)
	return s.next.CreateDeviceGrant(ctx, a1)
}

// CreateRefreshToken implements store.Store.
func (s *timedStore) CreateRefreshToken(ctx context.Context, a1 store.RefreshToken) (err error) {
	defer s.observe(opCreateRefreshToken, time.Now(), &err)
	return s.next.CreateRefreshToken(ctx, a1)
}

// CreateSession implements store.Store.
func (s *timedStore) CreateSession(ctx context.Context, a1 store.Session) (err error) {
	defer s.observe(opCreateSession, time.Now(), &err)
	return s.next.CreateSession(ctx, a1)
}

// CreateUser implements store.Store.
func (s *timedStore) CreateUser(ctx context.Context, a1 store.User) (err error) {
	defer s.observe(opCreateUser, time.Now(), &err)
	return s.next.CreateUser(ctx, a1)
}

// DecideDeviceGrant implements store.Store, and counts the decision.
func (s *timedStore) DecideDeviceGrant(ctx context.Context, userCode string, d store.Decision, now time.Time) (g store.DeviceGrant, err error) {
	defer s.observe(opDecideDeviceGrant, time.Now(), &err)
	g, err = s.next.DecideDeviceGrant(ctx, userCode, d, now)
	if err == nil {
		s.r.DeviceDecided(g.State == store.DeviceApproved, now.Sub(g.CreatedAt))
	}
	return g, err
}

// DeleteClient implements store.Store.
func (s *timedStore) DeleteClient(ctx context.Context, a1 string, a2 time.Time) (err error) {
	defer s.observe(opDeleteClient, time.Now(), &err)
	return s.next.DeleteClient(ctx, a1, a2)
}

// DeleteSession implements store.Store.
func (s *timedStore) DeleteSession(ctx context.Context, a1 string) (err error) {
	defer s.observe(opDeleteSession, time.Now(), &err)
	return s.next.DeleteSession(ctx, a1)
}

// DeleteUser implements store.Store.
func (s *timedStore) DeleteUser(ctx context.Context, a1 string, a2 time.Time) (err error) {
	defer s.observe(opDeleteUser, time.Now(), &err)
	return s.next.DeleteUser(ctx, a1, a2)
}

// DeleteUserSessions implements store.Store.
func (s *timedStore) DeleteUserSessions(ctx context.Context, a1 string) (err error) {
	defer s.observe(opDeleteUserSessions, time.Now(), &err)
	return s.next.DeleteUserSessions(ctx, a1)
}

// DeviceGrantByDeviceCode implements store.Store.
func (s *timedStore) DeviceGrantByDeviceCode(ctx context.Context, a1 string) (_ store.DeviceGrant, err error) {
	defer s.observe(opDeviceGrantByDeviceCode, time.Now(), &err)
	return s.next.DeviceGrantByDeviceCode(ctx, a1)
}

// DeviceGrantByUserCode implements store.Store.
func (s *timedStore) DeviceGrantByUserCode(ctx context.Context, a1 string) (_ store.DeviceGrant, err error) {
	defer s.observe(opDeviceGrantByUserCode, time.Now(), &err)
	return s.next.DeviceGrantByUserCode(ctx, a1)
}

// EnsureSecret implements store.Store.
func (s *timedStore) EnsureSecret(ctx context.Context, a1 string, a2 []byte) (_ []byte, err error) {
	defer s.observe(opEnsureSecret, time.Now(), &err)
	return s.next.EnsureSecret(ctx, a1, a2)
}

// EnsureSigningKey implements store.Store.
func (s *timedStore) EnsureSigningKey(ctx context.Context, a1 store.SigningKey) (_ store.SigningKey, err error) {
	defer s.observe(opEnsureSigningKey, time.Now(), &err)
	return s.next.EnsureSigningKey(ctx, a1)
}

// Grant implements store.Store.
func (s *timedStore) Grant(ctx context.Context, a1 string) (_ store.Grant, err error) {
	defer s.observe(opGrant, time.Now(), &err)
	return s.next.Grant(ctx, a1)
}

// GrantsByClient implements store.Store.
func (s *timedStore) GrantsByClient(ctx context.Context, a1 string, a2 time.Time) (_ []store.Grant, err error) {
	defer s.observe(opGrantsByClient, time.Now(), &err)
	return s.next.GrantsByClient(ctx, a1, a2)
}

// GrantsByUser implements store.Store.
func (s *timedStore) GrantsByUser(ctx context.Context, a1 string, a2 time.Time) (_ []store.Grant, err error) {
	defer s.observe(opGrantsByUser, time.Now(), &err)
	return s.next.GrantsByUser(ctx, a1, a2)
}

// ListClients implements store.Store.
func (s *timedStore) ListClients(ctx context.Context) (_ []store.Client, err error) {
	defer s.observe(opListClients, time.Now(), &err)
	return s.next.ListClients(ctx)
}

// ListUsers implements store.Store.
func (s *timedStore) ListUsers(ctx context.Context, a1 string, a2 int) (_ []store.User, err error) {
	defer s.observe(opListUsers, time.Now(), &err)
	return s.next.ListUsers(ctx, a1, a2)
}

// Ping implements store.Store.
func (s *timedStore) Ping(ctx context.Context) (err error) {
	defer s.observe(opPing, time.Now(), &err)
	return s.next.Ping(ctx)
}

// PollDeviceGrant implements store.Store.
func (s *timedStore) PollDeviceGrant(ctx context.Context, a1 string, a2 string, a3 time.Time) (_ store.PollResult, err error) {
	defer s.observe(opPollDeviceGrant, time.Now(), &err)
	return s.next.PollDeviceGrant(ctx, a1, a2, a3)
}

// PurgeExpired implements store.Store.
func (s *timedStore) PurgeExpired(ctx context.Context, a1 time.Time) (_ int64, err error) {
	defer s.observe(opPurgeExpired, time.Now(), &err)
	return s.next.PurgeExpired(ctx, a1)
}

// RedeemAuthorizationCode implements store.Store.
func (s *timedStore) RedeemAuthorizationCode(ctx context.Context, a1 string, a2 string, a3 time.Time, a4 store.IssueFunc[store.AuthorizationCode]) (_ store.AuthorizationCode, err error) {
	var refused error
	defer s.observeRedemption(opRedeemAuthorizationCode, time.Now(), &err, &refused)
	return s.next.RedeemAuthorizationCode(ctx, a1, a2, a3, remembering(a4, &refused))
}

// RedeemDeviceGrant implements store.Store.
func (s *timedStore) RedeemDeviceGrant(ctx context.Context, a1 string, a2 string, a3 time.Time, a4 store.IssueFunc[store.DeviceGrant]) (_ store.DeviceGrant, err error) {
	var refused error
	defer s.observeRedemption(opRedeemDeviceGrant, time.Now(), &err, &refused)
	return s.next.RedeemDeviceGrant(ctx, a1, a2, a3, remembering(a4, &refused))
}

// RefreshSuccessor implements store.Store.
func (s *timedStore) RefreshSuccessor(ctx context.Context, a1 string) (_ store.RefreshToken, err error) {
	defer s.observe(opRefreshSuccessor, time.Now(), &err)
	return s.next.RefreshSuccessor(ctx, a1)
}

// RefreshToken implements store.Store.
func (s *timedStore) RefreshToken(ctx context.Context, a1 string) (_ store.RefreshToken, err error) {
	defer s.observe(opRefreshToken, time.Now(), &err)
	return s.next.RefreshToken(ctx, a1)
}

// ReturnAttempt implements store.Store.
func (s *timedStore) ReturnAttempt(ctx context.Context, a1 string, a2 int, a3 time.Duration) (err error) {
	defer s.observe(opReturnAttempt, time.Now(), &err)
	return s.next.ReturnAttempt(ctx, a1, a2, a3)
}

// RevokeAccessToken implements store.Store.
func (s *timedStore) RevokeAccessToken(ctx context.Context, a1 string, a2 time.Time) (err error) {
	defer s.observe(opRevokeAccessToken, time.Now(), &err)
	return s.next.RevokeAccessToken(ctx, a1, a2)
}

// RevokeGrant implements store.Store.
func (s *timedStore) RevokeGrant(ctx context.Context, a1 string, a2 time.Time) (err error) {
	defer s.observe(opRevokeGrant, time.Now(), &err)
	return s.next.RevokeGrant(ctx, a1, a2)
}

// RevokeUserGrants implements store.Store.
func (s *timedStore) RevokeUserGrants(ctx context.Context, a1 string, a2 time.Time) (_ int, err error) {
	defer s.observe(opRevokeUserGrants, time.Now(), &err)
	return s.next.RevokeUserGrants(ctx, a1, a2)
}

// RotateClientSecret implements store.Store.
func (s *timedStore) RotateClientSecret(ctx context.Context, a1 string, a2 string, a3 time.Time) (err error) {
	defer s.observe(opRotateClientSecret, time.Now(), &err)
	return s.next.RotateClientSecret(ctx, a1, a2, a3)
}

// RotateRefreshToken implements store.Store.
func (s *timedStore) RotateRefreshToken(ctx context.Context, a1 string, a2 string, a3 time.Time, a4 store.IssueFunc[store.RefreshToken]) (_ store.RefreshToken, err error) {
	var refused error
	defer s.observeRedemption(opRotateRefreshToken, time.Now(), &err, &refused)
	return s.next.RotateRefreshToken(ctx, a1, a2, a3, remembering(a4, &refused))
}

// RotateSigningKey implements store.Store.
func (s *timedStore) RotateSigningKey(ctx context.Context, a1 string, a2 store.SigningKey, a3 time.Time) (err error) {
	defer s.observe(opRotateSigningKey, time.Now(), &err)
	return s.next.RotateSigningKey(ctx, a1, a2, a3)
}

// SaveConsent implements store.Store.
func (s *timedStore) SaveConsent(ctx context.Context, a1 store.Consent) (err error) {
	defer s.observe(opSaveConsent, time.Now(), &err)
	return s.next.SaveConsent(ctx, a1)
}

// Session implements store.Store.
func (s *timedStore) Session(ctx context.Context, a1 string, a2 time.Time) (_ store.Session, err error) {
	defer s.observe(opSession, time.Now(), &err)
	return s.next.Session(ctx, a1, a2)
}

// SetPassword implements store.Store.
func (s *timedStore) SetPassword(ctx context.Context, a1 string, a2 string) (err error) {
	defer s.observe(opSetPassword, time.Now(), &err)
	return s.next.SetPassword(ctx, a1, a2)
}

// SetUserDisabled implements store.Store.
func (s *timedStore) SetUserDisabled(ctx context.Context, a1 string, a2 bool) (err error) {
	defer s.observe(opSetUserDisabled, time.Now(), &err)
	return s.next.SetUserDisabled(ctx, a1, a2)
}

// SigningKeys implements store.Store.
func (s *timedStore) SigningKeys(ctx context.Context) (_ []store.SigningKey, err error) {
	defer s.observe(opSigningKeys, time.Now(), &err)
	return s.next.SigningKeys(ctx)
}

// TakeAttempt implements store.Store.
func (s *timedStore) TakeAttempt(ctx context.Context, a1 string, a2 int, a3 time.Duration, a4 time.Time) (_ bool, _ time.Duration, err error) {
	defer s.observe(opTakeAttempt, time.Now(), &err)
	return s.next.TakeAttempt(ctx, a1, a2, a3, a4)
}

// UpdateClient implements store.Store.
func (s *timedStore) UpdateClient(ctx context.Context, a1 store.Client) (err error) {
	defer s.observe(opUpdateClient, time.Now(), &err)
	return s.next.UpdateClient(ctx, a1)
}

// User implements store.Store.
func (s *timedStore) User(ctx context.Context, a1 string) (_ store.User, err error) {
	defer s.observe(opUser, time.Now(), &err)
	return s.next.User(ctx, a1)
}

// UserByUsername implements store.Store.
func (s *timedStore) UserByUsername(ctx context.Context, a1 string) (_ store.User, err error) {
	defer s.observe(opUserByUsername, time.Now(), &err)
	return s.next.UserByUsername(ctx, a1)
}

// CreateUpstream implements store.Store.
func (s *timedStore) CreateUpstream(ctx context.Context, a1 store.Upstream) (err error) {
	defer s.observe(opCreateUpstream, time.Now(), &err)
	return s.next.CreateUpstream(ctx, a1)
}

// DeletePassthroughToken implements store.Store.
func (s *timedStore) DeletePassthroughToken(ctx context.Context, a1 string) (err error) {
	defer s.observe(opDeletePassthroughToken, time.Now(), &err)
	return s.next.DeletePassthroughToken(ctx, a1)
}

// DeleteScope implements store.Store.
func (s *timedStore) DeleteScope(ctx context.Context, a1 string) (err error) {
	defer s.observe(opDeleteScope, time.Now(), &err)
	return s.next.DeleteScope(ctx, a1)
}

// DeleteUpstream implements store.Store.
func (s *timedStore) DeleteUpstream(ctx context.Context, a1 string) (err error) {
	defer s.observe(opDeleteUpstream, time.Now(), &err)
	return s.next.DeleteUpstream(ctx, a1)
}

// PassthroughToken implements store.Store.
func (s *timedStore) PassthroughToken(ctx context.Context, a1 string) (_ store.PassthroughToken, err error) {
	defer s.observe(opPassthroughToken, time.Now(), &err)
	return s.next.PassthroughToken(ctx, a1)
}

// ReplacePassthroughToken implements store.Store.
func (s *timedStore) ReplacePassthroughToken(ctx context.Context, a1 string, a2 store.PassthroughToken) (err error) {
	defer s.observe(opReplacePassthroughToken, time.Now(), &err)
	return s.next.ReplacePassthroughToken(ctx, a1, a2)
}

// ResealAll implements store.Store.
func (s *timedStore) ResealAll(ctx context.Context, a1 func(store.SealedValue) (string, error)) (_ int, err error) {
	defer s.observe(opResealAll, time.Now(), &err)
	return s.next.ResealAll(ctx, a1)
}

// Scopes implements store.Store.
func (s *timedStore) Scopes(ctx context.Context) (_ []store.Scope, err error) {
	defer s.observe(opScopes, time.Now(), &err)
	return s.next.Scopes(ctx)
}

// SetScope implements store.Store.
func (s *timedStore) SetScope(ctx context.Context, a1 store.Scope) (err error) {
	defer s.observe(opSetScope, time.Now(), &err)
	return s.next.SetScope(ctx, a1)
}

// SignInFederated implements store.Store.
func (s *timedStore) SignInFederated(ctx context.Context, a1 store.User) (_ store.User, err error) {
	defer s.observe(opSignInFederated, time.Now(), &err)
	return s.next.SignInFederated(ctx, a1)
}

// TakeUpstreamTokens implements store.Store.
func (s *timedStore) TakeUpstreamTokens(ctx context.Context, a1 string) (_ string, err error) {
	defer s.observe(opTakeUpstreamTokens, time.Now(), &err)
	return s.next.TakeUpstreamTokens(ctx, a1)
}

// Upstream implements store.Store.
func (s *timedStore) Upstream(ctx context.Context, a1 string) (_ store.Upstream, err error) {
	defer s.observe(opUpstream, time.Now(), &err)
	return s.next.Upstream(ctx, a1)
}

// Upstreams implements store.Store.
func (s *timedStore) Upstreams(ctx context.Context) (_ []store.Upstream, err error) {
	defer s.observe(opUpstreams, time.Now(), &err)
	return s.next.Upstreams(ctx)
}

// UseOnce implements store.Store.
func (s *timedStore) UseOnce(ctx context.Context, a1 string, a2 time.Time) (err error) {
	defer s.observe(opUseOnce, time.Now(), &err)
	return s.next.UseOnce(ctx, a1, a2)
}

// RevokeUserGrant implements store.Store.
func (s *timedStore) RevokeUserGrant(ctx context.Context, a1 string, a2 string, a3 time.Time) (_ store.Grant, err error) {
	defer s.observe(opRevokeUserGrant, time.Now(), &err)
	return s.next.RevokeUserGrant(ctx, a1, a2, a3)
}
