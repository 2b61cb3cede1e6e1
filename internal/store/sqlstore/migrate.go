package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migration is one numbered schema change. A later PostgreSQL dialect keeps
// its own statements under the same version numbers.
type migration struct {
	version    int
	statements []string
}

// migrations is the SQLite schema history, oldest first. Append only: never
// edit or renumber a migration that has shipped.
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
}

// migrate brings the schema up to date. Each migration runs in its own write
// transaction and re-checks its version inside it, so processes opening one
// file together apply it once.
func (s *Store) migrate(ctx context.Context) error {
	const ddl = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`
	if _, err := s.w.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range migrations {
		if err := s.apply(ctx, m); err != nil {
			return err
		}
	}
	var newest int
	err := s.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if known := migrations[len(migrations)-1].version; newest > known {
		// A newer grantd migrated this file. Migrations are additive, so
		// carry on (REL-19), but say so.
		s.logger.WarnContext(ctx, "database schema is newer than this binary",
			"path", s.path, "schema_version", newest, "known_version", known)
	}
	return nil
}

// apply runs m unless its version is already recorded.
func (s *Store) apply(ctx context.Context, m migration) error {
	applied := false
	err := s.inTx(ctx, fmt.Sprintf("apply migration %d", m.version), func(tx *sql.Tx) error {
		var n int
		err := tx.QueryRowContext(ctx,
			`SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n)
		if err != nil || n > 0 {
			return err
		}
		for _, stmt := range m.statements {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
			m.version, time.Now().UnixNano())
		applied = err == nil
		return err
	})
	if err != nil {
		return err
	}
	if applied {
		s.logger.InfoContext(ctx, "applied schema migration", "path", s.path, "version", m.version)
	}
	return nil
}
