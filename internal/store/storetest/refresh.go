package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

func testRefreshRotate(t *testing.T, s store.Store) {
	ctx := t.Context()
	gen1 := newRefresh("gen-1", "grant-a", at(0))
	gen1.Scopes = nil
	gen1.AuthTime = time.Time{}
	gen1.Resource = "https://api.example.com/"
	mustOK(t, s.CreateRefreshToken(ctx, gen1), "create")
	got, err := s.RefreshToken(ctx, gen1.Hash)
	mustOK(t, err, "lookup")
	wantEqual(t, "first generation", got, gen1)

	dup := newRefresh(gen1.Hash, "grant-b", at(time.Second))
	wantErr(t, s.CreateRefreshToken(ctx, dup), store.ErrAlreadyExists, "duplicate hash")
	_, err = s.RefreshToken(ctx, "unknown")
	wantErr(t, err, store.ErrNotFound, "unknown hash")
	_, err = s.RefreshSuccessor(ctx, gen1.Hash)
	wantErr(t, err, store.ErrNotFound, "successor of an unrotated generation")

	// Three rotations: each marks its predecessor and stores its successor.
	prev := gen1
	for i := 2; i <= 4; i++ {
		now := at(time.Duration(i) * time.Hour)
		next := nextGen(gen1, fmt.Sprintf("gen-%d", i), now)
		mustOK(t, s.RotateRefreshToken(ctx, prev.Hash, next, now), fmt.Sprintf("rotate to gen %d", i))

		prev.RotatedAt = now
		got, err := s.RefreshToken(ctx, prev.Hash)
		mustOK(t, err, "rotated generation")
		wantEqual(t, "rotated generation", got, prev)
		if got.Active(now) {
			t.Errorf("generation %d is active after rotation", i-1)
		}
		got, err = s.RefreshToken(ctx, next.Hash)
		mustOK(t, err, "new generation")
		wantEqual(t, "new generation", got, next)
		if !got.Active(now) {
			t.Errorf("generation %d is not active", i)
		}
		got, err = s.RefreshSuccessor(ctx, prev.Hash)
		mustOK(t, err, "successor")
		wantEqual(t, fmt.Sprintf("successor of generation %d", i-1), got, next)

		// Rotating the old generation again is reuse: it loses and stores
		// nothing.
		fork := nextGen(gen1, fmt.Sprintf("fork-%d", i), now)
		wantErr(t, s.RotateRefreshToken(ctx, prev.Hash, fork, now.Add(time.Second)), store.ErrConflict,
			"rotate a rotated generation")
		_, err = s.RefreshToken(ctx, fork.Hash)
		wantErr(t, err, store.ErrNotFound, "successor of a refused rotation")
		got, err = s.RefreshSuccessor(ctx, prev.Hash)
		mustOK(t, err, "successor after a refused rotation")
		wantEqual(t, "successor after a refused rotation", got, next)
		prev = next
	}

	wantErr(t, s.RotateRefreshToken(ctx, "unknown", newRefresh("orphan", "f", at(0)), at(0)),
		store.ErrNotFound, "rotate unknown")
	_, err = s.RefreshToken(ctx, "orphan")
	wantErr(t, err, store.ErrNotFound, "successor of an unknown generation")
	_, err = s.RefreshSuccessor(ctx, "unknown")
	wantErr(t, err, store.ErrNotFound, "successor of an unknown generation")

	// A successor whose hash is taken leaves the predecessor unrotated.
	clash := nextGen(gen1, gen1.Hash, at(5*time.Hour))
	wantErr(t, s.RotateRefreshToken(ctx, prev.Hash, clash, at(5*time.Hour)), store.ErrAlreadyExists,
		"rotate to a hash in use")
	got, err = s.RefreshToken(ctx, prev.Hash)
	mustOK(t, err, "generation after failed rotation")
	wantEqual(t, "generation after failed rotation", got, prev)
	_, err = s.RefreshSuccessor(ctx, prev.Hash)
	wantErr(t, err, store.ErrNotFound, "successor of a failed rotation")
}

