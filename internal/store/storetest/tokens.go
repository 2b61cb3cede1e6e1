package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

func testAccessTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	gr := liveGrant(t, s, "access", at(0))
	// A revoked token is one the live grant no longer backs.
	check := func(what, jti string, revoked bool) {
		t.Helper()
		_, live, err := s.AccessTokenLive(ctx, jti, gr.ID, at(0))
		mustOK(t, err, what)
		if live == revoked {
			t.Errorf("%s: AccessTokenLive(%q) = %t, want %t", what, jti, live, !revoked)
		}
	}
	check("before revocation", "jti-1", false)
	mustOK(t, s.RevokeAccessToken(ctx, "jti-1", at(time.Hour)), "revoke")
	mustOK(t, s.RevokeAccessToken(ctx, "jti-1", at(time.Hour)), "revoke again")
	mustOK(t, s.RevokeAccessToken(ctx, "jti-2", at(2*time.Hour)), "revoke another")
	check("after revocation", "jti-1", true)
	check("another", "jti-2", true)
	check("never revoked", "jti-3", false)
}

// liveGrant stores a grant made at created, of a user and a client of its
// own that are present and enabled, that backs access tokens for a day: what
// AccessTokenLive then reports is about the token id alone.
func liveGrant(t *testing.T, s store.Store, name string, created time.Time) store.Grant {
	t.Helper()
	ctx := t.Context()
	mustOK(t, s.CreateUser(ctx, store.User{ID: "u-" + name, Username: name, PasswordHash: "x", CreatedAt: created}), "user")
	mustOK(t, s.CreateClient(ctx, store.Client{ID: "c-" + name, Name: name, CreatedAt: created}), "client")
	g := newGrantRecord("g-"+name, created)
	g.UserID, g.ClientID, g.ExpiresAt = "u-"+name, "c-"+name, created.Add(24*time.Hour)
	storeGrant(t, s, g, nil)
	return g
}

// testAccessTokenLive covers every reason an access token's backing state
// can end (RT-07, REV-02): each row changes one thing from a live token. A
// live token comes with its grant's user's name, a dead one with none.
func testAccessTokenLive(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(time.Hour)
	for _, u := range []string{"live", "off", "ghost"} {
		mustOK(t, s.CreateUser(ctx, store.User{ID: "u-" + u, Username: u, PasswordHash: "x", CreatedAt: at(0)}), "user")
		mustOK(t, s.CreateClient(ctx, store.Client{ID: "c-" + u, Name: u, CreatedAt: at(0)}), "client")
	}
	grant := func(id, user, client string, expires time.Duration) {
		g := newGrantRecord(id, at(0))
		g.UserID, g.ClientID, g.ExpiresAt = user, client, at(expires)
		storeGrant(t, s, g, nil)
	}
	grant("g-live", "u-live", "c-live", 2*time.Hour)
	grant("g-revoked", "u-live", "c-live", 2*time.Hour)
	mustOK(t, s.RevokeGrant(ctx, "g-revoked", at(time.Minute)), "revoke grant")
	grant("g-expired", "u-live", "c-live", time.Hour) // expires exactly at now
	// A redemption issues only to a user and a client present and
	// enabled: they are disabled, or deleted, once their grants exist.
	// Deleting revokes the grants as well; a family without a grants row
	// below shows a user or client gone alone.
	grant("g-user-off", "u-off", "c-live", 2*time.Hour)
	grant("g-user-gone", "u-ghost", "c-live", 2*time.Hour)
	grant("g-client-off", "u-live", "c-off", 2*time.Hour)
	grant("g-client-gone", "u-live", "c-ghost", 2*time.Hour)
	mustOK(t, s.SetUserDisabled(ctx, "u-off", true), "disable user")
	mustOK(t, s.UpdateClient(ctx, store.Client{ID: "c-off", Name: "off", Disabled: true}), "disable client")
	mustOK(t, s.DeleteUser(ctx, "u-ghost", at(time.Minute)), "delete user")
	mustOK(t, s.DeleteClient(ctx, "c-ghost", at(time.Minute)), "delete client")
	mustOK(t, s.RevokeAccessToken(ctx, "jti-revoked", at(2*time.Hour)), "revoke access token")

	checkLive(t, s, now, "", []liveCase{
		{name: "live token of a live grant", jti: "jti-1", grant: "g-live", want: true},
		{name: "grant alone (no jti)", grant: "g-live", want: true},
		{name: "grant just before its expiry", jti: "jti-1", grant: "g-expired", early: time.Nanosecond, want: true},
		{name: "revoked jti", jti: "jti-revoked", grant: "g-live"},
		{name: "unknown grant", jti: "jti-1", grant: "g-nope"},
		{name: "revoked grant", jti: "jti-1", grant: "g-revoked"},
		{name: "grant expired at now", jti: "jti-1", grant: "g-expired"},
		{name: "disabled user", jti: "jti-1", grant: "g-user-off"},
		{name: "user gone", jti: "jti-1", grant: "g-user-gone"},
		{name: "disabled client", jti: "jti-1", grant: "g-client-off"},
		{name: "client gone", jti: "jti-1", grant: "g-client-gone"},
	})
	testAccessTokenLiveWithoutGrantRow(t, s)
}

