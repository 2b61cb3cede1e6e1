package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// migration is one numbered schema change, applied in one transaction.
// Both dialects share the version numbers.
type migration struct {
	version    int
	statements []string
	// postgres, when not nil, replaces statements on PostgreSQL. When nil,
	// PostgreSQL runs statements with BLOB read as BYTEA, the one type name
	// the two dialects spell differently.
	postgres []string
}

// migrations is the schema history, oldest first. Append only: never edit
// or renumber a migration that has shipped; an existing database upgrades
// in place (REL-19). Migrations are additive, so that an older grantd still
// runs against a newer schema during a rolling upgrade: they add tables,
// columns (with defaults) and indexes, and never rename or drop.
//
// Types are chosen to read the same in PostgreSQL: BIGINT for Unix
// nanoseconds and durations, TEXT for identifiers and JSON lists, BOOLEAN
// (stored by SQLite as 0/1). Only BLOB (BYTEA) differs.
var migrations = []migration{
	{version: 1, statements: []string{
		`CREATE TABLE clients (
			id            TEXT PRIMARY KEY,
			secret_hash   TEXT NOT NULL,
			public        BOOLEAN NOT NULL,
			name          TEXT NOT NULL,
			redirect_uris TEXT NOT NULL,
			grant_types   TEXT NOT NULL,
			scopes        TEXT NOT NULL,
			disabled      BOOLEAN NOT NULL,
			created_at    BIGINT NOT NULL
		)`,
		`CREATE TABLE users (
			id            TEXT PRIMARY KEY,
			username      TEXT NOT NULL UNIQUE,
			password_hash TEXT NOT NULL,
			disabled      BOOLEAN NOT NULL,
			created_at    BIGINT NOT NULL
		)`,
		`CREATE TABLE device_grants (
			device_code_hash TEXT PRIMARY KEY,
			user_code        TEXT NOT NULL,
			client_id        TEXT NOT NULL,
			scopes           TEXT NOT NULL,
			state            TEXT NOT NULL
				CHECK (state IN ('pending', 'approved', 'denied', 'issued')),
			user_id          TEXT NOT NULL,
			auth_time        BIGINT,
			poll_interval_ns BIGINT NOT NULL,
			last_polled_at   BIGINT,
			created_at       BIGINT NOT NULL,
			expires_at       BIGINT NOT NULL,
			decided_at       BIGINT
		)`,
		`CREATE UNIQUE INDEX device_grants_user_code ON device_grants (user_code)`,
		`CREATE INDEX device_grants_expires_at ON device_grants (expires_at)`,
		`CREATE TABLE refresh_tokens (
			hash              TEXT PRIMARY KEY,
			family_id         TEXT NOT NULL,
			client_id         TEXT NOT NULL,
			user_id           TEXT NOT NULL,
			scopes            TEXT NOT NULL,
			auth_time         BIGINT,
			created_at        BIGINT NOT NULL,
			expires_at        BIGINT NOT NULL,
			family_expires_at BIGINT NOT NULL,
			rotated_at        BIGINT,
			revoked_at        BIGINT
		)`,
		`CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id, expires_at)`,
		`CREATE INDEX refresh_tokens_family_expires_at ON refresh_tokens (family_expires_at)`,
		`CREATE TABLE sessions (
			id_hash    TEXT PRIMARY KEY,
			user_id    TEXT NOT NULL,
			auth_time  BIGINT,
			created_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL
		)`,
		`CREATE INDEX sessions_expires_at ON sessions (expires_at)`,
		`CREATE TABLE signing_keys (
			id          TEXT PRIMARY KEY,
			algorithm   TEXT NOT NULL,
			private_key BLOB NOT NULL,
			created_at  BIGINT NOT NULL
		)`,
		`CREATE INDEX signing_keys_algorithm ON signing_keys (algorithm, created_at)`,
	}},
	{version: 2, statements: migration2},
	{version: 3, statements: migration3},
	{version: 4, statements: migration4},
	{version: 5, statements: migration5},
	{version: 6, statements: migration6},
	{version: 7, statements: migration7},
	{version: 8, statements: migration8},
	{version: 9, statements: migration9},
}

