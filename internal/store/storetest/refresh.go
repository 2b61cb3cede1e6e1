package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// testRefreshRotateDecides: the rotation hands its IssueFunc the
// generation and the user as stored, returns the generation with every
// outcome but ErrNotFound, and a refusal — the IssueFunc's, or the user's
// being gone — leaves everything as it was. A generation that cannot be
// rotated is refused before the IssueFunc runs.
func testRefreshRotateDecides(t *testing.T, s store.Store) {
	ctx := t.Context()
	user := store.User{ID: "user-1", Username: "dana", PasswordHash: "$argon2id$v=19$...", Email: "dana@example.com", CreatedAt: at(0)}
	mustOK(t, s.CreateUser(ctx, user), "create user")
	ensureClient(t, s, tvClient)
	gen1 := newRefresh("gen-1", "grant-a", at(0))
	orphan := newRefresh("orphan-1", "grant-o", at(0))
	orphan.UserID = "nobody"
	mustOK(t, s.CreateRefreshToken(ctx, gen1), "create")
	mustOK(t, s.CreateRefreshToken(ctx, orphan), "create a generation of an unknown user")
	now := at(time.Hour)

	errNo := errors.New("refused by the caller")
	var seen store.RefreshToken
	var seenUser store.User
	got, err := s.RotateRefreshToken(ctx, gen1.Hash, tvClient, now, func(old store.RefreshToken, u store.User) (store.Issuance, error) {
		seen, seenUser = old, u
		return store.Issuance{}, errNo
	})
	wantErr(t, err, errNo, "a refused rotation")
	wantEqual(t, "generation handed to the IssueFunc", seen, gen1)
	wantEqual(t, "user handed to the IssueFunc", seenUser, user)
	wantEqual(t, "generation returned with a refusal", got, gen1)
	after, err := s.RefreshToken(ctx, gen1.Hash)
	mustOK(t, err, "lookup after a refusal")
	wantEqual(t, "generation after a refusal", after, gen1)

	// The IssueFunc runs only once the generation and its parties pass.
	called := false
	never := func(store.RefreshToken, store.User) (store.Issuance, error) {
		called = true
		return store.Issuance{}, errNo
	}
	got, err = s.RotateRefreshToken(ctx, orphan.Hash, tvClient, now, never)
	wantErr(t, err, store.ErrUserInactive, "rotate a generation whose user is gone")
	wantEqual(t, "generation returned when its user is gone", got, orphan)
	got, err = s.RotateRefreshToken(ctx, "unknown", tvClient, now, never)
	wantErr(t, err, store.ErrNotFound, "rotate an unknown hash")
	if got.Hash != "" {
		t.Errorf("unknown hash: generation %+v returned, want none", got)
	}
	if called {
		t.Error("IssueFunc called for a generation of a user gone, or an unknown hash")
	}

	next := nextGen(gen1, "gen-2", now)
	got, err = s.RotateRefreshToken(ctx, gen1.Hash, tvClient, now, Successor(next))
	mustOK(t, err, "rotate")
	wantEqual(t, "generation returned by the rotation", got, gen1)
	// A second rotation sees the generation rotated, as reuse detection
	// needs, and returns it with the conflict, without asking what to
	// issue.
	got, err = s.RotateRefreshToken(ctx, gen1.Hash, tvClient, now.Add(time.Second), never)
	wantErr(t, err, store.ErrConflict, "rotate a rotated generation")
	if !got.RotatedAt.Equal(now) {
		t.Errorf("generation returned with the conflict: rotated at %v, want %v", got.RotatedAt, now)
	}
	if called {
		t.Error("IssueFunc called for a rotated generation")
	}
}

