package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// testUpstreams: upstreams are stored as given, listed by id, unique, and
// deleted.
func testUpstreams(t *testing.T, s store.Store) {
	ctx := t.Context()
	cognito := store.Upstream{ID: "cognito", Name: "Sign in with Lights Incorporated", Issuer: "https://cognito.example/pool",
		ClientID: "abc", ClientSecret: "v1.k.sealed", Scopes: []string{"openid", "email"}, UsernameClaim: "cognito:username",
		ExtraParams: map[string]string{"identity_provider": "COGNITO"}, CreatedAt: at(0)}
	dex := store.Upstream{ID: "dex", Issuer: "https://dex.example", ClientID: "grantd", Scopes: []string{"openid"},
		RevocationURL: "https://dex.example/revoke", CreatedAt: at(time.Second)}
	for _, u := range []store.Upstream{dex, cognito} {
		mustOK(t, s.CreateUpstream(ctx, u), "create upstream "+u.ID)
	}
	wantErr(t, s.CreateUpstream(ctx, store.Upstream{ID: "dex", Issuer: "https://other.example", CreatedAt: at(0)}),
		store.ErrAlreadyExists, "a second upstream dex")
	got, err := s.Upstream(ctx, "cognito")
	mustOK(t, err, "upstream cognito")
	wantEqual(t, "upstream cognito", got, cognito)
	list, err := s.Upstreams(ctx)
	mustOK(t, err, "upstreams")
	if len(list) != 2 || list[0].ID != "cognito" || list[1].ID != "dex" {
		t.Errorf("upstreams %+v, want cognito then dex", list)
	}
	mustOK(t, s.DeleteUpstream(ctx, "dex"), "delete dex")
	wantErr(t, s.DeleteUpstream(ctx, "dex"), store.ErrNotFound, "delete dex again")
	_, err = s.Upstream(ctx, "dex")
	wantErr(t, err, store.ErrNotFound, "deleted upstream")
}

