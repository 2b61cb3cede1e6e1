package keys_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "grantd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// published returns the kids in a JWKS document.
func published(t *testing.T, s *keys.Set) []string {
	t.Helper()
	var doc struct {
		Keys []struct {
			KID string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(s.JWKS(), &doc); err != nil {
		t.Fatalf("JWKS %s: %v", s.JWKS(), err)
	}
	var kids []string
	for _, k := range doc.Keys {
		if k.D != "" {
			t.Fatalf("JWKS publishes a private key: %s", s.JWKS()) // MD-03
		}
		kids = append(kids, k.KID)
	}
	return kids
}

type claims struct {
	Subject string `json:"sub"`
}

// sign signs a token with s's ES256 key and reports its kid.
func sign(t *testing.T, s *keys.Set) string {
	t.Helper()
	tok, err := s.Sign(keys.ES256, keys.TypeAccessToken, json.RawMessage(`{"sub":"u1"}`))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func verifies(s *keys.Set, tok string) bool {
	var c claims
	return s.Verify(tok, keys.TypeAccessToken, &c) == nil && c.Subject == "u1"
}

// TestRotationLifecycle is REL-12: a successor is published before it signs,
// and its predecessor stays published, and its tokens valid, until they
// have expired; then it leaves the JWKS.
func TestRotationLifecycle(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	set, err := keys.Load(ctx, st, rand.Reader, t0, keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	k1 := set.KeyID(keys.ES256)
	old := sign(t, set)

	rot := keys.Rotation{PublishAhead: 10 * time.Minute, RetireAfter: time.Hour}
	rotatedAt := t0.Add(time.Hour)
	k2, err := keys.Rotate(ctx, st, rand.Reader, rotatedAt, keys.ES256, rot)
	if err != nil {
		t.Fatal(err)
	}
	if got := published(t, set); !slices.Equal(got, []string{k1}) {
		t.Errorf("before a reload, the JWKS changed: %v", got)
	}
	if k2.ID == k1 || !k2.ActivatesAt.Equal(rotatedAt.Add(10*time.Minute)) {
		t.Fatalf("successor %s activating at %v", k2.ID, k2.ActivatesAt)
	}

	for _, step := range []struct {
		name      string
		at        time.Time
		changed   bool
		signer    string
		published []string
		oldValid  bool
	}{
		{"the next reload publishes the successor", rotatedAt, true, k1, []string{k1, k2.ID}, true},
		{"just before activation, the old key signs", rotatedAt.Add(10*time.Minute - time.Second), false, k1, []string{k1, k2.ID}, true},
		{"at activation, the successor signs", rotatedAt.Add(10 * time.Minute), true, k2.ID, []string{k1, k2.ID}, true},
		{"until retirement, old tokens verify", rotatedAt.Add(70*time.Minute - time.Second), false, k2.ID, []string{k1, k2.ID}, true},
		{"at retirement, the old key is withdrawn", rotatedAt.Add(70 * time.Minute), true, k2.ID, []string{k2.ID}, false},
		{"a reload without change keeps the snapshot", rotatedAt.Add(80 * time.Minute), false, k2.ID, []string{k2.ID}, false},
	} {
		changed, err := set.Reload(ctx, st, step.at)
		if err != nil {
			t.Fatalf("%s: reload: %v", step.name, err)
		}
		if changed != step.changed {
			t.Errorf("%s: changed %v, want %v", step.name, changed, step.changed)
		}
		if got := set.KeyID(keys.ES256); got != step.signer {
			t.Errorf("%s: signing kid %s, want %s", step.name, got, step.signer)
		}
		if got := published(t, set); !slices.Equal(got, step.published) {
			t.Errorf("%s: JWKS kids %v, want %v", step.name, got, step.published)
		}
		if got := verifies(set, old); got != step.oldValid {
			t.Errorf("%s: token signed by the old key verifies: %v, want %v", step.name, got, step.oldValid)
		}
		if tok := sign(t, set); !verifies(set, tok) {
			t.Errorf("%s: a fresh token does not verify", step.name)
		}
	}
}

// TestEmergencyRotation: a zero Rotation, for a leaked key, switches
// signing at once and ends the old key's tokens at once.
func TestEmergencyRotation(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	set, err := keys.Load(ctx, st, rand.Reader, t0, keys.ES256, keys.RS256)
	if err != nil {
		t.Fatal(err)
	}
	leaked, rsa := set.KeyID(keys.ES256), set.KeyID(keys.RS256)
	old := sign(t, set)
	next, err := keys.Rotate(ctx, st, rand.Reader, t0.Add(time.Minute), keys.ES256, keys.Rotation{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Reload(ctx, st, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if set.KeyID(keys.ES256) != next.ID || verifies(set, old) || slices.Contains(published(t, set), leaked) {
		t.Errorf("after an emergency rotation: signing %s (want %s), old token verifies %v, JWKS %v",
			set.KeyID(keys.ES256), next.ID, verifies(set, old), published(t, set))
	}
	if set.KeyID(keys.RS256) != rsa {
		t.Errorf("rotating ES256 changed the RS256 key")
	}
}

// TestKeeperRotatesOnce: two instances' keepers find the key due together;
// one successor is scheduled, and both instances sign with it once it
// activates (REL-12, REL-20).
func TestKeeperRotatesOnce(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	now := t0
	keepers := make([]*keys.Keeper, 2)
	for i := range keepers {
		set, err := keys.Load(ctx, st, rand.Reader, now, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		keepers[i] = &keys.Keeper{Set: set, Store: st, Rand: rand.Reader, Now: func() time.Time { return now },
			Algs: []string{keys.ES256}, Every: time.Minute, RotateEvery: 24 * time.Hour,
			Rotation: keys.Rotation{PublishAhead: 10 * time.Minute, RetireAfter: time.Hour},
			Logger:   slog.New(slog.DiscardHandler)}
	}
	first := keepers[0].Set.KeyID(keys.ES256)
	count := func() int {
		stored, err := st.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(stored)
	}

	now = t0.Add(24*time.Hour - time.Second)
	for _, k := range keepers {
		k.Tick(ctx)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d keys before the rotation is due, want 1", n)
	}
	now = t0.Add(24 * time.Hour)
	for _, k := range keepers {
		k.Tick(ctx)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d keys after both instances found the key due, want 2", n)
	}
	now = now.Add(10 * time.Minute)
	for i, k := range keepers {
		k.Tick(ctx)
		if got := k.Set.KeyID(keys.ES256); got == first || got == "" {
			t.Errorf("instance %d signs with %q after the successor activated", i, got)
		}
	}
	if a, b := keepers[0].Set.KeyID(keys.ES256), keepers[1].Set.KeyID(keys.ES256); a != b {
		t.Errorf("instances sign with different keys: %s and %s", a, b)
	}
}

// failingKeys is a store whose reads fail, as during a database outage.
type failingKeys struct{ store.Keys }

func (failingKeys) SigningKeys(context.Context) ([]store.SigningKey, error) {
	return nil, errors.New("database unreachable")
}

// TestReloadDuringOutage: when the store cannot be read, Reload reports it,
// keeps the keys it has, and still activates and retires them on time.
func TestReloadDuringOutage(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	set, err := keys.Load(ctx, st, rand.Reader, t0, keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	k1 := set.KeyID(keys.ES256)
	k2, err := keys.Rotate(ctx, st, rand.Reader, t0, keys.ES256, keys.Rotation{PublishAhead: time.Minute, RetireAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Reload(ctx, st, t0); err != nil {
		t.Fatal(err)
	}
	changed, err := set.Reload(ctx, failingKeys{st}, t0.Add(time.Minute))
	if err == nil || !changed || set.KeyID(keys.ES256) != k2.ID {
		t.Errorf("reload during an outage at activation: changed %v, err %v, signing %s (want %s, was %s)",
			changed, err, set.KeyID(keys.ES256), k2.ID, k1)
	}
	if _, err := keys.Load(ctx, failingKeys{st}, rand.Reader, t0, keys.ES256); err == nil {
		t.Errorf("Load with an unreadable store succeeded")
	}
}