// migration2 adds authorization codes, grants, consent, revoked access
// tokens, shared secrets and attempt budgets, the new client settings, and
// each refresh generation's resource and successor. The refresh_tokens column family_id
// keeps its name and now holds the GrantID: renaming it would break an older
// grantd still running during the upgrade. A family stored before grants
// existed has no grants row; it is treated as a grant never revoked.
var migration2 = []string{
	`ALTER TABLE clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE clients ADD COLUMN audience TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE clients ADD COLUMN introspect BOOLEAN NOT NULL DEFAULT FALSE`,
	`ALTER TABLE refresh_tokens ADD COLUMN resource TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE refresh_tokens ADD COLUMN successor_hash TEXT`,
	`CREATE INDEX refresh_tokens_user_client ON refresh_tokens (user_id, client_id)`,
	`CREATE TABLE grants (
		id         TEXT PRIMARY KEY,
		client_id  TEXT NOT NULL,
		user_id    TEXT NOT NULL,
		scopes     TEXT NOT NULL,
		kind       TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL,
		revoked_at BIGINT
	)`,
	`CREATE INDEX grants_user_client ON grants (user_id, client_id)`,
	`CREATE INDEX grants_expires_at ON grants (expires_at)`,
	`CREATE TABLE authorization_codes (
		hash           TEXT PRIMARY KEY,
		client_id      TEXT NOT NULL,
		user_id        TEXT NOT NULL,
		redirect_uri   TEXT NOT NULL,
		scopes         TEXT NOT NULL,
		nonce          TEXT NOT NULL,
		code_challenge TEXT NOT NULL,
		resource       TEXT NOT NULL,
		auth_time      BIGINT,
		created_at     BIGINT NOT NULL,
		expires_at     BIGINT NOT NULL,
		redeemed_at    BIGINT,
		grant_id       TEXT NOT NULL
	)`,
	`CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at)`,
	`CREATE TABLE revoked_access_tokens (
		jti        TEXT PRIMARY KEY,
		expires_at BIGINT NOT NULL
	)`,
	`CREATE INDEX revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at)`,
	`CREATE TABLE consents (
		user_id    TEXT NOT NULL,
		client_id  TEXT NOT NULL,
		scopes     TEXT NOT NULL,
		granted_at BIGINT NOT NULL,
		PRIMARY KEY (user_id, client_id)
	)`,
	`CREATE TABLE secrets (
		name       TEXT PRIMARY KEY,
		value      BLOB NOT NULL,
		created_at BIGINT NOT NULL
	)`,
	`CREATE TABLE attempts (
		bucket TEXT PRIMARY KEY,
		tat    BIGINT NOT NULL
	)`,
	`CREATE INDEX attempts_tat ON attempts (tat)`,
}

// migration3 gives signing keys an activation and a retirement time, so a
// key is published before it signs and withdrawn after its last token
// expires (REL-12). A key stored before this signed from its creation.
var migration3 = []string{
	`ALTER TABLE signing_keys ADD COLUMN activates_at BIGINT NOT NULL DEFAULT 0`,
	`UPDATE signing_keys SET activates_at = created_at`,
	`ALTER TABLE signing_keys ADD COLUMN retires_at BIGINT`,
}

// migration4 gives users an e-mail address, which the email scope releases
// (OpenID Connect Core §5.4), and whether it was verified.
var migration4 = []string{
	`ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE`,
}

// migration5 adds the client setting that makes revoking one of the
// client's access tokens revoke its whole grant (store.Client.
// RevokeEndsGrant). Existing clients keep revoking the token alone.
var migration5 = []string{
	`ALTER TABLE clients ADD COLUMN revoke_ends_grant BOOLEAN NOT NULL DEFAULT FALSE`,
}

// migration6 serves the operator's command line: a client's previous
// secret, which authenticates it until the grace of a rotation ends
// (store.Clients.RotateClientSecret), and the ids of deleted users, which
// are never given out again (store.Users.DeleteUser). An older grantd
// ignores both: it knows only the current secret.
var migration6 = []string{
	`ALTER TABLE clients ADD COLUMN previous_secret_hash TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE clients ADD COLUMN previous_secret_expires_at BIGINT`,
	`CREATE TABLE deleted_users (
		id         TEXT PRIMARY KEY,
		deleted_at BIGINT NOT NULL
	)`,
}

