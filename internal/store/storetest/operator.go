package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// The operator's verbs: what `grantd client …`, `grantd user …` and
// `grantd grant …` change.

// testListUpdateClients: clients are listed by id, and an update replaces
// every setting but the id, the secrets and the creation time.
func testListUpdateClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	tv := store.Client{ID: "tv", SecretHash: "sha256$tv", Name: "TV", GrantTypes: []string{"refresh_token"},
		Scopes: []string{"openid"}, CreatedAt: at(0)}
	all := []store.Client{
		{ID: "zeta", Public: true, Name: "Z", CreatedAt: at(time.Second)},
		tv,
		{ID: "alpha", SecretHash: "sha256$a", Name: "A", RedirectURIs: []string{"https://a.example/cb"}, CreatedAt: at(0)},
	}
	for _, c := range all {
		mustOK(t, s.CreateClient(ctx, c), "create client "+c.ID)
	}
	got, err := s.ListClients(ctx)
	mustOK(t, err, "list clients")
	want := []store.Client{all[2], all[1], all[0]}
	if len(got) != len(want) {
		t.Fatalf("ListClients: %d clients, want %d", len(got), len(want))
	}
	for i := range want {
		want[i].TokenMode = store.TokenModeLocal // stored with none: local
		wantEqual(t, fmt.Sprintf("client [%d]", i), got[i], want[i])
	}

	changed := store.Client{
		ID: "tv", Name: "Living-room TV", RedirectURIs: []string{"https://tv.example/cb"},
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"lights:read", "lights:write"},
		AuthMethod: "client_secret_post", Audience: "https://api.example/", Introspect: true,
		RevokeEndsGrant: true, Disabled: true, TokenMode: store.TokenModePassthrough,
		// Ignored: an update never touches these.
		SecretHash: "sha256$impostor", PreviousSecretHash: "sha256$old", PreviousSecretExpiresAt: at(time.Hour),
		CreatedAt: at(48 * time.Hour),
	}
	mustOK(t, s.UpdateClient(ctx, changed), "update tv")
	wantStored := changed
	wantStored.SecretHash, wantStored.CreatedAt = tv.SecretHash, tv.CreatedAt
	wantStored.PreviousSecretHash, wantStored.PreviousSecretExpiresAt = "", time.Time{}
	gotTV, err := s.Client(ctx, "tv")
	mustOK(t, err, "client tv after update")
	wantEqual(t, "client tv after update", gotTV, wantStored)
	gotAlpha, err := s.Client(ctx, "alpha")
	mustOK(t, err, "client alpha after tv's update")
	wantEqual(t, "client alpha after tv's update", gotAlpha, want[0])
	wantErr(t, s.UpdateClient(ctx, store.Client{ID: "nobody"}), store.ErrNotFound, "update unknown client")
}

// testRotateClientSecret: a rotation keeps the replaced secret as the
// previous one for its grace, and no longer; a second rotation drops it.
func testRotateClientSecret(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustOK(t, s.CreateClient(ctx, store.Client{ID: "tv", SecretHash: "hash-1", CreatedAt: at(0)}), "create")
	graceEnd := at(time.Hour)
	mustOK(t, s.RotateClientSecret(ctx, "tv", "hash-2", graceEnd), "rotate with a grace")
	c, err := s.Client(ctx, "tv")
	mustOK(t, err, "client after rotation")
	if c.SecretHash != "hash-2" || c.PreviousSecretHash != "hash-1" || !c.PreviousSecretExpiresAt.Equal(graceEnd) {
		t.Errorf("after a rotation with a grace: secret %q, previous %q until %v; want hash-2, hash-1 until %v",
			c.SecretHash, c.PreviousSecretHash, c.PreviousSecretExpiresAt, graceEnd)
	}
	for _, tc := range []struct {
		at   time.Duration
		want []string
	}{
		{0, []string{"hash-2", "hash-1"}},
		{time.Hour - time.Millisecond, []string{"hash-2", "hash-1"}},
		{time.Hour, []string{"hash-2"}},
	} {
		if got := c.SecretHashes(at(tc.at)); !slices.Equal(got, tc.want) {
			t.Errorf("secrets at +%v: %v, want %v", tc.at, got, tc.want)
		}
	}

	mustOK(t, s.RotateClientSecret(ctx, "tv", "hash-3", time.Time{}), "rotate without a grace")
	c, err = s.Client(ctx, "tv")
	mustOK(t, err, "client after the second rotation")
	if c.SecretHash != "hash-3" || c.PreviousSecretHash != "" || !c.PreviousSecretExpiresAt.IsZero() {
		t.Errorf("after a rotation without a grace: secret %q, previous %q until %v; want hash-3 alone",
			c.SecretHash, c.PreviousSecretHash, c.PreviousSecretExpiresAt)
	}
	wantErr(t, s.RotateClientSecret(ctx, "nobody", "x", time.Time{}), store.ErrNotFound, "rotate unknown client")
}