// testSignInFederated: the first sign-in of a subject stores its user, a
// later one finds it and updates what the upstream says of it; subjects of
// different upstreams, and local users, are different people; concurrent
// first sign-ins store one user.
func testSignInFederated(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustOK(t, s.CreateUser(ctx, store.User{ID: "u-local", Username: "alice", PasswordHash: "x", CreatedAt: at(0)}), "local alice")
	first := store.User{ID: "u-fed-1", UpstreamID: "cognito", UpstreamSubject: "sub-1", DisplayName: "alice",
		Email: "alice@example.com", CreatedAt: at(0)}
	got, err := s.SignInFederated(ctx, first)
	mustOK(t, err, "first sign-in")
	want := first
	want.Username = store.FederatedUsername("cognito", "sub-1")
	wantEqual(t, "first sign-in", got, want)

	again := store.User{ID: "u-fed-2", UpstreamID: "cognito", UpstreamSubject: "sub-1", DisplayName: "alice.renamed",
		Email: "alice@new.example", EmailVerified: true, CreatedAt: at(time.Hour)}
	got, err = s.SignInFederated(ctx, again)
	mustOK(t, err, "second sign-in")
	want.DisplayName, want.Email, want.EmailVerified = "alice.renamed", "alice@new.example", true
	wantEqual(t, "second sign-in: the same user, updated", got, want)
	byID, err := s.User(ctx, "u-fed-1")
	mustOK(t, err, "user by id")
	wantEqual(t, "stored federated user", byID, want)
	_, err = s.User(ctx, "u-fed-2")
	wantErr(t, err, store.ErrNotFound, "no second user for one subject")

	other, err := s.SignInFederated(ctx, store.User{ID: "u-fed-3", UpstreamID: "dex", UpstreamSubject: "sub-1", CreatedAt: at(0)})
	mustOK(t, err, "same subject at another upstream")
	if other.ID != "u-fed-3" {
		t.Errorf("dex's sub-1 is user %q, want a user of its own", other.ID)
	}
	local, err := s.UserByUsername(ctx, "alice")
	mustOK(t, err, "local alice")
	if local.ID != "u-local" || local.UpstreamID != "" {
		t.Errorf("local alice %+v changed by a federated sign-in", local)
	}
	_, err = s.SignInFederated(ctx, store.User{ID: "u-bad", DisplayName: "nobody", CreatedAt: at(0)})
	if err == nil {
		t.Error("a federated sign-in without upstream and subject succeeded")
	}

	var wg sync.WaitGroup
	ids := make([]string, 20)
	for i := range ids {
		wg.Go(func() {
			u, err := s.SignInFederated(ctx, store.User{ID: fmt.Sprintf("u-race-%d", i), UpstreamID: "cognito",
				UpstreamSubject: "sub-race", CreatedAt: at(0)})
			if err != nil {
				t.Errorf("concurrent first sign-in %d: %v", i, err)
			}
			ids[i] = u.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent first sign-ins got users %v, want one", ids)
		}
	}
}

// testSessionUpstreamTokens: a session keeps the sealed upstream tokens of
// its sign-in until one caller takes them.
func testSessionUpstreamTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	sess := store.Session{IDHash: "sess-fed", UserID: "user-1", AuthTime: at(0), CreatedAt: at(0),
		ExpiresAt: at(sessionLifetime), UpstreamTokens: "v1.k.tokens"}
	mustOK(t, s.CreateSession(ctx, sess), "create")
	got, err := s.Session(ctx, sess.IDHash, at(0))
	mustOK(t, err, "session")
	wantEqual(t, "session with upstream tokens", got, sess)
	tokens, err := s.TakeUpstreamTokens(ctx, sess.IDHash)
	mustOK(t, err, "take")
	if tokens != "v1.k.tokens" {
		t.Errorf("took %q, want v1.k.tokens", tokens)
	}
	_, err = s.TakeUpstreamTokens(ctx, sess.IDHash)
	wantErr(t, err, store.ErrNotFound, "take again")
	_, err = s.TakeUpstreamTokens(ctx, "unknown")
	wantErr(t, err, store.ErrNotFound, "take of an unknown session")

	mustOK(t, s.CreateSession(ctx, store.Session{IDHash: "sess-race", UserID: "user-1", CreatedAt: at(0),
		ExpiresAt: at(sessionLifetime), UpstreamTokens: "v1.k.race"}), "create")
	if n := concurrently(20, func() error { _, err := s.TakeUpstreamTokens(ctx, "sess-race"); return err }); n != 1 {
		t.Errorf("%d of 20 concurrent takes got the tokens, want 1", n)
	}
}