// testAccessTokenLiveWithoutGrantRow: a refresh family stored before grants
// existed (schema version 1, or an instance of that version still running
// during an upgrade) has no grants row, and rotation treats it as a grant
// never revoked; the access tokens minted from it name the family as their
// grant, and stay live while the family does (REL-19).
func testAccessTokenLiveWithoutGrantRow(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(time.Hour)
	family := func(id, user, client string, created time.Time) {
		rt := newRefresh(id+"-rt", id, created)
		rt.UserID, rt.ClientID = user, client
		mustOK(t, s.CreateRefreshToken(ctx, rt), "create family "+id)
	}
	family("f-live", "u-live", "c-live", at(0))
	family("f-revoked", "u-live", "c-live", at(0))
	mustOK(t, s.RevokeGrant(ctx, "f-revoked", at(time.Minute)), "revoke family")
	family("f-expired", "u-live", "c-live", now.Add(-familyLifetime)) // its absolute lifetime ends at now
	family("f-user-off", "u-off", "c-live", at(0))
	family("f-user-gone", "u-nobody", "c-live", at(0))
	family("f-client-off", "u-live", "c-off", at(0))
	family("f-client-gone", "u-live", "c-nobody", at(0))
	checkLive(t, s, now, "no grants row, ", []liveCase{
		{name: "live family", jti: "jti-1", grant: "f-live", want: true},
		{name: "the family alone (no jti)", grant: "f-live", want: true},
		{name: "revoked jti", jti: "jti-revoked", grant: "f-live"},
		{name: "revoked family", jti: "jti-1", grant: "f-revoked"},
		{name: "family past its lifetime", jti: "jti-1", grant: "f-expired"},
		{name: "disabled user", jti: "jti-1", grant: "f-user-off"},
		{name: "user gone", jti: "jti-1", grant: "f-user-gone"},
		{name: "disabled client", jti: "jti-1", grant: "f-client-off"},
		{name: "client gone", jti: "jti-1", grant: "f-client-gone"},
	})
}

// liveCase asks AccessTokenLive about jti of grant, early before the
// test's now. A live token comes with its grant's user's name, "live" in
// these tests; a dead one with none.
type liveCase struct {
	name, jti, grant string
	early            time.Duration
	want             bool
}

func checkLive(t *testing.T, s store.Store, now time.Time, prefix string, cases []liveCase) {
	t.Helper()
	for _, tc := range cases {
		name, got, err := s.AccessTokenLive(t.Context(), tc.jti, tc.grant, now.Add(-tc.early))
		mustOK(t, err, prefix+tc.name)
		wantName := ""
		if tc.want {
			wantName = "live"
		}
		if got != tc.want || name != wantName {
			t.Errorf("%s%s: AccessTokenLive(%q, %q) = %q, %t; want %q, %t",
				prefix, tc.name, tc.jti, tc.grant, name, got, wantName, tc.want)
		}
	}
}