// linked is a grant of a user to a client with its refresh token and the
// user's consent, as a finished authorization leaves them.
type linked struct {
	g  store.Grant
	rt store.RefreshToken
}

func link(t *testing.T, s store.Store, id, user, client string) linked {
	t.Helper()
	g := newGrantRecord(id, at(0))
	g.UserID, g.ClientID = user, client
	rt := newRefresh(id+"-rt", id, at(0))
	rt.UserID, rt.ClientID = user, client
	storeGrant(t, s, g, &rt)
	mustOK(t, s.SaveConsent(t.Context(), store.Consent{UserID: user, ClientID: client, Scopes: []string{"openid"},
		GrantedAt: at(0)}), "save consent")
	return linked{g, rt}
}

// wantRevoked checks that each link's grant and refresh token were revoked
// at now, or, when revoked is false, are as stored.
func wantRevoked(t *testing.T, s store.Store, what string, now time.Time, revoked bool, links ...linked) {
	t.Helper()
	for _, l := range links {
		g, err := s.Grant(t.Context(), l.g.ID)
		mustOK(t, err, what+": grant "+l.g.ID)
		rt, err := s.RefreshToken(t.Context(), l.rt.Hash)
		mustOK(t, err, what+": token "+l.rt.Hash)
		if !revoked {
			wantEqual(t, what+": untouched grant "+l.g.ID, g, l.g)
			wantEqual(t, what+": untouched token "+l.rt.Hash, rt, ofGrant(l.rt, l.g))
			continue
		}
		if !g.RevokedAt.Equal(now) || !rt.RevokedAt.Equal(now) {
			t.Errorf("%s: grant %s revoked at %v, its token at %v; want both %v", what, l.g.ID, g.RevokedAt, rt.RevokedAt, now)
		}
	}
}

