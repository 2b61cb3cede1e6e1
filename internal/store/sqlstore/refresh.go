package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// refreshColumns are a generation's columns. family_id holds the GrantID
// (see migration2).
const refreshColumns = `hash, family_id, client_id, user_id, scopes, resource, auth_time, created_at, expires_at,
	family_expires_at, rotated_at, revoked_at`

const insertRefreshToken = `INSERT INTO refresh_tokens (` + refreshColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

func refreshTokenArgs(t store.RefreshToken) []any {
	return []any{t.Hash, t.GrantID, t.ClientID, t.UserID, dbList(t.Scopes), t.Resource, dbTime(t.AuthTime),
		dbTime(t.CreatedAt), dbTime(t.ExpiresAt), dbTime(t.FamilyExpiresAt), dbTime(t.RotatedAt),
		dbTime(t.RevokedAt)}
}

// selectRefresh reads a generation and, in the same statement, its grant's
// kind (empty when the family has no grants row), as scanRefreshToken scans
// them. The caller appends the WHERE clause on r.
var selectRefresh = `SELECT ` + qualified("r", refreshColumns) + `, COALESCE(g.kind, '')
	FROM refresh_tokens r LEFT JOIN grants g ON g.id = r.family_id`

// qualified prefixes each of the comma-separated columns with table.
func qualified(table, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = table + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// rotateRefreshToken marks a generation rotated; see RotateRefreshToken.
const rotateRefreshToken = `UPDATE refresh_tokens SET rotated_at = $2, successor_hash = $5
	WHERE hash = $1 AND family_id = $3 AND family_expires_at = $4
		AND rotated_at IS NULL AND revoked_at IS NULL
		AND expires_at > $2 AND family_expires_at > $2
		AND NOT EXISTS (SELECT 1 FROM grants WHERE id = $3 AND revoked_at IS NOT NULL)`

// CreateRefreshToken stores the first generation of a family. It returns
// store.ErrAlreadyExists when the hash is taken.
func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	_, err := s.execPrepared(ctx, fmt.Sprintf("create refresh token of grant %q", t.GrantID),
		s.st.insertRefresh, refreshTokenArgs(t)...)
	return err
}

// RefreshToken returns the generation with the given hash, or
// store.ErrNotFound. Rotated, revoked and expired generations are returned
// too, so that the caller can detect reuse.
func (s *Store) RefreshToken(ctx context.Context, hash string) (store.RefreshToken, error) {
	t, err := scanRefreshToken(s.readRow(ctx, s.st.refreshByHash, hash))
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("refresh token: %w", err)
	}
	return t, nil
}

// RefreshSuccessor returns the generation that replaced the one with the
// given hash, or store.ErrNotFound when that one was not rotated, is
// unknown, or was rotated by a grantd older than schema version 2.
func (s *Store) RefreshSuccessor(ctx context.Context, hash string) (store.RefreshToken, error) {
	t, err := scanRefreshToken(s.read(ctx,
		selectRefresh+` WHERE r.hash = (SELECT successor_hash FROM refresh_tokens WHERE hash = $1)`, hash))
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("refresh successor: %w", err)
	}
	return t, nil
}

func scanRefreshToken(row rowScanner) (store.RefreshToken, error) {
	return scanRefreshTokenAlso(row)
}

// scanRefreshTokenAlso scans refreshColumns and the grant's kind, as
// selectRefresh reads them, then extra columns into extra.
func scanRefreshTokenAlso(row rowScanner, extra ...any) (store.RefreshToken, error) {
	var (
		t                                                  store.RefreshToken
		scopes                                             string
		authTime, created, expires, famExpires, rot, revok sql.NullInt64
	)
	err := row.Scan(append([]any{&t.Hash, &t.GrantID, &t.ClientID, &t.UserID, &scopes, &t.Resource, &authTime, &created,
		&expires, &famExpires, &rot, &revok, &t.GrantKind}, extra...)...)
	if err != nil {
		return store.RefreshToken{}, notFound(err)
	}
	if t.Scopes, err = goList(scopes); err != nil {
		return store.RefreshToken{}, err
	}
	t.AuthTime = goTime(authTime)
	t.CreatedAt = goTime(created)
	t.ExpiresAt = goTime(expires)
	t.FamilyExpiresAt = goTime(famExpires)
	t.RotatedAt = goTime(rot)
	t.RevokedAt = goTime(revok)
	return t, nil
}

// recordUse records now as the last use of old's grant when the one
// recorded is zero or more than store.LastUsedStep old; most refreshes
// write nothing more. A family with no grants row (GrantKind "") has none
// to record.
func recordUse(ctx context.Context, tx *sql.Tx, old store.RefreshToken, lastUsed, now time.Time) error {
	if old.GrantKind == "" || (!lastUsed.IsZero() && now.Sub(lastUsed) <= store.LastUsedStep) {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE grants SET last_used_at = $2 WHERE id = $1`, old.GrantID, nanos(now))
	return err
}

// rotate marks old rotated at now in favour of next and stores next.
func (s *Store) rotate(ctx context.Context, tx *sql.Tx, old, next store.RefreshToken, now time.Time) error {
	if err := s.d.lockGrant(ctx, tx, next.GrantID); err != nil {
		return err
	}
	res, err := tx.StmtContext(ctx, s.st.rotateRefresh).ExecContext(ctx,
		old.Hash, nanos(now), next.GrantID, dbTime(next.FamilyExpiresAt), next.Hash)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrConflict
	}
	_, err = tx.StmtContext(ctx, s.st.insertRefresh).ExecContext(ctx, refreshTokenArgs(next)...)
	return err
}