func testConsents(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.Consent(ctx, "user-1", tvClient)
	wantErr(t, err, store.ErrNotFound, "consent before any")

	first := store.Consent{UserID: "user-1", ClientID: tvClient, Scopes: []string{"openid"}, GrantedAt: at(0)}
	other := store.Consent{UserID: "user-1", ClientID: "platform", GrantedAt: at(time.Minute)}
	mustOK(t, s.SaveConsent(ctx, first), "save")
	mustOK(t, s.SaveConsent(ctx, other), "save other client")
	got, err := s.Consent(ctx, first.UserID, first.ClientID)
	mustOK(t, err, "consent")
	wantEqual(t, "consent", got, first)

	wider := first
	wider.Scopes, wider.GrantedAt = []string{"openid", "lights:write"}, at(time.Hour)
	mustOK(t, s.SaveConsent(ctx, wider), "replace")
	got, err = s.Consent(ctx, first.UserID, first.ClientID)
	mustOK(t, err, "consent after replace")
	wantEqual(t, "consent after replace", got, wider)
	got, err = s.Consent(ctx, other.UserID, other.ClientID)
	mustOK(t, err, "other consent")
	wantEqual(t, "other consent", got, other)
	_, err = s.Consent(ctx, "user-2", tvClient)
	wantErr(t, err, store.ErrNotFound, "another user's consent")
}

func testSecrets(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		value []byte
		want  []byte
	}{
		{"refresh", []byte{0, 1, 2, 255}, []byte{0, 1, 2, 255}},
		{"refresh", []byte{9, 9}, []byte{0, 1, 2, 255}},
		{"csrf", []byte("another secret"), []byte("another secret")},
	} {
		got, err := s.EnsureSecret(ctx, tc.name, tc.value)
		mustOK(t, err, "ensure secret "+tc.name)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("EnsureSecret(%q, %x) = %x, want %x", tc.name, tc.value, got, tc.want)
		}
	}
}

// testAttempts drives one GCRA budget of 3 attempts per 30 seconds: three at
// once, then one every 10 seconds.
func testAttempts(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n, window = 3, 30 * time.Second
	steps := []struct {
		at        time.Duration
		wantOK    bool
		wantRetry time.Duration
	}{
		{0, true, 0},
		{0, true, 0},
		{0, true, 0},
		{0, false, 10 * time.Second},
		{4 * time.Second, false, 6 * time.Second},
		{10 * time.Second, true, 0},
		{10 * time.Second, false, 10 * time.Second},
		{25 * time.Second, true, 0}, // 15s refilled one and a half
		{25 * time.Second, false, 5 * time.Second},
		{time.Hour, true, 0}, // full again: three at once
		{time.Hour, true, 0},
		{time.Hour, true, 0},
		{time.Hour, false, 10 * time.Second},
	}
	for i, st := range steps {
		ok, retry, err := s.TakeAttempt(ctx, "verify:203.0.113.7", n, window, at(st.at))
		mustOK(t, err, "take attempt")
		if ok != st.wantOK || retry != st.wantRetry {
			t.Errorf("attempt %d at +%v: got %t, retry after %v; want %t, %v", i, st.at, ok, retry, st.wantOK, st.wantRetry)
		}
	}
	// Keys have their own budgets.
	for i := range n {
		ok, _, err := s.TakeAttempt(ctx, "verify:198.51.100.1", n, window, at(0))
		mustOK(t, err, "other key")
		if !ok {
			t.Errorf("attempt %d of another key refused", i)
		}
	}
	for _, bad := range []struct {
		n      int
		window time.Duration
	}{{0, window}, {-1, window}, {n, 0}} {
		if _, _, err := s.TakeAttempt(ctx, "k", bad.n, bad.window, at(0)); err == nil {
			t.Errorf("TakeAttempt with n=%d window=%v: no error", bad.n, bad.window)
		}
		if err := s.ReturnAttempt(ctx, "k", bad.n, bad.window); err == nil {
			t.Errorf("ReturnAttempt with n=%d window=%v: no error", bad.n, bad.window)
		}
	}
}

// testReturnAttempt: an attempt given back is as if never taken, and giving
// back never makes a budget fuller than full; an unknown key is no error.
func testReturnAttempt(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n, window = 3, 30 * time.Second
	take := func(key string, at0 time.Duration) bool {
		ok, _, err := s.TakeAttempt(ctx, key, n, window, at(at0))
		mustOK(t, err, "take attempt")
		return ok
	}
	for range n {
		take("signin:account:alice", 0)
	}
	mustOK(t, s.ReturnAttempt(ctx, "signin:account:alice", n, window), "return attempt")
	if !take("signin:account:alice", 0) {
		t.Error("the attempt given back could not be taken")
	}
	if take("signin:account:alice", 0) {
		t.Error("more than the budget after one attempt given back")
	}
	// Given back many times over: still no more than n at once.
	for range 10 {
		mustOK(t, s.ReturnAttempt(ctx, "signin:account:bob", n, window), "return attempt of an unknown key")
	}
	take("signin:account:bob", 0)
	for range 10 {
		mustOK(t, s.ReturnAttempt(ctx, "signin:account:bob", n, window), "return attempt")
	}
	for i := range n {
		if !take("signin:account:bob", time.Minute) {
			t.Errorf("attempt %d of a full budget refused", i)
		}
	}
	if take("signin:account:bob", time.Minute) {
		t.Error("a budget given back too often allowed more than n at once")
	}
}

