// Package storetest is the conformance suite every store.Store backend runs
// in full: no backend may skip a part of it. It checks the contracts in
// package store, including the atomic verbs under real concurrency
// (docs/SECURITY.md REL-02, REL-03, REL-04, REL-05 and REL-20), and drives time only
// through explicit now values: it never sleeps.
//
// Times the suite stores are in a non-UTC zone with millisecond precision;
// backends must return equal instants (time.Time.Equal) at least to the
// millisecond, in any location.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// Run runs the whole suite. newStore must return a new, empty store and
// arrange for it to be closed when t ends (t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Clients", testClients},
		{"Users", testUsers},
		{"Clients/ListUpdate", testListUpdateClients},
		{"Clients/RotateSecret", testRotateClientSecret},
		{"Clients/Delete", testDeleteClient},
		{"Users/List", testListUsers},
		{"Users/SetPassword", testSetPassword},
		{"Users/Delete", testDeleteUser},
		{"Sessions/DeleteUserSessions", testDeleteUserSessions},
		{"Grants/ByClient", testGrantsByClient},
		{"Grants/RevokeUser", testRevokeUserGrants},
		{"DeviceGrants/Create", testDeviceCreate},
		{"DeviceGrants/Poll", testDevicePoll},
		{"DeviceGrants/Decide", testDeviceDecide},
		{"DeviceGrants/Redeem", testDeviceRedeem},
		{"DeviceGrants/RedeemByWrongClient", testDeviceRedeemWrongClient},
		{"DEV-18/RedeemRechecksUser", testDeviceRedeemRechecksUser},
		{"DeviceGrants/RedeemIsAllOrNothing", testDeviceRedeemAtomic},
		{"AuthorizationCodes/Create", testCodeCreate},
		{"AuthorizationCodes/Redeem", testCodeRedeem},
		{"AuthorizationCodes/RedeemIsAllOrNothing", testCodeRedeemAtomic},
		{"Grants/Lookup", testGrants},
		{"Grants/Revoke", testRevokeGrant},
		{"Grants/RevokeUserGrant", testRevokeUserGrant},
		{"Grants/LastUsed", testGrantLastUsed},
		{"RefreshTokens/CreateRotate", testRefreshRotate},
		{"RefreshTokens/RotateDecides", testRefreshRotateDecides},
		{"RefreshTokens/RefusesForeignSuccessor", testRefreshRefusesForeignSuccessor},
		{"RefreshTokens/RefusesInactive", testRefreshRefusesInactive},
		{"RefreshTokens/GrantKind", testRefreshGrantKind},
		{"Redemptions/AnotherClientsRecord", testRedeemAnotherClientsRecord},
		{"Redemptions/RechecksUserAndClient", testRedeemRechecksParties},
		{"Redemptions/IssueFails", testRedeemIssueFails},
		{"Redemptions/IssueSeesRecordAndUser", testRedeemIssueSeesRecordAndUser},
		{"Redemptions/RefusesIssuanceThatDoesNotFit", testRedeemRefusesMisfits},
		{"Redemptions/ConflictReturnsRecord", testRedeemConflictReturnsRecord},
		{"AccessTokens", testAccessTokens},
		{"RT-07/AccessTokenLive", testAccessTokenLive},
		{"Consents", testConsents},
		{"Scopes", testScopes},
		{"Sessions", testSessions},
		{"SigningKeys", testSigningKeys},
		{"REL-12/RotateSigningKey", testRotateSigningKey},
		{"Secrets", testSecrets},
		{"Attempts", testAttempts},
		{"ReturnAttempt", testReturnAttempt},
		{"Upstreams", testUpstreams},
		{"Users/SignInFederated", testSignInFederated},
		{"Sessions/UpstreamTokens", testSessionUpstreamTokens},
		{"DeviceGrants/RedeemPassthrough", testRedeemPassthrough},
		{"PassthroughTokens", testPassthroughTokens},
		{"UseOnce", testUseOnce},
		{"ResealAll", testResealAll},
		{"PurgeExpired/DeviceGrantsSessionsRefreshTokens", testPurge},
		{"PurgeExpired/GrantsAndCodes", testPurgeGrantsAndCodes},
		{"REL-02/ConcurrentRedeem", testConcurrentRedeem},
		{"REL-02/ConcurrentCodeRedeem", testConcurrentCodeRedeem},
		{"REL-03/ConcurrentRotate", testConcurrentRotate},
		{"REL-03/ConcurrentRevokeAndRotate", testConcurrentRevokeRotate},
		{"REL-03/ConcurrentRevokeUserAndRotate", testConcurrentRevokeUserRotate},
		{"REL-03/ConcurrentDeleteUserAndRotate", testConcurrentDeleteUserRotate},
		{"REL-04/ConcurrentPolls", testConcurrentPolls},
		{"REL-04/ConcurrentDecisions", testConcurrentDecisions},
		{"REL-04/ConcurrentPollsOfManyCodes", testConcurrentPollsOfManyCodes},
		{"REL-05/ConcurrentAttempts", testConcurrentAttempts},
		{"REL-20/ConcurrentEnsureSigningKey", testConcurrentEnsureKey},
		{"REL-12/ConcurrentRotateSigningKey", testConcurrentRotateKey},
		{"REL-20/ConcurrentEnsureSecret", testConcurrentEnsureSecret},
		{"REL-20/ConcurrentMixedWrites", testConcurrentMixedWrites},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// start is the instant every test's clock starts from. It is deliberately
