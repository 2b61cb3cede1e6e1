package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	anon := store.Session{IDHash: "sess-anon", CreatedAt: at(0), ExpiresAt: at(sessionLifetime)}
	signedIn := store.Session{IDHash: "sess-alice", UserID: "user-1", AuthTime: at(time.Minute),
		CreatedAt: at(0), ExpiresAt: at(sessionLifetime)}
	for _, sess := range []store.Session{anon, signedIn} {
		mustOK(t, s.CreateSession(ctx, sess), "create "+sess.IDHash)
	}
	wantErr(t, s.CreateSession(ctx, store.Session{IDHash: anon.IDHash, UserID: "mallory",
		CreatedAt: at(0), ExpiresAt: at(sessionLifetime)}), store.ErrAlreadyExists, "duplicate session")

	for _, tc := range []struct {
		name    string
		at      time.Duration
		wantErr error
	}{
		{"fresh", 0, nil},
		{"last instant", sessionLifetime - time.Millisecond, nil},
		{"at expiry", sessionLifetime, store.ErrNotFound},
		{"long expired", 48 * time.Hour, store.ErrNotFound},
	} {
		for _, want := range []store.Session{anon, signedIn} {
			got, err := s.Session(ctx, want.IDHash, at(tc.at))
			wantErr(t, err, tc.wantErr, tc.name+" "+want.IDHash)
			if tc.wantErr == nil {
				wantEqual(t, tc.name+" "+want.IDHash, got, want)
			}
		}
	}

	mustOK(t, s.DeleteSession(ctx, signedIn.IDHash), "delete")
	_, err := s.Session(ctx, signedIn.IDHash, at(0))
	wantErr(t, err, store.ErrNotFound, "deleted session")
	_, err = s.Session(ctx, anon.IDHash, at(0))
	wantErr(t, err, nil, "other session after delete")
	wantErr(t, s.DeleteSession(ctx, signedIn.IDHash), nil, "delete twice")
	_, err = s.Session(ctx, "unknown", at(0))
	wantErr(t, err, store.ErrNotFound, "unknown session")
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys, err := s.SigningKeys(ctx)
	mustOK(t, err, "keys of an empty store")
	if len(keys) != 0 {
		t.Fatalf("empty store has %d keys", len(keys))
	}

	// rs1 has no activation time: it signs from its creation.
	rs1 := store.SigningKey{ID: "kid-b", Algorithm: "RS256", PrivateKey: []byte{0x30, 0x82, 1}, CreatedAt: at(time.Hour)}
	rs1Stored := rs1
	rs1Stored.ActivatesAt = rs1.CreatedAt
	rs2 := store.SigningKey{ID: "kid-c", Algorithm: "RS256", PrivateKey: []byte{0x30, 0x82, 2}, CreatedAt: at(2 * time.Hour)}
	ec := store.SigningKey{ID: "kid-z", Algorithm: "ES256", PrivateKey: []byte{0x30, 0x77, 0}, CreatedAt: at(0),
		ActivatesAt: at(3 * time.Hour)}
	for _, tc := range []struct {
		name string
		k    store.SigningKey
		want store.SigningKey
	}{
		{"first RS256 key is stored", rs1, rs1Stored},
		{"second RS256 key is refused", rs2, rs1Stored},
		{"first ES256 key is stored", ec, ec},
		{"first RS256 key stays", rs2, rs1Stored},
	} {
		got, err := s.EnsureSigningKey(ctx, tc.k)
		mustOK(t, err, tc.name)
		wantEqual(t, tc.name, got, tc.want)
	}

	keys, err = s.SigningKeys(ctx)
	mustOK(t, err, "keys")
	// By activation: neither the order of insertion, of creation nor of ids.
	wantKeys(t, "keys", keys, rs1Stored, ec)
}

