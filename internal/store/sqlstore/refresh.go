package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

const refreshColumns = `hash, family_id, client_id, user_id, scopes, auth_time, created_at, expires_at,
	family_expires_at, rotated_at, revoked_at`

const insertRefreshToken = `INSERT INTO refresh_tokens (` + refreshColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

func refreshTokenArgs(t store.RefreshToken) []any {
	return []any{t.Hash, t.FamilyID, t.ClientID, t.UserID, dbList(t.Scopes), dbTime(t.AuthTime),
		dbTime(t.CreatedAt), dbTime(t.ExpiresAt), dbTime(t.FamilyExpiresAt), dbTime(t.RotatedAt),
		dbTime(t.RevokedAt)}
}

// CreateRefreshToken stores the first generation of a family. It returns
// store.ErrAlreadyExists when the hash is taken.
func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	_, err := s.exec(ctx, fmt.Sprintf("create refresh token in family %q", t.FamilyID),
		insertRefreshToken, refreshTokenArgs(t)...)
	return err
}

// RefreshToken returns the generation with the given hash, or
// store.ErrNotFound. Rotated, revoked and expired generations are returned
// too, so that the caller can detect reuse.
func (s *Store) RefreshToken(ctx context.Context, hash string) (store.RefreshToken, error) {
	var (
		t                                                  store.RefreshToken
		scopes                                             string
		authTime, created, expires, famExpires, rot, revok sql.NullInt64
	)
	err := s.r.QueryRowContext(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = $1`, hash).
		Scan(&t.Hash, &t.FamilyID, &t.ClientID, &t.UserID, &scopes, &authTime, &created, &expires,
			&famExpires, &rot, &revok)
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("refresh token: %w", notFound(err))
	}
	if t.Scopes, err = goList(scopes); err != nil {
		return store.RefreshToken{}, fmt.Errorf("refresh token: %w", err)
	}
	t.AuthTime = goTime(authTime)
	t.CreatedAt = goTime(created)
	t.ExpiresAt = goTime(expires)
	t.FamilyExpiresAt = goTime(famExpires)
	t.RotatedAt = goTime(rot)
	t.RevokedAt = goTime(revok)
	return t, nil
}

// RotateRefreshToken marks the generation oldHash as rotated at now and
// stores next, in one transaction. The mark is one conditional UPDATE, so
// exactly one of concurrent rotations succeeds; the others get
// store.ErrConflict, as does a rotated, revoked or expired generation.
// An unknown oldHash gives store.ErrNotFound.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next store.RefreshToken, now time.Time) error {
	return s.inTx(ctx, fmt.Sprintf("rotate refresh token in family %q", next.FamilyID), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE refresh_tokens SET rotated_at = $2
			WHERE hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL
				AND expires_at > $2 AND family_expires_at > $2`,
			oldHash, nanos(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return conflictOrNotFound(ctx, tx, `SELECT 1 FROM refresh_tokens WHERE hash = $1`, oldHash)
		}
		_, err = tx.ExecContext(ctx, insertRefreshToken, refreshTokenArgs(next)...)
		return err
	})
}

// RevokeRefreshFamily sets revoked_at to now on every generation of the
// family not yet revoked. Revoking an unknown or revoked family is not an
// error.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string, now time.Time) error {
	_, err := s.exec(ctx, fmt.Sprintf("revoke refresh family %q", familyID),
		`UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`,
		familyID, dbTime(now))
	return err
}