// testDeleteClient: deleting a client ends everything of it, at once and
// for good, and touches nothing of other clients.
func testDeleteClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{tvClient, "platform"} {
		mustOK(t, s.CreateClient(ctx, store.Client{ID: id, CreatedAt: at(0)}), "create client "+id)
	}
	ensureUser(t, s, "user-1")
	ensureUser(t, s, "user-2")
	gone := []linked{link(t, s, "tv-1", "user-1", tvClient), link(t, s, "tv-2", "user-2", tvClient)}
	kept := link(t, s, "platform-1", "user-1", "platform")
	pending := newGrant(1, at(0))
	mustOK(t, s.CreateDeviceGrant(ctx, pending), "create device grant")
	code := newCode(1, at(0))
	code.ClientID = tvClient
	mustOK(t, s.CreateAuthorizationCode(ctx, code), "create authorization code")
	legacy := newRefresh("legacy", "family-before-grants", at(0)) // the TV's, no grants row
	mustOK(t, s.CreateRefreshToken(ctx, legacy), "create legacy token")

	now := at(time.Hour)
	mustOK(t, s.DeleteClient(ctx, tvClient, now), "delete client")
	if rt, err := s.RefreshToken(ctx, legacy.Hash); err != nil || !rt.RevokedAt.Equal(now) {
		t.Errorf("legacy token of the deleted client: %+v, %v; want it revoked at %v", rt, err, now)
	}
	_, err := s.Client(ctx, tvClient)
	wantErr(t, err, store.ErrNotFound, "deleted client")
	wantRevoked(t, s, "deleted client", now, true, gone...)
	wantRevoked(t, s, "other client", now, false, kept)
	_, err = s.DeviceGrantByDeviceCode(ctx, pending.DeviceCodeHash)
	wantErr(t, err, store.ErrNotFound, "device grant of the deleted client")
	_, err = s.AuthorizationCode(ctx, code.Hash)
	wantErr(t, err, store.ErrNotFound, "authorization code of the deleted client")
	_, err = s.Consent(ctx, "user-1", tvClient)
	wantErr(t, err, store.ErrNotFound, "consent to the deleted client")
	_, err = s.Consent(ctx, "user-1", "platform")
	wantErr(t, err, nil, "consent to another client")

	// A new client of the same id does not bring the old one's tokens back.
	mustOK(t, s.CreateClient(ctx, store.Client{ID: tvClient, CreatedAt: now}), "create the id again")
	for _, l := range gone {
		if _, live, err := s.AccessTokenLive(ctx, "jti", l.g.ID, now); err != nil || live {
			t.Errorf("access token of grant %s after its client was deleted and recreated: live %t, %v", l.g.ID, live, err)
		}
	}
	if _, live, err := s.AccessTokenLive(ctx, "jti", kept.g.ID, now); err != nil || !live {
		t.Errorf("access token of another client's grant: live %t, %v; want live", live, err)
	}
	wantErr(t, s.DeleteClient(ctx, "nobody", now), store.ErrNotFound, "delete unknown client")
}

// testListUsers: users come in pages ordered by id.
func testListUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"u-3", "u-1", "u-5", "u-2", "u-4"} {
		mustOK(t, s.CreateUser(ctx, store.User{ID: id, Username: "name-" + id, PasswordHash: "x", CreatedAt: at(0)}), "create "+id)
	}
	for _, tc := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 2, []string{"u-1", "u-2"}},
		{"u-2", 2, []string{"u-3", "u-4"}},
		{"u-4", 2, []string{"u-5"}},
		{"u-5", 2, nil},
		{"", 0, []string{"u-1", "u-2", "u-3", "u-4", "u-5"}},
		{"u-10", -1, []string{"u-2", "u-3", "u-4", "u-5"}},
	} {
		got, err := s.ListUsers(ctx, tc.after, tc.limit)
		mustOK(t, err, "list users")
		var ids []string
		for _, u := range got {
			ids = append(ids, u.ID)
			if u.Username != "name-"+u.ID || u.PasswordHash != "x" {
				t.Errorf("listed user %+v: want every field", u)
			}
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("ListUsers(%q, %d) = %v, want %v", tc.after, tc.limit, ids, tc.want)
		}
	}
}

// testSetPassword: a new password hash replaces the old one and nothing
// else.
func testSetPassword(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := store.User{ID: "u-1", Username: "alice", PasswordHash: "old", Email: "a@example.com", CreatedAt: at(0)}
	mustOK(t, s.CreateUser(ctx, alice), "create alice")
	mustOK(t, s.SetPassword(ctx, alice.ID, "new"), "set password")
	got, err := s.User(ctx, alice.ID)
	mustOK(t, err, "alice after set password")
	alice.PasswordHash = "new"
	wantEqual(t, "alice after set password", got, alice)
	wantErr(t, s.SetPassword(ctx, "nobody", "x"), store.ErrNotFound, "set password of unknown user")
}