// wantKeys compares a key list with want, in order.
func wantKeys(t *testing.T, what string, got []store.SigningKey, want ...store.SigningKey) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d keys, want %d: %+v", what, len(got), len(want), got)
	}
	for i := range want {
		wantEqual(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

// testRotateSigningKey is REL-12's storage half: a successor is stored
// beside the current key, which gets its retirement time; a rotation from a
// key that is no longer the newest changes nothing.
func testRotateSigningKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := store.SigningKey{ID: "k1", Algorithm: "ES256", PrivateKey: []byte{1}, CreatedAt: at(0), ActivatesAt: at(0)}
	_, err := s.EnsureSigningKey(ctx, k1)
	mustOK(t, err, "ensure k1")
	other := store.SigningKey{ID: "r1", Algorithm: "RS256", PrivateKey: []byte{9}, CreatedAt: at(0), ActivatesAt: at(0)}
	_, err = s.EnsureSigningKey(ctx, other)
	mustOK(t, err, "ensure r1")

	// k2 is published at 1h and signs from 1h10m; k1 retires at 2h10m.
	k2 := store.SigningKey{ID: "k2", Algorithm: "ES256", PrivateKey: []byte{2}, CreatedAt: at(time.Hour),
		ActivatesAt: at(70 * time.Minute)}
	mustOK(t, s.RotateSigningKey(ctx, "k1", k2, at(130*time.Minute)), "rotate k1 to k2")
	k1.RetiresAt = at(130 * time.Minute)
	keys, err := s.SigningKeys(ctx)
	mustOK(t, err, "keys after rotation")
	wantKeys(t, "keys after rotation", keys, k1, other, k2)
	if k1.Retired(at(129*time.Minute)) || !k1.Retired(at(130*time.Minute)) {
		t.Errorf("Retired of a key retiring at 130m: wrong at 129m or 130m")
	}

	k3 := store.SigningKey{ID: "k3", Algorithm: "ES256", PrivateKey: []byte{3}, CreatedAt: at(time.Hour)}
	for _, tc := range []struct {
		name    string
		current string
		next    store.SigningKey
	}{
		{"rotation from a key already succeeded", "k1", k3},
		{"rotation from another algorithm's key", "r1", k3},
		{"rotation from an unknown key", "nope", k3},
		{"rotation of an algorithm without keys", "k2", store.SigningKey{ID: "e1", Algorithm: "EdDSA", PrivateKey: []byte{4}, CreatedAt: at(0)}},
	} {
		wantErr(t, s.RotateSigningKey(ctx, tc.current, tc.next, at(3*time.Hour)), store.ErrConflict, tc.name)
	}
	keys, err = s.SigningKeys(ctx)
	mustOK(t, err, "keys after refused rotations")
	wantKeys(t, "keys after refused rotations", keys, k1, other, k2)

	// A rotation whose successor's id is taken changes nothing either.
	dup := k2
	dup.ActivatesAt = at(4 * time.Hour)
	if err := s.RotateSigningKey(ctx, "k2", dup, at(5*time.Hour)); err == nil {
		t.Errorf("rotation to a key id already stored succeeded")
	}
	keys, err = s.SigningKeys(ctx)
	mustOK(t, err, "keys after a refused duplicate")
	wantKeys(t, "keys after a refused duplicate", keys, k1, other, k2)
}

// purgeRows are the rows testPurge stores: some expired at purgeNow, some
// not.
type purgeRows struct {
	expired, expiredIssued, approvedLate, live store.DeviceGrant
	oldSession, liveSession                    store.Session
	// Family "ended" is past its absolute lifetime. Family "live" has a
	// rotated generation past its idle lifetime, which must stay for reuse
	// detection while the family lives.
	ended1, ended2, live1, live2 store.RefreshToken
}

const purgeNow = 2 * time.Hour

func seedPurge(t *testing.T, s store.Store) purgeRows {
	ctx := t.Context()
	r := purgeRows{
		expired:       newGrant(1, at(0)), // expires at +10m
		expiredIssued: approvedGrant(t, s, 2),
		approvedLate:  approvedGrant(t, s, 3),
		live:          newGrant(4, at(purgeNow-5*time.Minute)),
		oldSession:    store.Session{IDHash: "old", CreatedAt: at(0), ExpiresAt: at(time.Hour)},
		liveSession:   store.Session{IDHash: "live", CreatedAt: at(0), ExpiresAt: at(24 * time.Hour)},
		ended1:        newRefresh("ended-1", "ended", at(0)),
		ended2:        newRefresh("ended-2", "ended", at(time.Minute)),
		live1:         newRefresh("live-1", "live", at(0)),
		live2:         newRefresh("live-2", "live", at(30*time.Minute)),
	}
	r.ended1.FamilyExpiresAt = at(time.Hour)
	r.ended2.FamilyExpiresAt = r.ended1.FamilyExpiresAt
	r.live1.ExpiresAt = at(time.Hour)
	r.live2.FamilyExpiresAt = r.live1.FamilyExpiresAt

	for _, g := range []store.DeviceGrant{r.expired, r.live} {
		mustOK(t, s.CreateDeviceGrant(ctx, g), "create grant")
	}
	issued := newGrantRecord("issued", at(2*time.Minute))
	_, err := s.RedeemDeviceGrant(ctx, r.expiredIssued.DeviceCodeHash, tvClient, at(2*time.Minute),
		Issue[store.DeviceGrant](&issued, nil))
	mustOK(t, err, "redeem")
	mustOK(t, s.CreateSession(ctx, r.oldSession), "create session")
	mustOK(t, s.CreateSession(ctx, r.liveSession), "create session")
	mustOK(t, s.CreateRefreshToken(ctx, r.ended1), "create refresh token")
	mustOK(t, Rotate(ctx, s, r.ended1.Hash, r.ended2, r.ended2.CreatedAt), "rotate")
	mustOK(t, s.CreateRefreshToken(ctx, r.live1), "create refresh token")
	mustOK(t, Rotate(ctx, s, r.live1.Hash, r.live2, r.live2.CreatedAt), "rotate")
	key := store.SigningKey{ID: "k", Algorithm: "EdDSA", PrivateKey: []byte{1}, CreatedAt: at(-48 * time.Hour)}
	_, err = s.EnsureSigningKey(ctx, key)
	mustOK(t, err, "ensure key")
	// k retires at purgeNow; its successor k2 and the other keys stay.
	next := store.SigningKey{ID: "k2", Algorithm: "EdDSA", PrivateKey: []byte{2}, CreatedAt: at(0), ActivatesAt: at(0)}
	mustOK(t, s.RotateSigningKey(ctx, key.ID, next, at(purgeNow)), "rotate key")
	return r
}

// testPurge checks that purging removes expired rows only, and that expiry
// is enforced before any purge (docs/SECURITY.md REL-18).
func testPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := seedPurge(t, s)
	now := at(purgeNow)

	// REL-18: before any purge, every verb refuses what has expired.
	_, err := s.DecideDeviceGrant(ctx, r.expired.UserCode, store.Decision{Approve: true, UserID: "u"}, now)
	wantErr(t, err, store.ErrConflict, "decide expired grant before purge")
	late := newGrantRecord("late", now)
	_, err = s.RedeemDeviceGrant(ctx, r.approvedLate.DeviceCodeHash, tvClient, now, Issue[store.DeviceGrant](&late, nil))
	wantErr(t, err, store.ErrConflict, "redeem expired grant before purge")
	wantErr(t, Rotate(ctx, s, r.ended2.Hash, nextGen(r.ended2, "x", now), now),
		store.ErrConflict, "rotate in expired family before purge")
	_, err = s.Session(ctx, r.oldSession.IDHash, now)
	wantErr(t, err, store.ErrNotFound, "expired session before purge")

	n, err := s.PurgeExpired(ctx, now)
	mustOK(t, err, "purge")
	// Three grants, one session, both generations of family "ended", the
	// retired signing key.
	if n != 7 {
		t.Errorf("purge removed %d rows, want 7", n)
	}
	for _, g := range []store.DeviceGrant{r.expired, r.expiredIssued, r.approvedLate} {
		_, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
		wantErr(t, err, store.ErrNotFound, "purged grant "+g.DeviceCodeHash)
	}
	_, err = s.DeviceGrantByDeviceCode(ctx, r.live.DeviceCodeHash)
	wantErr(t, err, nil, "live grant after purge")
	_, err = s.Session(ctx, r.liveSession.IDHash, now)
	wantErr(t, err, nil, "live session after purge")
	for _, rt := range []store.RefreshToken{r.ended1, r.ended2} {
		_, err := s.RefreshToken(ctx, rt.Hash)
		wantErr(t, err, store.ErrNotFound, "purged refresh token "+rt.Hash)
	}
	for _, rt := range []store.RefreshToken{r.live1, r.live2} {
		_, err := s.RefreshToken(ctx, rt.Hash)
		wantErr(t, err, nil, "refresh token of a live family "+rt.Hash)
	}
	keys, err := s.SigningKeys(ctx)
	mustOK(t, err, "keys after purge")
	if len(keys) != 1 || keys[0].ID != "k2" {
		t.Errorf("purge left signing keys %+v, want only k2", keys)
	}

	n, err = s.PurgeExpired(ctx, now)
	mustOK(t, err, "purge again")
	if n != 0 {
		t.Errorf("second purge removed %d rows, want 0", n)
	}
}

// testConcurrentRotateSigningKey: instances that find the same key due for
// rotation at once schedule exactly one successor (REL-12, REL-20).
func testConcurrentRotateKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.EnsureSigningKey(ctx, store.SigningKey{ID: "old", Algorithm: "ES256", PrivateKey: []byte{0}, CreatedAt: at(0)})
	mustOK(t, err, "ensure key")
	const n = 20
	errs := race(n, func(i int) error {
		return s.RotateSigningKey(ctx, "old", store.SigningKey{ID: fmt.Sprintf("next-%d", i), Algorithm: "ES256",
			PrivateKey: []byte{byte(i + 1)}, CreatedAt: at(time.Hour), ActivatesAt: at(2 * time.Hour)}, at(3*time.Hour))
	})
	if wins, _ := tally(t, errs, store.ErrConflict); wins != 1 {
		t.Fatalf("%d rotations from one key succeeded, want 1", wins)
	}
	keys, err := s.SigningKeys(ctx)
	mustOK(t, err, "keys")
	if len(keys) != 2 || keys[0].ID != "old" || !keys[0].RetiresAt.Equal(at(3*time.Hour)) {
		t.Errorf("keys after racing rotations: %+v, want old (retiring at 3h) and one successor", keys)
	}
}
