package sqlstore

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/storetest"
)

// v1Rows are rows as grantd with schema version 1 wrote them.
var v1Rows = []string{
	`INSERT INTO clients (id, secret_hash, public, name, redirect_uris, grant_types, scopes, disabled, created_at)
	VALUES ('tv', '', TRUE, 'TV', '[]', '["refresh_token"]', '["openid"]', FALSE, $1)`,
	`INSERT INTO refresh_tokens (hash, family_id, client_id, user_id, scopes, auth_time, created_at, expires_at,
		family_expires_at, rotated_at, revoked_at)
	VALUES ('old-rt', 'old-family', 'tv', 'u1', '["openid"]', NULL, $1, $1 + 86400000000000, $1 + 2592000000000000,
		NULL, NULL)`,
	`INSERT INTO device_grants (device_code_hash, user_code, client_id, scopes, state, user_id, auth_time,
		poll_interval_ns, last_polled_at, created_at, expires_at, decided_at)
	VALUES ('dc-old', 'OLDCODE1', 'tv', '[]', 'approved', 'u1', $1, 5000000000, NULL, $1, $1 + 600000000000, $1)`,
	`INSERT INTO signing_keys (id, algorithm, private_key, created_at) VALUES ('kid-old', 'ES256', '\x01', $1)`,
	`INSERT INTO users (id, username, password_hash, disabled, created_at) VALUES ('u1', 'alice', 'x', FALSE, $1)`,
}

// testUpgradeFromV1 is docs/SECURITY.md REL-19: db holds a schema at version 1
// with live state written by that version; reopen opens it with this
// grantd, which migrates it in place (and, for signing keys, REL-12). Every row stays usable, and the
// statements of version 1 still run against the new schema, as an older
// instance's would during a rolling upgrade.
func testUpgradeFromV1(t *testing.T, db *sql.DB, d *dialect, reopen func() *Store) {
	ctx := t.Context()
	v1 := *d
	v1.migrations = d.migrations[:1]
	if v, err := migrateDB(ctx, db, &v1, slog.New(slog.DiscardHandler)); err != nil || v != 1 {
		t.Fatalf("migrate to version 1: %d, %v", v, err)
	}
	for _, q := range v1Rows {
		if _, err := db.ExecContext(ctx, q, t0.UnixNano()); err != nil {
			t.Fatalf("write version 1 rows: %v", err)
		}
	}

	s := reopen()
	latest := d.migrations[len(d.migrations)-1].version
	if v, err := schemaVersion(ctx, s.w); err != nil || v != latest {
		t.Fatalf("schema version after upgrade: %d, %v; want %d", v, err, latest)
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 1 || !keys[0].ActivatesAt.Equal(t0) || !keys[0].RetiresAt.IsZero() {
		t.Errorf("signing key after upgrade: %+v, %v; want one, signing since its creation, not retiring", keys, err)
	}
	c, err := s.Client(ctx, "tv")
	if err != nil || !c.Public || c.AuthMethod != "" || c.Audience != "" || c.Introspect || c.RevokeEndsGrant {
		t.Errorf("client after upgrade: %+v, %v", c, err)
	}
	old, err := s.RefreshToken(ctx, "old-rt")
	if err != nil || old.GrantID != "old-family" {
		t.Fatalf("refresh token after upgrade: %+v, %v", old, err)
	}
	now := t0.Add(time.Hour)
	next := store.RefreshToken{Hash: "new-rt", GrantID: old.GrantID, ClientID: "tv", UserID: "u1", CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), FamilyExpiresAt: old.FamilyExpiresAt}
	if err := storetest.Rotate(ctx, s, old.Hash, next, now); err != nil {
		t.Errorf("rotate a family older than grants: %v", err)
	}
	if got, err := s.RefreshSuccessor(ctx, old.Hash); err != nil || got.Hash != next.Hash {
		t.Errorf("successor: %+v, %v", got, err)
	}
	// The access tokens minted from the old family name it as their grant,
	// which has no grants row: they are live while the family is.
	if name, live, err := s.AccessTokenLive(ctx, "jti-after-upgrade", old.GrantID, now); err != nil || !live || name != "alice" {
		t.Errorf("access token of a family older than grants: %q, %t, %v; want alice, live", name, live, err)
	}
	if _, err := s.RedeemDeviceGrant(ctx, "dc-old", "tv", t0.Add(time.Minute),
		storetest.Issue[store.DeviceGrant](new(userGrant("g-new")), nil)); err != nil {
		t.Errorf("redeem a device grant approved before the upgrade: %v", err)
	}
	if _, err := s.RevokeUserGrants(ctx, "u1", now); err != nil {
		t.Fatal(err)
	}
	if got, err := s.RefreshToken(ctx, next.Hash); err != nil || got.RevokedAt.IsZero() {
		t.Errorf("unlinking the client left the old family's successor live: %+v, %v", got, err)
	}
	if _, live, err := s.AccessTokenLive(ctx, "jti-after-upgrade", old.GrantID, now); err != nil || live {
		t.Errorf("access token of an unlinked family older than grants: live %t, %v; want inactive", live, err)
	}

	// An instance still at version 1 keeps writing.
	if _, err := s.w.ExecContext(ctx, `DELETE FROM clients`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM refresh_tokens`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM signing_keys`); err != nil {
		t.Fatal(err)
	}
	for _, q := range append(v1Rows[:2:2], v1Rows[3]) {
		if _, err := s.w.ExecContext(ctx, q, t0.UnixNano()); err != nil {
			t.Errorf("version 1 statement after the upgrade: %v", err)
		}
	}
}

func TestUpgradeFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grantd.db")
	db, err := openSQLitePool(context.Background(), sqliteDSN(path, false), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testUpgradeFromV1(t, db, sqliteDialect, func() *Store {
		db.Close()
		return openTemp(t, path)
	})
}