// testRefreshRefusesForeignSuccessor: a successor must continue its
// predecessor's grant and family lifetime. Anything else is a caller's bug,
// refused with an error that is none of the sentinels, and nothing changes.
func testRefreshRefusesForeignSuccessor(t *testing.T, s store.Store) {
	ctx := t.Context()
	gen1 := newRefresh("gen-1", "grant-a", at(0))
	mustOK(t, s.CreateRefreshToken(ctx, gen1), "create")
	now := at(time.Hour)
	otherGrant := nextGen(gen1, "other-grant", now)
	otherGrant.GrantID = "grant-b"
	longer := nextGen(gen1, "longer", now)
	longer.FamilyExpiresAt = gen1.FamilyExpiresAt.Add(time.Hour)
	for name, next := range map[string]store.RefreshToken{"another grant": otherGrant, "a later family expiry": longer} {
		err := s.RotateRefreshToken(ctx, gen1.Hash, next, now)
		if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) ||
			errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("rotate to a successor with %s: got %v, want a non-sentinel error", name, err)
		}
		_, err = s.RefreshToken(ctx, next.Hash)
		wantErr(t, err, store.ErrNotFound, "refused successor with "+name)
	}
	got, err := s.RefreshToken(ctx, gen1.Hash)
	mustOK(t, err, "lookup")
	wantEqual(t, "generation after refused rotations", got, gen1)
	mustOK(t, s.RotateRefreshToken(ctx, gen1.Hash, nextGen(gen1, "gen-2", now), now), "rotate properly")
}

func testRefreshRefusesInactive(t *testing.T, s store.Store) {
	ctx := t.Context()
	cases := []struct {
		name    string
		at      time.Duration
		revoke  bool
		wantErr error
	}{
		{"idle lifetime: last instant", idleLifetime - time.Millisecond, false, nil},
		{"idle lifetime: at expiry", idleLifetime, false, store.ErrConflict},
		{"idle lifetime: after expiry", idleLifetime + time.Hour, false, store.ErrConflict},
		{"grant revoked", time.Hour, true, store.ErrConflict},
	}
	for i, tc := range cases {
		rt := newRefresh(fmt.Sprintf("rt-%d", i), fmt.Sprintf("grant-%d", i), at(0))
		storeGrant(t, s, newGrantRecord(rt.GrantID, at(0)), &rt)
		if tc.revoke {
			mustOK(t, s.RevokeGrant(ctx, rt.GrantID, at(time.Minute)), tc.name+": revoke")
		}
		next := nextGen(rt, rt.Hash+"-next", at(tc.at))
		wantErr(t, s.RotateRefreshToken(ctx, rt.Hash, next, at(tc.at)), tc.wantErr, tc.name)
	}

	// A token of a revoked grant is refused even if it was stored, unrevoked,
	// after the grant was revoked.
	late := newRefresh("late", "grant-3", at(2*time.Minute))
	mustOK(t, s.CreateRefreshToken(ctx, late), "create after revocation")
	wantErr(t, s.RotateRefreshToken(ctx, late.Hash, nextGen(late, "late-next", at(time.Hour)), at(time.Hour)),
		store.ErrConflict, "rotate a token of a revoked grant")

	// The family's absolute lifetime ends every generation, however young.
	old := newRefresh("old", "grant-old", at(0))
	old.ExpiresAt = old.FamilyExpiresAt
	mustOK(t, s.CreateRefreshToken(ctx, old), "create")
	young := nextGen(old, "young", at(familyLifetime-time.Hour))
	mustOK(t, s.RotateRefreshToken(ctx, old.Hash, young, young.CreatedAt), "rotate near family end")
	next := nextGen(old, "too-late", at(familyLifetime))
	wantErr(t, s.RotateRefreshToken(ctx, young.Hash, next, at(familyLifetime)), store.ErrConflict,
		"rotate at family expiry")
	_, err := s.RefreshToken(ctx, next.Hash)
	wantErr(t, err, store.ErrNotFound, "successor refused at family expiry")
}