// concurrently runs fn n times at once and returns how many succeeded.
func concurrently(n int, fn func() error) int {
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok int
	)
	for range n {
		wg.Go(func() {
			if fn() == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ok
}

// passthroughGrant stores a grant approved for a passthrough client with
// sealed upstream tokens.
func passthroughGrant(t *testing.T, s store.Store, n int) store.DeviceGrant {
	t.Helper()
	ensureParties(t, s, "user-1", tvClient)
	g := newGrant(n, at(0))
	mustOK(t, s.CreateDeviceGrant(t.Context(), g), "create")
	g, err := s.DecideDeviceGrant(t.Context(), g.UserCode, store.Decision{Approve: true, UserID: "user-1",
		AuthTime: at(30 * time.Second), UpstreamTokens: fmt.Sprintf("v1.k.tokens-%d", n)}, at(time.Minute))
	mustOK(t, err, "approve")
	return g
}

// handOver returns an IssueFunc that issues the passthrough record rec
// (none when nil) for whatever grant it consumes, and the sealed upstream
// tokens of the last grant it saw.
func handOver(rec *store.PassthroughToken) (issue store.IssueFunc[store.DeviceGrant], seen func() string) {
	var mu sync.Mutex
	var tokens string
	issue = func(g store.DeviceGrant, _ store.User) (store.Issuance, error) {
		mu.Lock()
		defer mu.Unlock()
		tokens = g.UpstreamTokens
		return store.Issuance{Passthrough: rec}, nil
	}
	return issue, func() string { mu.Lock(); defer mu.Unlock(); return tokens }
}

// testRedeemPassthrough: a passthrough grant, redeemed by RedeemDeviceGrant
// with an issuance of no grant of grantd's own, hands its upstream tokens
// over once, with the record of its refresh token; a failed issue, a
// disabled user or another client changes nothing; of concurrent
// redemptions one wins.
func testRedeemPassthrough(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := passthroughGrant(t, s, 40)
	ensureClient(t, s, "other")
	now := at(2 * time.Minute)
	rec := &store.PassthroughToken{Hash: "pt-hash-40", ClientID: tvClient, UserID: "user-1", UpstreamID: "cognito",
		CreatedAt: now, ExpiresAt: now.Add(familyLifetime)}
	issue, seen := handOver(rec)

	_, err := s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, "other", now, issue)
	wantErr(t, err, store.ErrNotFound, "redemption by another client")
	errNo := errors.New("cannot unseal")
	_, err = s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, tvClient, now,
		func(store.DeviceGrant, store.User) (store.Issuance, error) { return store.Issuance{}, errNo })
	wantErr(t, err, errNo, "redemption whose issue fails")
	mustOK(t, s.SetUserDisabled(ctx, "user-1", true), "disable user-1")
	_, err = s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, tvClient, now, issue)
	wantErr(t, err, store.ErrUserInactive, "redemption for a disabled user")
	mustOK(t, s.SetUserDisabled(ctx, "user-1", false), "enable user-1")
	if seen() != "" {
		t.Errorf("refused redemptions handed the tokens %q to the IssueFunc", seen())
	}
	_, err = s.PassthroughToken(ctx, rec.Hash)
	wantErr(t, err, store.ErrNotFound, "record of a refused redemption")

	got, err := s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, tvClient, now, issue)
	mustOK(t, err, "redeem")
	if got.UpstreamTokens != "v1.k.tokens-40" || seen() != "v1.k.tokens-40" || got.UserID != "user-1" {
		t.Errorf("redeemed %+v (issue saw %q), want user-1's tokens v1.k.tokens-40", got, seen())
	}
	stored, err := s.PassthroughToken(ctx, rec.Hash)
	mustOK(t, err, "record of the refresh token")
	wantEqual(t, "record of the refresh token", stored, *rec)
	// The tokens are handed over once: the grant keeps none.
	_, err = s.ResealAll(ctx, func(v store.SealedValue) (string, error) {
		if v.Kind == store.SealedDeviceTokens && v.Key == g.DeviceCodeHash {
			t.Errorf("redeemed grant still holds sealed tokens %q", v.Value)
		}
		return v.Value, nil
	})
	mustOK(t, err, "reseal after the redemption")
	_, err = s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, tvClient, now, issue)
	wantErr(t, err, store.ErrConflict, "second redemption")
	after, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
	mustOK(t, err, "grant after redemption")
	if after.State != store.DeviceIssued {
		t.Errorf("state after redemption %s, want issued", after.State)
	}
	_, err = s.RedeemDeviceGrant(ctx, "unknown", tvClient, now, issue)
	wantErr(t, err, store.ErrNotFound, "redemption of an unknown code")

	race := passthroughGrant(t, s, 41)
	none, _ := handOver(nil)
	if n := concurrently(20, func() error {
		_, err := s.RedeemDeviceGrant(ctx, race.DeviceCodeHash, tvClient, now, none)
		return err
	}); n != 1 {
		t.Errorf("%d of 20 concurrent redemptions got the tokens, want 1", n)
	}
}

// testPassthroughTokens: a record is replaced when the upstream rotates the
// token, once, and deleted idempotently.
func testPassthroughTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := passthroughGrant(t, s, 50)
	first := store.PassthroughToken{Hash: "pt-1", ClientID: tvClient, UserID: "user-1", UpstreamID: "cognito",
		CreatedAt: at(0), ExpiresAt: at(familyLifetime)}
	issue, _ := handOver(&first)
	_, err := s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, tvClient, at(2*time.Minute), issue)
	mustOK(t, err, "redeem")
	next := first
	next.Hash, next.CreatedAt = "pt-2", at(time.Hour)
	mustOK(t, s.ReplacePassthroughToken(ctx, "pt-1", next), "replace")
	wantErr(t, s.ReplacePassthroughToken(ctx, "pt-1", next), store.ErrNotFound, "replace again")
	_, err = s.PassthroughToken(ctx, "pt-1")
	wantErr(t, err, store.ErrNotFound, "replaced record")
	got, err := s.PassthroughToken(ctx, "pt-2")
	mustOK(t, err, "new record")
	wantEqual(t, "new record", got, next)
	mustOK(t, s.DeletePassthroughToken(ctx, "pt-2"), "delete")
	mustOK(t, s.DeletePassthroughToken(ctx, "pt-2"), "delete again")
	_, err = s.PassthroughToken(ctx, "pt-2")
	wantErr(t, err, store.ErrNotFound, "deleted record")
}