// not in UTC.
func start() time.Time {
	return time.Date(2026, 11, 2, 9, 30, 0, 250_000_000, time.FixedZone("UTC+01:00", 3600))
}

// at returns start() + d.
func at(d time.Duration) time.Time { return start().Add(d) }

const (
	grantLifetime   = 10 * time.Minute
	pollInterval    = 5 * time.Second
	idleLifetime    = 24 * time.Hour
	familyLifetime  = 30 * 24 * time.Hour
	sessionLifetime = time.Hour
	codeLifetime    = time.Minute
	tvClient        = "tv"
)

func newGrant(n int, created time.Time) store.DeviceGrant {
	return store.DeviceGrant{
		DeviceCodeHash: fmt.Sprintf("device-code-hash-%d", n),
		UserCode:       fmt.Sprintf("WDJB%04d", n),
		ClientID:       tvClient,
		Scopes:         []string{"openid", "lights:write"},
		State:          store.DevicePending,
		Interval:       pollInterval,
		CreatedAt:      created,
		ExpiresAt:      created.Add(grantLifetime),
	}
}

func newRefresh(hash, grantID string, created time.Time) store.RefreshToken {
	return store.RefreshToken{
		Hash:            hash,
		GrantID:         grantID,
		ClientID:        tvClient,
		UserID:          "user-1",
		Scopes:          []string{"openid", "offline_access"},
		AuthTime:        created.Add(-time.Minute),
		CreatedAt:       created,
		ExpiresAt:       created.Add(idleLifetime),
		FamilyExpiresAt: created.Add(familyLifetime),
	}
}

// ensureUser stores an enabled user id unless it exists: the user a
// redemption re-checks (DEV-18).
func ensureUser(t *testing.T, s store.Store, id string) {
	t.Helper()
	err := s.CreateUser(t.Context(), store.User{ID: id, Username: "name-of-" + id, PasswordHash: "x", CreatedAt: at(0)})
	if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("create user %q: %v", id, err)
	}
}

// ensureClient stores an enabled client id unless it exists: the client a
// redemption re-checks.
func ensureClient(t *testing.T, s store.Store, id string) {
	t.Helper()
	err := s.CreateClient(t.Context(), store.Client{ID: id, Name: "name-of-" + id, CreatedAt: at(0)})
	if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("create client %q: %v", id, err)
	}
}

// ensureParties stores the user userID and the client clientID, enabled,
// unless they exist: what every redemption re-checks before it issues.
func ensureParties(t *testing.T, s store.Store, userID, clientID string) {
	t.Helper()
	ensureUser(t, s, userID)
	ensureClient(t, s, clientID)
}

// Issue returns an IssueFunc that issues g and rt whatever it consumed:
// for fixtures.
func Issue[T any](g *store.Grant, rt *store.RefreshToken) store.IssueFunc[T] {
	return func(T, store.User) (store.Issuance, error) {
		return store.Issuance{Grant: g, RefreshToken: rt}, nil
	}
}

// Successor returns an IssueFunc that issues next as the successor of
// whatever generation it rotates: for fixtures.
func Successor(next store.RefreshToken) store.IssueFunc[store.RefreshToken] {
	return func(store.RefreshToken, store.User) (store.Issuance, error) {
		return store.Issuance{RefreshToken: &next}, nil
	}
}

// Rotate rotates the generation oldHash to next at now, presented by
// next's client (a successor keeps its family's client), whatever the
// generation: for tests that store families by hand. Its user and client
// must be present and enabled, as for any rotation.
func Rotate(ctx context.Context, s store.RefreshTokens, oldHash string, next store.RefreshToken, now time.Time) error {
	_, err := s.RotateRefreshToken(ctx, oldHash, next.ClientID, now, Successor(next))
	return err
}