// testRevokeUserGrants: revoking a user's grants revokes every grant and
// refresh token of the user, at every client, and the user's consents,
// and nothing of other users.
func testRevokeUserGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	gone := []linked{link(t, s, "tv-1", "user-1", tvClient), link(t, s, "platform-1", "user-1", "platform")}
	kept := link(t, s, "tv-2", "user-2", tvClient)
	legacy := newRefresh("legacy", "family-before-grants", at(0)) // user-1's, no grants row
	mustOK(t, s.CreateRefreshToken(ctx, legacy), "create legacy token")
	now := at(time.Hour)
	n, err := s.RevokeUserGrants(ctx, "user-1", now)
	mustOK(t, err, "revoke user grants")
	if n != len(gone) {
		t.Errorf("RevokeUserGrants revoked %d grants, want %d", n, len(gone))
	}
	wantRevoked(t, s, "revoked user", now, true, gone...)
	wantRevoked(t, s, "other user", now, false, kept)
	rt, err := s.RefreshToken(ctx, legacy.Hash)
	mustOK(t, err, "legacy token")
	if !rt.RevokedAt.Equal(now) {
		t.Errorf("legacy token of the user: revoked at %v, want %v", rt.RevokedAt, now)
	}
	for _, client := range []string{tvClient, "platform"} {
		_, err := s.Consent(ctx, "user-1", client)
		wantErr(t, err, store.ErrNotFound, "consent of user-1 to "+client)
	}
	_, err = s.Consent(ctx, "user-2", tvClient)
	wantErr(t, err, nil, "consent of another user")
	if n, err := s.RevokeUserGrants(ctx, "user-1", at(2*time.Hour)); err != nil || n != 0 {
		t.Errorf("revoke again: %d, %v; want 0, nil", n, err)
	}
	wantRevoked(t, s, "revoked twice", now, true, gone...)
	if n, err := s.RevokeUserGrants(ctx, "nobody", now); err != nil || n != 0 {
		t.Errorf("revoke grants of unknown user: %d, %v; want 0, nil", n, err)
	}
}

// testDeleteUser: deleting a user ends everything that acts for the user,
// and the id is never given out again.
func testDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := store.User{ID: "user-1", Username: "alice", PasswordHash: "x", CreatedAt: at(0)}
	mustOK(t, s.CreateUser(ctx, alice), "create alice")
	ensureUser(t, s, "user-2")
	for _, id := range []string{tvClient, "platform"} {
		mustOK(t, s.CreateClient(ctx, store.Client{ID: id, CreatedAt: at(0)}), "create client "+id)
	}
	gone := []linked{link(t, s, "tv-1", "user-1", tvClient), link(t, s, "platform-1", "user-1", "platform")}
	kept := link(t, s, "tv-2", "user-2", tvClient)
	sessions := []store.Session{
		{IDHash: "sess-1", UserID: "user-1", CreatedAt: at(0), ExpiresAt: at(sessionLifetime)},
		{IDHash: "sess-2", UserID: "user-2", CreatedAt: at(0), ExpiresAt: at(sessionLifetime)},
	}
	for _, sess := range sessions {
		mustOK(t, s.CreateSession(ctx, sess), "create session")
	}
	code := newCode(1, at(0)) // user-1's
	mustOK(t, s.CreateAuthorizationCode(ctx, code), "create code")
	approved := approvedGrant(t, s, 7) // approved by user-1

	now := at(2 * time.Minute)
	mustOK(t, s.DeleteUser(ctx, alice.ID, now), "delete alice")
	_, err := s.User(ctx, alice.ID)
	wantErr(t, err, store.ErrNotFound, "deleted user by id")
	_, err = s.UserByUsername(ctx, alice.Username)
	wantErr(t, err, store.ErrNotFound, "deleted user by name")
	wantRevoked(t, s, "deleted user", now, true, gone...)
	wantRevoked(t, s, "other user", now, false, kept)
	for _, l := range gone {
		if _, live, err := s.AccessTokenLive(ctx, "jti", l.g.ID, now); err != nil || live {
			t.Errorf("access token of deleted user's grant %s: live %t, %v", l.g.ID, live, err)
		}
	}
	_, err = s.Session(ctx, "sess-1", at(0))
	wantErr(t, err, store.ErrNotFound, "session of the deleted user")
	_, err = s.Session(ctx, "sess-2", at(0))
	wantErr(t, err, nil, "session of another user")
	_, err = s.AuthorizationCode(ctx, code.Hash)
	wantErr(t, err, store.ErrNotFound, "code of the deleted user")
	_, err = s.Consent(ctx, "user-1", tvClient)
	wantErr(t, err, store.ErrNotFound, "consent of the deleted user")
	gr := newGrantRecord("grant-after-delete", now)
	_, err = s.RedeemDeviceGrant(ctx, approved.DeviceCodeHash, tvClient, now, Issue[store.DeviceGrant](&gr, nil))
	wantErr(t, err, store.ErrUserInactive, "redeem a device grant the deleted user approved")

	wantErr(t, s.CreateUser(ctx, store.User{ID: alice.ID, Username: "someone-else", PasswordHash: "x", CreatedAt: now}),
		store.ErrAlreadyExists, "create a user with a deleted user's id")
	mustOK(t, s.CreateUser(ctx, store.User{ID: "user-3", Username: alice.Username, PasswordHash: "x", CreatedAt: now}),
		"create a user with a deleted user's name")
	wantErr(t, s.DeleteUser(ctx, alice.ID, now), store.ErrNotFound, "delete a deleted user")
	wantErr(t, s.DeleteUser(ctx, "nobody", now), store.ErrNotFound, "delete unknown user")
}

