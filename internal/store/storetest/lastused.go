package storetest

import (
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// testGrantLastUsed: a grant's last use is what its redemption stored, and
// a refresh moves it only once it is more than store.LastUsedStep old, so
// that the refresh path seldom writes more than its rotation. A rotation
// that fails records nothing.
func testGrantLastUsed(t *testing.T, s store.Store) {
	ctx := t.Context()
	gr := newGrantRecord("grant-used", at(0))
	gen := newRefresh("used-1", gr.ID, at(0))
	storeGrant(t, s, gr, &gen)
	unknown := newGrantRecord("grant-unknown-use", at(0))
	unknown.LastUsedAt = time.Time{} // stored before last uses were
	legacyGen := newRefresh("unknown-1", unknown.ID, at(0))
	storeGrant(t, s, unknown, &legacyGen)

	lastUsed := func(id string) time.Time {
		t.Helper()
		g, err := s.Grant(ctx, id)
		mustOK(t, err, "grant "+id)
		return g.LastUsedAt
	}
	if got := lastUsed(unknown.ID); !got.IsZero() {
		t.Errorf("grant stored without a last use: LastUsedAt = %v, want zero", got)
	}
	steps := []struct {
		at   time.Duration
		want time.Duration
	}{
		{30 * time.Minute, 0},   // within a step: nothing written
		{store.LastUsedStep, 0}, // exactly a step: still nothing
		{store.LastUsedStep + time.Minute, store.LastUsedStep + time.Minute}, // beyond: recorded
		{store.LastUsedStep + 2*time.Minute, store.LastUsedStep + time.Minute},
		{3 * store.LastUsedStep, 3 * store.LastUsedStep},
	}
	prev := gen
	for i, st := range steps {
		next := nextGen(prev, prev.Hash+"+", at(st.at))
		mustOK(t, Rotate(ctx, s, prev.Hash, next, at(st.at)), "rotate")
		if got := lastUsed(gr.ID); !got.Equal(at(st.want)) {
			t.Errorf("step %d, refresh at +%v: LastUsedAt = %v, want %v", i, st.at, got, at(st.want))
		}
		prev = next
	}
	// A rotation refused (the generation was rotated already) records nothing.
	wantErr(t, Rotate(ctx, s, gen.Hash, nextGen(gen, "used-again", at(10*time.Hour)), at(10*time.Hour)),
		store.ErrConflict, "rotate a rotated generation")
	if got := lastUsed(gr.ID); !got.Equal(at(3 * store.LastUsedStep)) {
		t.Errorf("after a refused rotation: LastUsedAt = %v, want %v", got, at(3*store.LastUsedStep))
	}
	next := nextGen(legacyGen, "unknown-2", at(time.Minute))
	mustOK(t, Rotate(ctx, s, legacyGen.Hash, next, at(time.Minute)), "rotate")
	if got := lastUsed(unknown.ID); !got.Equal(at(time.Minute)) {
		t.Errorf("grant with no last use, refreshed: LastUsedAt = %v, want %v", got, at(time.Minute))
	}
}

// testRevokeUserGrant: a user revokes one grant of theirs (DEV-23): its
// refresh tokens end with it, the user's other grants to the same client
// stay, and the remembered consent goes only with the user's last live
// grant to the client. Another user's grant is unknown to them.
func testRevokeUserGrant(t *testing.T, s store.Store) {
	ctx := t.Context()
	type linked struct {
		g  store.Grant
		rt store.RefreshToken
	}
	link := func(id, user, client string, lifetime time.Duration) linked {
		g := newGrantRecord(id, at(0))
		g.UserID, g.ClientID, g.ExpiresAt = user, client, at(lifetime)
		rt := newRefresh(id+"-rt", id, at(0))
		rt.UserID, rt.ClientID = user, client
		storeGrant(t, s, g, &rt)
		return linked{g, rt}
	}
	tv1 := link("tv-1", "user-1", tvClient, familyLifetime)
	tv2 := link("tv-2", "user-1", tvClient, familyLifetime)
	expired := link("tv-expired", "user-1", tvClient, time.Hour)
	platform := link("platform-1", "user-1", "platform", familyLifetime)
	bobs := link("tv-bob", "user-2", tvClient, familyLifetime)
	consents := []store.Consent{
		{UserID: "user-1", ClientID: tvClient, Scopes: []string{"openid"}, GrantedAt: at(0)},
		{UserID: "user-1", ClientID: "platform", Scopes: []string{"openid"}, GrantedAt: at(0)},
		{UserID: "user-2", ClientID: tvClient, Scopes: []string{"openid"}, GrantedAt: at(0)},
	}
	for _, c := range consents {
		mustOK(t, s.SaveConsent(ctx, c), "save consent")
	}
	now := at(2 * time.Hour)
	for _, tc := range []struct{ user, id string }{{"user-2", tv1.g.ID}, {"user-1", bobs.g.ID}, {"user-1", "no-such-grant"}} {
		_, err := s.RevokeUserGrant(ctx, tc.user, tc.id, now)
		wantErr(t, err, store.ErrNotFound, "revoke grant "+tc.id+" as "+tc.user)
	}

	got, err := s.RevokeUserGrant(ctx, "user-1", tv1.g.ID, now)
	mustOK(t, err, "revoke tv-1")
	want := tv1.g
	want.RevokedAt = now
	wantEqual(t, "revoked grant", got, want)
	got, err = s.RevokeUserGrant(ctx, "user-1", tv1.g.ID, now.Add(time.Hour))
	mustOK(t, err, "revoke tv-1 again")
	wantEqual(t, "grant revoked twice", got, want)
	wantRevoked := func(rt store.RefreshToken, at time.Time) {
		t.Helper()
		got, err := s.RefreshToken(ctx, rt.Hash)
		mustOK(t, err, "token "+rt.Hash)
		if !got.RevokedAt.Equal(at) {
			t.Errorf("token %s: RevokedAt = %v, want %v", rt.Hash, got.RevokedAt, at)
		}
	}
	wantRevoked(tv1.rt, now)
	wantRevoked(tv2.rt, time.Time{})
	_, err = s.Consent(ctx, "user-1", tvClient)
	mustOK(t, err, "consent while tv-2 is live")

	later := now.Add(time.Minute)
	_, err = s.RevokeUserGrant(ctx, "user-1", tv2.g.ID, later)
	mustOK(t, err, "revoke tv-2")
	wantRevoked(tv2.rt, later)
	_, err = s.Consent(ctx, "user-1", tvClient)
	wantErr(t, err, store.ErrNotFound, "consent after the last live grant went (an expired one does not count)")
	for _, c := range consents[1:] {
		got, err := s.Consent(ctx, c.UserID, c.ClientID)
		mustOK(t, err, "consent of "+c.UserID+" to "+c.ClientID)
		wantEqual(t, "untouched consent", got, c)
	}
	for _, l := range []linked{expired, platform, bobs} {
		got, err := s.Grant(ctx, l.g.ID)
		mustOK(t, err, "grant "+l.g.ID)
		wantEqual(t, "untouched grant "+l.g.ID, got, l.g)
		wantRevoked(l.rt, time.Time{})
	}
}
