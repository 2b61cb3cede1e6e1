package memstore

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := New()
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}

var t0 = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

// TestValuesAreCopied: what a caller gives is copied in, and what the
// store returns is a copy: changing either changes nothing stored.
func TestValuesAreCopied(t *testing.T) {
	ctx := t.Context()
	s := New()
	c := store.Client{ID: "tv", RedirectURIs: []string{"https://a.example/cb"}, GrantTypes: []string{"refresh_token"},
		Scopes: []string{"openid"}, CreatedAt: t0}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.RedirectURIs[0], c.GrantTypes[0], c.Scopes[0] = "changed", "changed", "changed"
	got, err := s.Client(ctx, "tv")
	if err != nil {
		t.Fatal(err)
	}
	got.RedirectURIs[0], got.GrantTypes[0], got.Scopes[0] = "changed", "changed", "changed"

	u := store.Upstream{ID: "up", Scopes: []string{"openid"}, ExtraParams: map[string]string{"k": "v"}, CreatedAt: t0}
	if err := s.CreateUpstream(ctx, u); err != nil {
		t.Fatal(err)
	}
	u.Scopes[0], u.ExtraParams["k"] = "changed", "changed"
	gotUp, err := s.Upstream(ctx, "up")
	if err != nil {
		t.Fatal(err)
	}
	gotUp.Scopes[0], gotUp.ExtraParams["k"] = "changed", "changed"

	k := store.SigningKey{ID: "k", Algorithm: "ES256", PrivateKey: []byte{1, 2, 3}, CreatedAt: t0}
	gotKey, err := s.EnsureSigningKey(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	k.PrivateKey[0], gotKey.PrivateKey[1] = 9, 9

	secret := []byte("secret")
	gotSecret, err := s.EnsureSecret(ctx, "s", secret)
	if err != nil {
		t.Fatal(err)
	}
	secret[0], gotSecret[1] = 'X', 'X'

	again, _ := s.Client(ctx, "tv")
	if again.RedirectURIs[0] != "https://a.example/cb" || again.GrantTypes[0] != "refresh_token" || again.Scopes[0] != "openid" {
		t.Errorf("client lists shared with a caller: %+v", again)
	}
	upAgain, _ := s.Upstream(ctx, "up")
	if upAgain.Scopes[0] != "openid" || upAgain.ExtraParams["k"] != "v" {
		t.Errorf("upstream list or map shared with a caller: %+v", upAgain)
	}
	keys, _ := s.SigningKeys(ctx)
	if len(keys) != 1 || !slices.Equal(keys[0].PrivateKey, []byte{1, 2, 3}) {
		t.Errorf("private key shared with a caller: %+v", keys)
	}
	if secretAgain, _ := s.EnsureSecret(ctx, "s", []byte("other")); string(secretAgain) != "secret" {
		t.Errorf("secret shared with a caller: %q", secretAgain)
	}
}

// TestCallbackGetsACopy: a rotation's decision may scribble on the
// generation it is handed without changing the one stored.
func TestCallbackGetsACopy(t *testing.T) {
	ctx := t.Context()
	s := New()
	rt := store.RefreshToken{Hash: "h", GrantID: "g", ClientID: "tv", UserID: "u", Scopes: []string{"openid"},
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), FamilyExpiresAt: t0.Add(24 * time.Hour)}
	if err := errors.Join(
		s.CreateUser(ctx, store.User{ID: "u", Username: "u", CreatedAt: t0}),
		s.CreateClient(ctx, store.Client{ID: "tv", CreatedAt: t0}),
		s.CreateRefreshToken(ctx, rt),
	); err != nil {
		t.Fatal(err)
	}
	errNo := errors.New("no")
	_, err := s.RotateRefreshToken(ctx, "h", "tv", t0, func(old store.RefreshToken, _ store.User) (store.Issuance, error) {
		old.Scopes[0] = "changed"
		return store.Issuance{}, errNo
	})
	if !errors.Is(err, errNo) {
		t.Fatalf("rotation refused by its decision: %v, want %v", err, errNo)
	}
	got, err := s.RefreshToken(ctx, "h")
	if err != nil || !slices.Equal(got.Scopes, []string{"openid"}) {
		t.Errorf("generation after a decision changed its copy: %+v, %v", got, err)
	}
}

// TestRequiredTimes: a record the SQL store would refuse for a missing
// time (a NOT NULL column) is refused here too, so that a handler test on
// this store catches what SQLite would.
func TestRequiredTimes(t *testing.T) {
	ctx := t.Context()
	s := New()
	for name, err := range map[string]error{
		"client without creation":  s.CreateClient(ctx, store.Client{ID: "c"}),
		"user without creation":    s.CreateUser(ctx, store.User{ID: "u", Username: "u"}),
		"session without expiry":   s.CreateSession(ctx, store.Session{IDHash: "s", CreatedAt: t0}),
		"device grant, no expiry":  s.CreateDeviceGrant(ctx, store.DeviceGrant{DeviceCodeHash: "d", UserCode: "U", CreatedAt: t0}),
		"refresh token, no family": s.CreateRefreshToken(ctx, store.RefreshToken{Hash: "r", CreatedAt: t0, ExpiresAt: t0}),
		"single use, no expiry":    s.UseOnce(ctx, "once", time.Time{}),
	} {
		if err == nil {
			t.Errorf("%s: stored", name)
		}
	}
}

// TestClosed: once closed, every verb fails, as on a closed database, and
// closing again is harmless; a cancelled context fails a verb as well.
func TestClosed(t *testing.T) {
	s := New()
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Client(cancelled, "tv"); !errors.Is(err, context.Canceled) {
		t.Errorf("read with a cancelled context: %v, want %v", err, context.Canceled)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := errors.Join(s.Close(), s.Close()); err != nil {
		t.Fatalf("Close twice: %v", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close: no error")
	}
	if err := s.CreateUser(t.Context(), store.User{ID: "u", Username: "u", CreatedAt: t0}); err == nil {
		t.Error("CreateUser after Close: no error")
	}
	if s.Health() != nil {
		t.Error("Health reports a fault")
	}
}
