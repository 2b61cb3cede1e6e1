package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

func testRefreshRotate(t *testing.T, s store.Store) {
	ctx := t.Context()
	gen1 := newRefresh("gen-1", "family-a", at(0))
	gen1.Scopes = nil
	gen1.AuthTime = time.Time{}
	mustOK(t, s.CreateRefreshToken(ctx, gen1), "create")
	got, err := s.RefreshToken(ctx, gen1.Hash)
	mustOK(t, err, "lookup")
	wantEqual(t, "first generation", got, gen1)

	dup := newRefresh(gen1.Hash, "family-b", at(time.Second))
	wantErr(t, s.CreateRefreshToken(ctx, dup), store.ErrAlreadyExists, "duplicate hash")
	_, err = s.RefreshToken(ctx, "unknown")
	wantErr(t, err, store.ErrNotFound, "unknown hash")

	// Three rotations: each marks its predecessor and stores its successor.
	prev := gen1
	for i := 2; i <= 4; i++ {
		now := at(time.Duration(i) * time.Hour)
		next := newRefresh(fmt.Sprintf("gen-%d", i), gen1.FamilyID, now)
		next.FamilyExpiresAt = gen1.FamilyExpiresAt
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

		// Rotating the old generation again is reuse: it loses and stores
		// nothing.
		fork := newRefresh(fmt.Sprintf("fork-%d", i), gen1.FamilyID, now)
		wantErr(t, s.RotateRefreshToken(ctx, prev.Hash, fork, now.Add(time.Second)), store.ErrConflict,
			"rotate a rotated generation")
		_, err = s.RefreshToken(ctx, fork.Hash)
		wantErr(t, err, store.ErrNotFound, "successor of a refused rotation")
		prev = next
	}

	wantErr(t, s.RotateRefreshToken(ctx, "unknown", newRefresh("orphan", "f", at(0)), at(0)),
		store.ErrNotFound, "rotate unknown")
	_, err = s.RefreshToken(ctx, "orphan")
	wantErr(t, err, store.ErrNotFound, "successor of an unknown generation")

	// A successor whose hash is taken leaves the predecessor unrotated.
	clash := newRefresh(gen1.Hash, gen1.FamilyID, at(5*time.Hour))
	wantErr(t, s.RotateRefreshToken(ctx, prev.Hash, clash, at(5*time.Hour)), store.ErrAlreadyExists,
		"rotate to a hash in use")
	got, err = s.RefreshToken(ctx, prev.Hash)
	mustOK(t, err, "generation after failed rotation")
	wantEqual(t, "generation after failed rotation", got, prev)
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
		{"revoked", time.Hour, true, store.ErrConflict},
	}
	for i, tc := range cases {
		rt := newRefresh(fmt.Sprintf("rt-%d", i), fmt.Sprintf("family-%d", i), at(0))
		mustOK(t, s.CreateRefreshToken(ctx, rt), tc.name+": create")
		if tc.revoke {
			mustOK(t, s.RevokeRefreshFamily(ctx, rt.FamilyID, at(time.Minute)), tc.name+": revoke")
		}
		next := newRefresh(rt.Hash+"-next", rt.FamilyID, at(tc.at))
		wantErr(t, s.RotateRefreshToken(ctx, rt.Hash, next, at(tc.at)), tc.wantErr, tc.name)
	}

	// The family's absolute lifetime ends every generation, however young.
	old := newRefresh("old", "family-old", at(0))
	old.ExpiresAt = old.FamilyExpiresAt
	mustOK(t, s.CreateRefreshToken(ctx, old), "create")
	young := newRefresh("young", old.FamilyID, at(familyLifetime-time.Hour))
	young.FamilyExpiresAt = old.FamilyExpiresAt
	mustOK(t, s.RotateRefreshToken(ctx, old.Hash, young, young.CreatedAt), "rotate near family end")
	next := newRefresh("too-late", old.FamilyID, at(familyLifetime))
	wantErr(t, s.RotateRefreshToken(ctx, young.Hash, next, at(familyLifetime)), store.ErrConflict,
		"rotate at family expiry")
	_, err := s.RefreshToken(ctx, next.Hash)
	wantErr(t, err, store.ErrNotFound, "successor refused at family expiry")
}

func testRefreshRevoke(t *testing.T, s store.Store) {
	ctx := t.Context()
	var family []store.RefreshToken
	prev := newRefresh("gen-1", "family-a", at(0))
	mustOK(t, s.CreateRefreshToken(ctx, prev), "create")
	family = append(family, prev)
	for i := 2; i <= 3; i++ {
		next := newRefresh(fmt.Sprintf("gen-%d", i), prev.FamilyID, at(time.Duration(i)*time.Minute))
		mustOK(t, s.RotateRefreshToken(ctx, prev.Hash, next, next.CreatedAt), "rotate")
		family = append(family, next)
		prev = next
	}
	bystander := newRefresh("other", "family-b", at(0))
	mustOK(t, s.CreateRefreshToken(ctx, bystander), "create other family")

	revokedAt := at(time.Hour)
	mustOK(t, s.RevokeRefreshFamily(ctx, "family-a", revokedAt), "revoke")
	// Idempotent: a second revocation keeps the first time.
	mustOK(t, s.RevokeRefreshFamily(ctx, "family-a", at(2*time.Hour)), "revoke again")
	mustOK(t, s.RevokeRefreshFamily(ctx, "no-such-family", revokedAt), "revoke unknown family")

	for _, gen := range family {
		got, err := s.RefreshToken(ctx, gen.Hash)
		mustOK(t, err, "lookup "+gen.Hash)
		if !got.RevokedAt.Equal(revokedAt) {
			t.Errorf("%s: RevokedAt = %v, want %v", gen.Hash, got.RevokedAt, revokedAt)
		}
		if got.Active(revokedAt.Add(time.Second)) {
			t.Errorf("%s is active after its family was revoked", gen.Hash)
		}
	}
	got, err := s.RefreshToken(ctx, bystander.Hash)
	mustOK(t, err, "lookup other family")
	wantEqual(t, "other family", got, bystander)

	next := newRefresh("gen-4", "family-a", at(2*time.Hour))
	wantErr(t, s.RotateRefreshToken(ctx, prev.Hash, next, at(2*time.Hour)), store.ErrConflict,
		"rotate the newest generation of a revoked family")
}
