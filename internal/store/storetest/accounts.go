package storetest

import (
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

func testClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	clients := []store.Client{
		{
			ID: "tv", Public: true, Name: "Living-room TV",
			GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
			Scopes:     []string{"openid", "lights:write"},
			TokenMode:  store.TokenModePassthrough,
			CreatedAt:  at(0),
		},
		{
			ID: "platform", SecretHash: "sha256$3f7a", Name: "Smart-home platform",
			RedirectURIs:    []string{"https://example.com/cb?x=1 2", "https://example.com/other"},
			GrantTypes:      []string{"authorization_code", "refresh_token"},
			Scopes:          []string{"openid"},
			AuthMethod:      "client_secret_basic",
			Audience:        "https://api.example.com/",
			Introspect:      true,
			RevokeEndsGrant: true,
			TokenMode:       store.TokenModeLocal,
			LogoURI:         "https://example.com/logo.png?v=2",
			ClientURI:       "https://example.com/",
			Disabled:        true,
			CreatedAt:       at(1500 * time.Millisecond),
			// As a rotation with a grace leaves it.
			PreviousSecretHash:      "sha256$9c01",
			PreviousSecretExpiresAt: at(time.Hour),
		},
		{ID: "bare", Name: "no lists at all", CreatedAt: at(0)},
	}
	for _, c := range clients {
		mustOK(t, s.CreateClient(ctx, c), "create client "+c.ID)
	}
	clients[2].TokenMode = store.TokenModeLocal // stored with none: local
	for _, want := range clients {
		got, err := s.Client(ctx, want.ID)
		mustOK(t, err, "client "+want.ID)
		wantEqual(t, "client "+want.ID, got, want)
	}

	dup := clients[1]
	dup.Name = "impostor"
	wantErr(t, s.CreateClient(ctx, dup), store.ErrAlreadyExists, "create duplicate client")
	got, err := s.Client(ctx, dup.ID)
	mustOK(t, err, "client after duplicate create")
	wantEqual(t, "client after duplicate create", got, clients[1])

	_, err = s.Client(ctx, "nobody")
	wantErr(t, err, store.ErrNotFound, "unknown client")
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := store.User{ID: "u-1", Username: "alice", PasswordHash: "$argon2id$v=19$...", Email: "alice@example.com", EmailVerified: true, CreatedAt: at(0)}
	bob := store.User{ID: "u-2", Username: "bob", PasswordHash: "$2b$10$...", Disabled: true, CreatedAt: at(7 * time.Second)}
	mustOK(t, s.CreateUser(ctx, alice), "create alice")
	mustOK(t, s.CreateUser(ctx, bob), "create bob")

	for _, tc := range []struct {
		name string
		u    store.User
	}{
		{"same id", store.User{ID: alice.ID, Username: "carol", CreatedAt: at(0)}},
		{"same username", store.User{ID: "u-3", Username: alice.Username, CreatedAt: at(0)}},
	} {
		wantErr(t, s.CreateUser(ctx, tc.u), store.ErrAlreadyExists, "create user with "+tc.name)
	}
	_, err := s.User(ctx, "u-3")
	wantErr(t, err, store.ErrNotFound, "user refused as duplicate username")
	_, err = s.UserByUsername(ctx, "carol")
	wantErr(t, err, store.ErrNotFound, "user refused as duplicate id")

	for _, want := range []store.User{alice, bob} {
		got, err := s.User(ctx, want.ID)
		mustOK(t, err, "user "+want.ID)
		wantEqual(t, "user "+want.ID, got, want)
		got, err = s.UserByUsername(ctx, want.Username)
		mustOK(t, err, "user by name "+want.Username)
		wantEqual(t, "user by name "+want.Username, got, want)
	}

	for _, disabled := range []bool{true, false, false} {
		mustOK(t, s.SetUserDisabled(ctx, alice.ID, disabled), "set alice disabled")
		got, err := s.User(ctx, alice.ID)
		mustOK(t, err, "user alice")
		if got.Disabled != disabled {
			t.Errorf("after SetUserDisabled(%t): Disabled = %t", disabled, got.Disabled)
		}
	}
	got, err := s.User(ctx, bob.ID)
	mustOK(t, err, "user bob")
	if !got.Disabled {
		t.Error("SetUserDisabled on alice changed bob")
	}

	wantErr(t, s.SetUserDisabled(ctx, "nobody", true), store.ErrNotFound, "disable unknown user")
	_, err = s.User(ctx, "nobody")
	wantErr(t, err, store.ErrNotFound, "unknown user")
	_, err = s.UserByUsername(ctx, "nobody")
	wantErr(t, err, store.ErrNotFound, "unknown user name")
}