// testDeleteUserSessions: signing a user out everywhere deletes that
// user's sessions only.
func testDeleteUserSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, user := range []string{"user-1", "user-1", "user-2"} {
		mustOK(t, s.CreateSession(ctx, store.Session{IDHash: fmt.Sprintf("sess-%d", i), UserID: user,
			CreatedAt: at(0), ExpiresAt: at(sessionLifetime)}), "create session")
	}
	for range 2 { // idempotent
		mustOK(t, s.DeleteUserSessions(ctx, "user-1"), "delete user-1's sessions")
	}
	for i, want := range []error{store.ErrNotFound, store.ErrNotFound, nil} {
		_, err := s.Session(ctx, fmt.Sprintf("sess-%d", i), at(0))
		wantErr(t, err, want, fmt.Sprintf("session %d", i))
	}
}

// testGrantsByClient: a client's live grants, newest first, of every user.
func testGrantsByClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	tv1 := newGrantRecord("g-tv-1", at(0))
	tv2 := newGrantRecord("g-tv-2", at(time.Hour))
	tv2.UserID = "user-2"
	revoked := newGrantRecord("g-tv-revoked", at(0))
	short := newGrantRecord("g-tv-short", at(0))
	short.ExpiresAt = at(2 * time.Hour)
	platform := newGrantRecord("g-platform", at(0))
	platform.ClientID = "platform"
	for _, g := range []store.Grant{tv1, tv2, revoked, short, platform} {
		storeGrant(t, s, g, nil)
	}
	mustOK(t, s.RevokeGrant(ctx, revoked.ID, at(time.Minute)), "revoke")
	for _, tc := range []struct {
		client string
		at     time.Duration
		want   []store.Grant
	}{
		{tvClient, 90 * time.Minute, []store.Grant{tv2, short, tv1}},
		{tvClient, 3 * time.Hour, []store.Grant{tv2, tv1}},
		{"platform", time.Hour, []store.Grant{platform}},
		{"nobody", time.Hour, nil},
	} {
		got, err := s.GrantsByClient(ctx, tc.client, at(tc.at))
		mustOK(t, err, "grants by client")
		wantGrants(t, fmt.Sprintf("grants of %s at +%v", tc.client, tc.at), got, tc.want)
	}
}
