package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/storetest"
)

// openTemp opens a store on path, closed when t ends.
func openTemp(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	})
}

var t0 = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

func grant(n int) store.DeviceGrant {
	return store.DeviceGrant{
		DeviceCodeHash: fmt.Sprintf("dc-%d", n), UserCode: fmt.Sprintf("UC%06d", n), ClientID: "tv",
		Scopes: []string{"openid"}, Interval: 5 * time.Second, CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
	}
}

// createU1 stores user u1 and client tv, whom userGrant names and
// redemptions re-check, unless they exist.
func createU1(tb testing.TB, s *Store) {
	tb.Helper()
	err := s.CreateUser(tb.Context(), store.User{ID: "u1", Username: "alice", PasswordHash: "x", CreatedAt: t0})
	if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		tb.Fatalf("create user u1: %v", err)
	}
	err = s.CreateClient(tb.Context(), store.Client{ID: "tv", Name: "TV", Public: true,
		GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}, Scopes: []string{"openid"}, CreatedAt: t0})
	if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		tb.Fatalf("create client tv: %v", err)
	}
}

// userGrant is a grant of u1 to the tv client, created at t0.
func userGrant(id string) store.Grant {
	return store.Grant{ID: id, ClientID: "tv", UserID: "u1", Kind: "urn:ietf:params:oauth:grant-type:device_code",
		CreatedAt: t0, ExpiresAt: t0.Add(720 * time.Hour)}
}

// TestRestartKeepsDeviceGrants is docs/SECURITY.md REL-06: pending, approved and
// denied device grants survive a close and reopen with state and expiry
// intact, and the approved one is still redeemable exactly once.
func TestRestartKeepsDeviceGrants(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "grantd.db")
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	createU1(t, s)
	want := make(map[string]store.DeviceGrant)
	for n, d := range []*store.Decision{nil, {Approve: true, UserID: "u1", AuthTime: t0}, {UserID: "u2"}} {
		g := grant(n)
		if err := s.CreateDeviceGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		if d != nil {
			if g, err = s.DecideDeviceGrant(ctx, g.UserCode, *d, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err = s.PollDeviceGrant(ctx, g.DeviceCodeHash, g.ClientID, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if g, err = s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash); err != nil {
			t.Fatal(err)
		}
		if !g.LastPolledAt.Equal(t0.Add(2 * time.Minute)) {
			t.Fatalf("last poll %v, want %v", g.LastPolledAt, t0.Add(2*time.Minute))
		}
		want[g.DeviceCodeHash] = g
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTemp(t, path)
	for hash, w := range want {
		got, err := s.DeviceGrantByDeviceCode(ctx, hash)
		if err != nil {
			t.Fatalf("%s after restart: %v", hash, err)
		}
		if got.State != w.State || got.UserID != w.UserID || !got.ExpiresAt.Equal(w.ExpiresAt) ||
			!got.DecidedAt.Equal(w.DecidedAt) || !got.LastPolledAt.Equal(w.LastPolledAt) || got.Interval != w.Interval {
			t.Errorf("%s after restart:\n got %+v\nwant %+v", hash, got, w)
		}
	}
	approved := grant(1)
	if _, err := s.RedeemDeviceGrant(ctx, approved.DeviceCodeHash, "tv", t0.Add(3*time.Minute),
		storetest.Issue[store.DeviceGrant](new(userGrant("g1")), nil)); err != nil {
		t.Errorf("redeem approved grant after restart: %v", err)
	}
	if _, err := s.RedeemDeviceGrant(ctx, grant(0).DeviceCodeHash, "tv", t0.Add(3*time.Minute),
		storetest.Issue[store.DeviceGrant](new(userGrant("g0")), nil)); err == nil {
		t.Error("pending grant was redeemable after restart")
	}
}

// TestMigrationsIdempotent opens one file several times: the schema is
// applied once, every version is recorded once, and data survives.
func TestMigrationsIdempotent(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "grantd.db")
	for i := range 3 {
		s, err := Open(ctx, path, nil)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if i == 0 {
			if err := s.CreateUser(ctx, store.User{ID: "u1", Username: "alice", CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.User(ctx, "u1"); err != nil {
			t.Errorf("open %d: user: %v", i, err)
		}
		var count, newest int
		err = s.r.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&count, &newest)
		if err != nil {
			t.Fatal(err)
		}
		if want := migrations[len(migrations)-1].version; count != len(migrations) || newest != want {
			t.Errorf("open %d: %d versions up to %d, want %d up to %d", i, count, newest, len(migrations), want)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenNewerSchema is REL-19's rolling upgrade from the old side: a file
// migrated by a newer grantd still opens.
func TestOpenNewerSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "grantd.db")
	s := openTemp(t, path)
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	s2 := openTemp(t, path)
	if err := s2.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestDurabilitySettings checks the pragmas every connection gets: WAL,
// synchronous=FULL (REL-07), busy_timeout (REL-08), foreign keys, and
// query_only on the reader pool.
func TestDurabilitySettings(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	for _, tc := range []struct {
		pool   string
		pragma string
		want   string
	}{
		{"writer", "journal_mode", "wal"},
		{"writer", "synchronous", "2"}, // FULL: every COMMIT fsyncs the log
		{"reader", "synchronous", "2"},
		{"writer", "busy_timeout", "5000"},
		{"writer", "wal_autocheckpoint", "10000"},
		{"writer", "foreign_keys", "1"},
		{"writer", "query_only", "0"},
		{"reader", "journal_mode", "wal"},
		{"reader", "busy_timeout", "5000"},
		{"reader", "query_only", "1"},
	} {
		db := map[string]*sql.DB{"writer": s.w, "reader": s.r}[tc.pool]
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("%s: PRAGMA %s: %v", tc.pool, tc.pragma, err)
		}
		if !strings.EqualFold(got, tc.want) {
			t.Errorf("%s: %s = %s, want %s", tc.pool, tc.pragma, got, tc.want)
		}
	}
	if _, err := s.r.ExecContext(ctx, `DELETE FROM users`); err == nil {
		t.Error("reader pool accepted a write")
	}
}

func TestOpenRefusesSharedMemoryNames(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db?mode=memory", "x.db?_pragma=synchronous(OFF)"} {
		if s, err := Open(t.Context(), path, nil); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// TestPurgeIdleFamily: a family in which every generation is past its idle
// lifetime can never be used again, so the purge removes it even before its
// absolute lifetime ends.
func TestPurgeIdleFamily(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	rt := store.RefreshToken{Hash: "h", GrantID: "f", ClientID: "tv", UserID: "u", CreatedAt: t0,
		ExpiresAt: t0.Add(time.Hour), FamilyExpiresAt: t0.Add(720 * time.Hour)}
	if err := s.CreateRefreshToken(ctx, rt); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeExpired(ctx, t0.Add(time.Hour-time.Nanosecond)); err != nil || n != 0 {
		t.Fatalf("purge before idle expiry: %d, %v; want 0, nil", n, err)
	}
	if n, err := s.PurgeExpired(ctx, t0.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge at idle expiry: %d, %v; want 1, nil", n, err)
	}
}