func testRefreshRotate(t *testing.T, s store.Store) {
	ctx := t.Context()
	ensureParties(t, s, "user-1", tvClient)
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
		mustOK(t, Rotate(ctx, s, prev.Hash, next, now), fmt.Sprintf("rotate to gen %d", i))

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
		wantErr(t, Rotate(ctx, s, prev.Hash, fork, now.Add(time.Second)), store.ErrConflict,
			"rotate a rotated generation")
		_, err = s.RefreshToken(ctx, fork.Hash)
		wantErr(t, err, store.ErrNotFound, "successor of a refused rotation")
		got, err = s.RefreshSuccessor(ctx, prev.Hash)
		mustOK(t, err, "successor after a refused rotation")
		wantEqual(t, "successor after a refused rotation", got, next)
		prev = next
	}

	wantErr(t, Rotate(ctx, s, "unknown", newRefresh("orphan", "f", at(0)), at(0)),
		store.ErrNotFound, "rotate unknown")
	_, err = s.RefreshToken(ctx, "orphan")
	wantErr(t, err, store.ErrNotFound, "successor of an unknown generation")
	_, err = s.RefreshSuccessor(ctx, "unknown")
	wantErr(t, err, store.ErrNotFound, "successor of an unknown generation")

	// A successor whose hash is taken leaves the predecessor unrotated.
	clash := nextGen(gen1, gen1.Hash, at(5*time.Hour))
	wantErr(t, Rotate(ctx, s, prev.Hash, clash, at(5*time.Hour)), store.ErrAlreadyExists,
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
	ensureParties(t, s, "user-1", tvClient)
	gen1 := newRefresh("gen-1", "grant-a", at(0))
	mustOK(t, s.CreateRefreshToken(ctx, gen1), "create")
	now := at(time.Hour)
	otherGrant := nextGen(gen1, "other-grant", now)
	otherGrant.GrantID = "grant-b"
	longer := nextGen(gen1, "longer", now)
	longer.FamilyExpiresAt = gen1.FamilyExpiresAt.Add(time.Hour)
	for name, next := range map[string]store.RefreshToken{"another grant": otherGrant, "a later family expiry": longer} {
		err := Rotate(ctx, s, gen1.Hash, next, now)
		wantNonSentinel(t, err, "rotate to a successor with "+name)
		_, err = s.RefreshToken(ctx, next.Hash)
		wantErr(t, err, store.ErrNotFound, "refused successor with "+name)
	}
	got, err := s.RefreshToken(ctx, gen1.Hash)
	mustOK(t, err, "lookup")
	wantEqual(t, "generation after refused rotations", got, gen1)
	mustOK(t, Rotate(ctx, s, gen1.Hash, nextGen(gen1, "gen-2", now), now), "rotate properly")
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
		wantErr(t, Rotate(ctx, s, rt.Hash, next, at(tc.at)), tc.wantErr, tc.name)
	}

	// A token of a revoked grant is refused even if it was stored, unrevoked,
	// after the grant was revoked.
	late := newRefresh("late", "grant-3", at(2*time.Minute))
	mustOK(t, s.CreateRefreshToken(ctx, late), "create after revocation")
	wantErr(t, Rotate(ctx, s, late.Hash, nextGen(late, "late-next", at(time.Hour)), at(time.Hour)),
		store.ErrConflict, "rotate a token of a revoked grant")

	// The family's absolute lifetime ends every generation, however young.
	old := newRefresh("old", "grant-old", at(0))
	old.ExpiresAt = old.FamilyExpiresAt
	mustOK(t, s.CreateRefreshToken(ctx, old), "create")
	young := nextGen(old, "young", at(familyLifetime-time.Hour))
	mustOK(t, Rotate(ctx, s, old.Hash, young, young.CreatedAt), "rotate near family end")
	next := nextGen(old, "too-late", at(familyLifetime))
	wantErr(t, Rotate(ctx, s, young.Hash, next, at(familyLifetime)), store.ErrConflict,
		"rotate at family expiry")
	_, err := s.RefreshToken(ctx, next.Hash)
	wantErr(t, err, store.ErrNotFound, "successor refused at family expiry")
}

// testRefreshGrantKind: every generation read back carries its grant's
// Kind — by lookup, as the successor, and to and from a rotation — and a
// family with no grant record carries none.
func testRefreshGrantKind(t *testing.T, s store.Store) {
	ctx := t.Context()
	ensureUser(t, s, "user-1")
	const kind = "authorization_code"
	gr := newGrantRecord("grant-k", at(0))
	gr.Kind = kind
	gen1 := newRefresh("kind-1", gr.ID, at(0))
	gen1.FamilyExpiresAt = gr.ExpiresAt
	storeGrant(t, s, gr, &gen1)
	orphan := newRefresh("kind-orphan", "grant-none", at(0))
	mustOK(t, s.CreateRefreshToken(ctx, orphan), "create a generation with no grant record")

	wantKind := func(what string, got store.RefreshToken, want string) {
		t.Helper()
		if got.GrantKind != want {
			t.Errorf("%s: GrantKind %q, want %q", what, got.GrantKind, want)
		}
	}
	got, err := s.RefreshToken(ctx, gen1.Hash)
	mustOK(t, err, "lookup")
	wantKind("lookup", got, kind)
	got, err = s.RefreshToken(ctx, orphan.Hash)
	mustOK(t, err, "lookup of a family with no grant")
	wantKind("lookup of a family with no grant", got, "")

	now := at(time.Hour)
	next := nextGen(gen1, "kind-2", now)
	next.GrantKind = "ignored on write"
	var seen store.RefreshToken
	got, err = s.RotateRefreshToken(ctx, gen1.Hash, tvClient, now, func(old store.RefreshToken, _ store.User) (store.Issuance, error) {
		seen = old
		return store.Issuance{RefreshToken: &next}, nil
	})
	mustOK(t, err, "rotate")
	wantKind("generation handed to the IssueFunc", seen, kind)
	wantKind("generation returned by the rotation", got, kind)
	got, err = s.RefreshSuccessor(ctx, gen1.Hash)
	mustOK(t, err, "successor")
	wantKind("successor", got, kind)
	got, err = s.RefreshToken(ctx, next.Hash)
	mustOK(t, err, "lookup of the successor")
	wantKind("lookup of the successor", got, kind)
}