// testUseOnce: a value is used once, by one of concurrent callers, and may
// be used again once purged after its expiry.
func testUseOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustOK(t, s.UseOnce(ctx, "state-1", at(time.Minute)), "first use")
	wantErr(t, s.UseOnce(ctx, "state-1", at(time.Minute)), store.ErrAlreadyExists, "second use")
	if n := concurrently(20, func() error { return s.UseOnce(ctx, "state-race", at(time.Minute)) }); n != 1 {
		t.Errorf("%d of 20 concurrent uses succeeded, want 1", n)
	}
	_, err := s.PurgeExpired(ctx, at(time.Minute))
	mustOK(t, err, "purge")
	mustOK(t, s.UseOnce(ctx, "state-1", at(2*time.Minute)), "use after the first use was purged")
}

// testResealAll: every sealed value is replaced, in one transaction.
func testResealAll(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustOK(t, s.CreateUpstream(ctx, store.Upstream{ID: "cognito", Issuer: "https://c.example", ClientSecret: "old:secret",
		CreatedAt: at(0)}), "upstream")
	mustOK(t, s.CreateUpstream(ctx, store.Upstream{ID: "public", Issuer: "https://p.example", CreatedAt: at(0)}), "public upstream")
	mustOK(t, s.CreateSession(ctx, store.Session{IDHash: "sess-1", UserID: "user-1", CreatedAt: at(0),
		ExpiresAt: at(sessionLifetime), UpstreamTokens: "old:session"}), "session")
	g := passthroughGrant(t, s, 60)
	var seen []store.SealedValue
	errNo := errors.New("no")
	_, err := s.ResealAll(ctx, func(v store.SealedValue) (string, error) {
		if v.Kind == store.SealedDeviceTokens {
			return "", errNo
		}
		return "new:" + v.Value, nil
	})
	wantErr(t, err, errNo, "a reseal that fails")
	if sess, err := s.Session(ctx, "sess-1", at(0)); err != nil || sess.UpstreamTokens != "old:session" {
		t.Errorf("after a failed reseal: session %+v, %v; want it unchanged", sess, err)
	}
	n, err := s.ResealAll(ctx, func(v store.SealedValue) (string, error) {
		seen = append(seen, v)
		return "new:" + v.Value, nil
	})
	mustOK(t, err, "reseal")
	if n != 3 || len(seen) != 3 {
		t.Errorf("resealed %d values %+v, want the 3 sealed ones", n, seen)
	}
	want := map[string]store.SealedValue{
		store.SealedUpstreamSecret: {Kind: store.SealedUpstreamSecret, Key: "cognito", Value: "old:secret"},
		store.SealedSessionTokens:  {Kind: store.SealedSessionTokens, Key: "sess-1", Value: "old:session"},
		store.SealedDeviceTokens:   {Kind: store.SealedDeviceTokens, Key: g.DeviceCodeHash, Value: "v1.k.tokens-60"},
	}
	for _, v := range seen {
		wantEqual(t, "sealed value "+v.Kind, v, want[v.Kind])
	}
	u, err := s.Upstream(ctx, "cognito")
	mustOK(t, err, "upstream")
	sess, err := s.Session(ctx, "sess-1", at(0))
	mustOK(t, err, "session")
	if u.ClientSecret != "new:old:secret" || sess.UpstreamTokens != "new:old:session" {
		t.Errorf("after reseal: secret %q, session tokens %q", u.ClientSecret, sess.UpstreamTokens)
	}
}
