package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

func testGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	tv1 := newGrantRecord("g-tv-1", at(0))
	tv2 := newGrantRecord("g-tv-2", at(time.Hour))
	tv2.Scopes = nil
	platform := newGrantRecord("g-platform", at(2*time.Hour))
	platform.ClientID, platform.Kind = "platform", "authorization_code"
	short := newGrantRecord("g-short", at(30*time.Minute))
	short.ExpiresAt = at(90 * time.Minute)
	bob := newGrantRecord("g-bob", at(0))
	bob.UserID = "user-2"
	all := []store.Grant{tv1, tv2, platform, short, bob}
	for _, g := range all {
		storeGrant(t, s, g, nil)
	}
	for _, want := range all {
		got, err := s.Grant(ctx, want.ID)
		mustOK(t, err, "grant "+want.ID)
		wantEqual(t, "grant "+want.ID, got, want)
	}
	_, err := s.Grant(ctx, "unknown")
	wantErr(t, err, store.ErrNotFound, "unknown grant")

	for _, tc := range []struct {
		user string
		at   time.Duration
		want []store.Grant
	}{
		{"user-1", 3 * time.Hour, []store.Grant{platform, tv2, tv1}}, // newest first; short has expired
		{"user-1", 90*time.Minute - time.Millisecond, []store.Grant{platform, tv2, short, tv1}},
		{"user-1", familyLifetime + 2*time.Hour, nil},
		{"user-2", 3 * time.Hour, []store.Grant{bob}},
		{"nobody", 0, nil},
	} {
		got, err := s.GrantsByUser(ctx, tc.user, at(tc.at))
		mustOK(t, err, "grants by user")
		wantGrants(t, fmt.Sprintf("grants of %s at +%v", tc.user, tc.at), got, tc.want)
	}
}

// wantGrants compares two lists of grants in order.
func wantGrants(t *testing.T, what string, got, want []store.Grant) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d grants %+v, want %d", what, len(got), got, len(want))
		return
	}
	for i := range want {
		wantEqual(t, fmt.Sprintf("%s [%d]", what, i), got[i], want[i])
	}
}

// testRevokeGrant: revoking a grant revokes every generation of its refresh
// family, and nothing else (DEV-23).
func testRevokeGrant(t *testing.T, s store.Store) {
	ctx := t.Context()
	gr := newGrantRecord("grant-a", at(0))
	prev := newRefresh("gen-1", gr.ID, at(0))
	storeGrant(t, s, gr, &prev)
	family := []store.RefreshToken{prev}
	for i := 2; i <= 3; i++ {
		next := nextGen(prev, fmt.Sprintf("gen-%d", i), at(time.Duration(i)*time.Minute))
		mustOK(t, Rotate(ctx, s, prev.Hash, next, next.CreatedAt), "rotate")
		family = append(family, next)
		prev = next
	}
	other := newGrantRecord("grant-b", at(0))
	bystander := newRefresh("other", other.ID, at(0))
	storeGrant(t, s, other, &bystander)

	revokedAt := at(time.Hour)
	mustOK(t, s.RevokeGrant(ctx, gr.ID, revokedAt), "revoke")
	// Idempotent: a second revocation keeps the first time.
	mustOK(t, s.RevokeGrant(ctx, gr.ID, at(2*time.Hour)), "revoke again")
	wantErr(t, s.RevokeGrant(ctx, "no-such-grant", revokedAt), store.ErrNotFound, "revoke unknown grant")

	got, err := s.Grant(ctx, gr.ID)
	mustOK(t, err, "revoked grant")
	gr.RevokedAt = revokedAt
	wantEqual(t, "revoked grant", got, gr)
	for _, gen := range family {
		got, err := s.RefreshToken(ctx, gen.Hash)
		mustOK(t, err, "lookup "+gen.Hash)
		if !got.RevokedAt.Equal(revokedAt) {
			t.Errorf("%s: RevokedAt = %v, want %v", gen.Hash, got.RevokedAt, revokedAt)
		}
		if got.Active(revokedAt.Add(time.Second)) {
			t.Errorf("%s is active after its grant was revoked", gen.Hash)
		}
	}
	gotOther, err := s.Grant(ctx, other.ID)
	mustOK(t, err, "other grant")
	wantEqual(t, "other grant", gotOther, other)
	gotRT, err := s.RefreshToken(ctx, bystander.Hash)
	mustOK(t, err, "lookup other grant's token")
	wantEqual(t, "other grant's token", gotRT, ofGrant(bystander, other))

	next := nextGen(prev, "gen-4", at(2*time.Hour))
	wantErr(t, Rotate(ctx, s, prev.Hash, next, at(2*time.Hour)), store.ErrConflict,
		"rotate the newest generation of a revoked grant")
	left, err := s.GrantsByUser(ctx, gr.UserID, at(2*time.Hour))
	mustOK(t, err, "grants by user")
	wantGrants(t, "grants after revocation", left, []store.Grant{other})
	testRevokeGrantWithoutGrantRow(t, s)
}

// testRevokeGrantWithoutGrantRow: a refresh family stored before grants
// existed has no grants row, and its generations are all there is of its
// grant. Revoking the family by its id (RFC 7009 revocation, REV-03; reuse
// detection, RFC 9700 §4.14.2, RT-03) must revoke them, as it does a
// grant's, not report it unknown, which callers take for "nothing left to
// revoke" (REL-19: state written before an upgrade keeps working).
func testRevokeGrantWithoutGrantRow(t *testing.T, s store.Store) {
	ctx := t.Context()
	ensureParties(t, s, "user-1", tvClient)
	prev := newRefresh("legacy-1", "family-before-grants", at(0))
	mustOK(t, s.CreateRefreshToken(ctx, prev), "create legacy family")
	family := []store.RefreshToken{prev}
	next := nextGen(prev, "legacy-2", at(time.Minute))
	mustOK(t, Rotate(ctx, s, prev.Hash, next, next.CreatedAt), "rotate legacy family")
	family = append(family, next)

	revokedAt := at(time.Hour)
	mustOK(t, s.RevokeGrant(ctx, prev.GrantID, revokedAt), "revoke legacy family")
	mustOK(t, s.RevokeGrant(ctx, prev.GrantID, at(2*time.Hour)), "revoke legacy family again")
	for _, gen := range family {
		got, err := s.RefreshToken(ctx, gen.Hash)
		mustOK(t, err, "lookup "+gen.Hash)
		if !got.RevokedAt.Equal(revokedAt) {
			t.Errorf("legacy %s: RevokedAt = %v, want %v", gen.Hash, got.RevokedAt, revokedAt)
		}
	}
	wantErr(t, Rotate(ctx, s, next.Hash, nextGen(next, "legacy-3", at(2*time.Hour)), at(2*time.Hour)),
		store.ErrConflict, "rotate a revoked legacy family")
}