// migration7 adds the scopes' descriptions (store.Scope), shown on the
// pages and, unless hidden, listed in the metadata's scopes_supported.
var migration7 = []string{
	`CREATE TABLE scopes (
		name        TEXT PRIMARY KEY,
		description TEXT NOT NULL,
		hidden      BOOLEAN NOT NULL,
		updated_at  BIGINT NOT NULL
	)`,
}

// migration8 brings sign-in through upstream OpenID Connect providers:
// the providers (their client secrets sealed), federated users (marked by
// their upstream and subject, shown by a display name), clients' token
// modes, the sealed upstream tokens a sign-in holds for a passthrough
// client's device until it collects them, the records of upstream refresh
// tokens such clients hold, and the single-use marks of upstream sign-in
// states.
var migration8 = []string{
	`CREATE TABLE upstreams (
		id             TEXT PRIMARY KEY,
		name           TEXT NOT NULL,
		issuer         TEXT NOT NULL,
		client_id      TEXT NOT NULL,
		client_secret  TEXT NOT NULL,
		scopes         TEXT NOT NULL,
		username_claim TEXT NOT NULL,
		extra_params   TEXT NOT NULL,
		revocation_url TEXT NOT NULL,
		created_at     BIGINT NOT NULL
	)`,
	`ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE users ADD COLUMN upstream_id TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE users ADD COLUMN upstream_subject TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE clients ADD COLUMN token_mode TEXT NOT NULL DEFAULT 'local'`,
	`ALTER TABLE sessions ADD COLUMN upstream_tokens TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE device_grants ADD COLUMN upstream_tokens TEXT NOT NULL DEFAULT ''`,
	`CREATE TABLE passthrough_tokens (
		hash        TEXT PRIMARY KEY,
		client_id   TEXT NOT NULL,
		user_id     TEXT NOT NULL,
		upstream_id TEXT NOT NULL,
		created_at  BIGINT NOT NULL,
		expires_at  BIGINT NOT NULL
	)`,
	`CREATE INDEX passthrough_tokens_expires_at ON passthrough_tokens (expires_at)`,
	`CREATE TABLE used_once (
		id         TEXT PRIMARY KEY,
		expires_at BIGINT NOT NULL
	)`,
	`CREATE INDEX used_once_expires_at ON used_once (expires_at)`,
}

// migration9 records when each grant was last used (store.Grant.
// LastUsedAt), for the account page, and gives clients a logo and a home
// page to show on the consent page (store.Client.LogoURI, ClientURI).
// Grants stored before have no last use (NULL); clients, none of either.
var migration9 = []string{
	`ALTER TABLE grants ADD COLUMN last_used_at BIGINT`,
	`ALTER TABLE clients ADD COLUMN logo_uri TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE clients ADD COLUMN client_uri TEXT NOT NULL DEFAULT ''`,
}

// migrator is a *sql.DB or, on PostgreSQL, the *sql.Conn that holds the
// migration lock.
type migrator interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// migrateDB brings the schema up to date and returns its version. Each
// migration runs in its own transaction and re-checks its version inside
// it, so that SQLite processes opening one file together apply it once (on
// PostgreSQL, the caller also holds an advisory lock).
func migrateDB(ctx context.Context, db migrator, d *dialect, logger *slog.Logger) (int, error) {
	const ddl = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range d.migrations {
		if err := apply(ctx, db, d, m, logger); err != nil {
			return 0, fmt.Errorf("apply migration %d: %w", m.version, err)
		}
	}
	newest, err := schemaVersion(ctx, db)
	if err != nil {
		return 0, err
	}
	if known := d.migrations[len(d.migrations)-1].version; newest > known {
		// A newer grantd migrated this database. Migrations are additive,
		// so carry on (REL-19), but say so.
		logger.WarnContext(ctx, "database schema is newer than this binary",
			"schema_version", newest, "known_version", known)
	}
	return newest, nil
}

// schemaVersion returns the newest migration recorded, 0 for none.
func schemaVersion(ctx context.Context, db migrator) (int, error) {
	var newest int
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return newest, nil
}

// apply runs m unless its version is already recorded.
func apply(ctx context.Context, db migrator, d *dialect, m migration, logger *slog.Logger) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // after Commit, a no-op
	var n int
	err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n)
	if err != nil || n > 0 {
		return err
	}
	for _, stmt := range d.ddl(m) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.version, time.Now().UnixNano())
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	logger.InfoContext(ctx, "applied schema migration", "dialect", d.name, "version", m.version)
	return nil
}
