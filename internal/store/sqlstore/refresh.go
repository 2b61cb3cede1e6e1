package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
		`SELECT `+refreshColumns+` FROM refresh_tokens
		WHERE hash = (SELECT successor_hash FROM refresh_tokens WHERE hash = $1)`, hash))
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("refresh successor: %w", err)
	}
	return t, nil
}

func scanRefreshToken(row rowScanner) (store.RefreshToken, error) {
	var (
		t                                                  store.RefreshToken
		scopes                                             string
		authTime, created, expires, famExpires, rot, revok sql.NullInt64
	)
	err := row.Scan(&t.Hash, &t.GrantID, &t.ClientID, &t.UserID, &scopes, &t.Resource, &authTime, &created,
		&expires, &famExpires, &rot, &revok)
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

// RotateRefreshToken marks the generation oldHash as rotated at now, records
// next as its successor and stores next, in one transaction. The mark is one
// conditional UPDATE, so exactly one of concurrent rotations succeeds; the
// others get store.ErrConflict, as does a rotated, revoked or expired
// generation or one whose grant is revoked. An unknown oldHash gives
// store.ErrNotFound; a next whose GrantID or FamilyExpiresAt differ from the
// old generation's is refused with a plain error.
//
// On PostgreSQL the grant's row is locked (FOR SHARE) first, so that a
// concurrent RevokeGrant either finishes before the UPDATE reads the grant or
// starts after this commits and then revokes next too: a revoked grant never
// keeps a live successor.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next store.RefreshToken, now time.Time) error {
	op := fmt.Sprintf("rotate refresh token of grant %q", next.GrantID)
	return s.inTx(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		if s.d.forShare != "" {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM grants WHERE id = $1`+s.d.forShare, next.GrantID).Scan(&one)
			if err != nil && !errors.Is(err, sql.ErrNoRows) { // no row: a family older than grants
				return err
			}
		}
		res, err := tx.StmtContext(ctx, s.st.rotateRefresh).ExecContext(ctx,
			oldHash, nanos(now), next.GrantID, dbTime(next.FamilyExpiresAt), next.Hash)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return whyNotRotated(ctx, tx, oldHash, next)
		}
		_, err = tx.StmtContext(ctx, s.st.insertRefresh).ExecContext(ctx, refreshTokenArgs(next)...)
		return err
	})
}

// whyNotRotated explains a rotation that matched no row: an unknown hash, a
// successor that does not continue the family, or a conflict.
func whyNotRotated(ctx context.Context, tx *sql.Tx, oldHash string, next store.RefreshToken) error {
	var (
		grantID    string
		famExpires sql.NullInt64
	)
	err := tx.QueryRowContext(ctx, `SELECT family_id, family_expires_at FROM refresh_tokens WHERE hash = $1`,
		oldHash).Scan(&grantID, &famExpires)
	switch {
	case err != nil:
		return notFound(err)
	case grantID != next.GrantID:
		return fmt.Errorf("successor names grant %q, the generation it replaces grant %q", next.GrantID, grantID)
	case famExpires.Int64 != nanos(next.FamilyExpiresAt):
		return fmt.Errorf("successor's family expiry %v differs from the family's %v",
			next.FamilyExpiresAt, goTime(famExpires))
	}
	return store.ErrConflict
}