// testPurgeGrantsAndCodes checks that purging removes expired authorization
// codes (redeemed ones only once expired, so that reuse is still detected),
// grants past their expiry, revocations of expired access tokens and attempt
// budgets that are full again, and nothing else.
func testPurgeGrantsAndCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(purgeNow)
	expired, redeemedExpired, redeemedLive := newCode(1, at(0)), newCode(2, at(0)), newCode(3, now.Add(-30*time.Second))
	gExpired, gLive := platformGrant("expired", at(10*time.Second)), platformGrant("live", now.Add(-20*time.Second))
	gExpired.ExpiresAt = at(time.Hour)
	for _, c := range []store.AuthorizationCode{expired, redeemedExpired, redeemedLive} {
		mustOK(t, s.CreateAuthorizationCode(ctx, c), "create code")
	}
	ensureParties(t, s, "user-1", "platform")
	for c, g := range map[string]store.Grant{redeemedExpired.Hash: gExpired, redeemedLive.Hash: gLive} {
		_, err := s.RedeemAuthorizationCode(ctx, c, g.ClientID, g.CreatedAt, Issue[store.AuthorizationCode](&g, nil))
		mustOK(t, err, "redeem")
	}
	gRevoked := newGrantRecord("revoked", now.Add(-10*time.Second))
	storeGrant(t, s, gRevoked, nil) // its code expires after now
	mustOK(t, s.RevokeGrant(ctx, gRevoked.ID, now), "revoke")
	mustOK(t, s.RevokeAccessToken(ctx, "jti-old", at(time.Hour)), "revoke old access token")
	mustOK(t, s.RevokeAccessToken(ctx, "jti-live", at(3*time.Hour)), "revoke live access token")
	for i, k := range []struct {
		key   string
		at    time.Duration
		times int
	}{{"full-again", 0, 1}, {"full-at-now", purgeNow - 2*time.Minute, 1}, {"spent", purgeNow - time.Minute, 5}} {
		for range k.times {
			_, _, err := s.TakeAttempt(ctx, k.key, 5, 10*time.Minute, at(k.at))
			mustOK(t, err, fmt.Sprintf("take attempt %d", i))
		}
	}

	n, err := s.PurgeExpired(ctx, now)
	mustOK(t, err, "purge")
	// Two codes, one grant, one revocation, two budgets.
	if n != 6 {
		t.Errorf("purge removed %d rows, want 6", n)
	}
	for _, c := range []store.AuthorizationCode{expired, redeemedExpired} {
		_, err := s.AuthorizationCode(ctx, c.Hash)
		wantErr(t, err, store.ErrNotFound, "purged code "+c.Hash)
	}
	_, err = s.AuthorizationCode(ctx, redeemedLive.Hash)
	wantErr(t, err, nil, "redeemed code before its expiry")
	_, err = s.Grant(ctx, gExpired.ID)
	wantErr(t, err, store.ErrNotFound, "purged grant")
	for _, id := range []string{gLive.ID, gRevoked.ID} {
		_, err := s.Grant(ctx, id)
		wantErr(t, err, nil, "unexpired grant "+id)
	}
	// The revocation of a token that has expired goes; the other stays.
	backing := liveGrant(t, s, "purge", now)
	for jti, revoked := range map[string]bool{"jti-old": false, "jti-live": true} {
		_, live, err := s.AccessTokenLive(ctx, jti, backing.ID, now)
		mustOK(t, err, "access token live")
		if live == revoked {
			t.Errorf("after purge: AccessTokenLive(%q) = %t, want %t", jti, live, !revoked)
		}
	}
	if ok, _, err := s.TakeAttempt(ctx, "spent", 5, 10*time.Minute, now); err != nil || ok {
		t.Errorf("spent budget after purge: ok=%t, err=%v; want refused", ok, err)
	}
	n, err = s.PurgeExpired(ctx, now)
	mustOK(t, err, "purge again")
	if n != 0 {
		t.Errorf("second purge removed %d rows, want 0", n)
	}
}