// nextGen returns the generation that replaces prev: same grant and family
// expiry, created at now.
func nextGen(prev store.RefreshToken, hash string, now time.Time) store.RefreshToken {
	next := newRefresh(hash, prev.GrantID, now)
	next.FamilyExpiresAt = prev.FamilyExpiresAt
	next.Resource = prev.Resource
	return next
}

// newGrantRecord returns a grant of user-1 to the TV client, created at
// created and usable for the family lifetime.
func newGrantRecord(id string, created time.Time) store.Grant {
	return store.Grant{
		ID:         id,
		ClientID:   tvClient,
		UserID:     "user-1",
		Scopes:     []string{"openid", "offline_access"},
		Kind:       "urn:ietf:params:oauth:grant-type:device_code",
		CreatedAt:  created,
		ExpiresAt:  created.Add(familyLifetime),
		LastUsedAt: created,
	}
}

// storeGrant stores gr, and rt when not nil, the way the authorization code
// grant does: by redeeming a code made for them at gr.CreatedAt. It
// stores the grant's user and client first, enabled, unless they exist.
func storeGrant(t *testing.T, s store.Store, gr store.Grant, rt *store.RefreshToken) {
	t.Helper()
	ensureParties(t, s, gr.UserID, gr.ClientID)
	c := store.AuthorizationCode{
		Hash: "code-for-" + gr.ID, ClientID: gr.ClientID, UserID: gr.UserID, RedirectURI: "https://example.com/cb",
		Scopes: gr.Scopes, CreatedAt: gr.CreatedAt, ExpiresAt: gr.CreatedAt.Add(codeLifetime),
	}
	mustOK(t, s.CreateAuthorizationCode(t.Context(), c), "create code for grant "+gr.ID)
	_, err := s.RedeemAuthorizationCode(t.Context(), c.Hash, c.ClientID, gr.CreatedAt, Issue[store.AuthorizationCode](&gr, rt))
	mustOK(t, err, "redeem code for grant "+gr.ID)
}

// ofGrant returns rt as a backend reads it back once it is stored with its
// grant gr: carrying the grant's kind.
func ofGrant(rt store.RefreshToken, gr store.Grant) store.RefreshToken {
	if rt.GrantID == gr.ID {
		rt.GrantKind = gr.Kind
	}
	return rt
}

// mustOK stops the test when err is not nil.
func mustOK(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr reports an error unless errors.Is(err, want); a nil want requires
// a nil err.
func wantErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// wantNonSentinel reports an error unless err is an error that is none of
// the store's sentinels: what a backend answers a caller's bug with, such
// as an issuance that does not fit its redemption.
func wantNonSentinel(t *testing.T, err error, what string) {
	t.Helper()
	for _, sentinel := range []error{store.ErrNotFound, store.ErrAlreadyExists, store.ErrConflict,
		store.ErrUserInactive, store.ErrClientInactive} {
		if errors.Is(err, sentinel) {
			t.Errorf("%s: got %v, want an error that is no sentinel", what, err)
			return
		}
	}
	if err == nil {
		t.Errorf("%s: no error, want one that is no sentinel", what)
	}
}

// wantEqual compares two values after norm has put their times in UTC and
// their empty lists to nil.
func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

// norm returns v with every time.Time field in UTC (and without a monotonic
// reading) and every empty []string field nil, so that reflect.DeepEqual
// compares instants and contents.
func norm(v any) any {
	rv := reflect.New(reflect.TypeOf(v)).Elem()
	rv.Set(reflect.ValueOf(v))
	if rv.Kind() != reflect.Struct {
		return v
	}
	for i := range rv.NumField() {
		f := rv.Field(i)
		switch x := f.Interface().(type) {
		case time.Time:
			f.Set(reflect.ValueOf(x.UTC()))
		case []string:
			if len(x) == 0 {
				f.Set(reflect.Zero(f.Type()))
			}
		case []byte:
			if len(x) == 0 {
				f.Set(reflect.Zero(f.Type()))
			}
		}
	}
	return rv.Interface()
}

// race runs fn(0) … fn(n-1) on n goroutines released together by a start
// barrier, and returns their errors by index.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	startGate := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-startGate
			errs[i] = fn(i)
		}()
	}
	ready.Wait()
	close(startGate)
	done.Wait()
	return errs
}

// tally counts nil errors and errors matching want, and reports any other
// error: under concurrency a backend may only win or lose, never fail
// (docs/SECURITY.md INV-01; REL-08 "database is locked").
func tally(t *testing.T, errs []error, want error) (wins, losses int) {
	t.Helper()
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, want):
			losses++
		default:
			t.Errorf("caller %d: unexpected error %v", i, err)
		}
	}
	return wins, losses
}
