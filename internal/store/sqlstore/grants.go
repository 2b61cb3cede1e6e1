package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

const grantColumns = `id, client_id, user_id, scopes, kind, created_at, expires_at, revoked_at, last_used_at`

const insertGrantQuery = `INSERT INTO grants (` + grantColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// Grant returns the grant with the given id, or store.ErrNotFound. Revoked
// and expired grants are returned until they are purged.
func (s *Store) Grant(ctx context.Context, id string) (store.Grant, error) {
	g, err := scanGrant(s.read(ctx, `SELECT `+grantColumns+` FROM grants WHERE id = $1`, id))
	if err != nil {
		return store.Grant{}, fmt.Errorf("grant %q: %w", id, err)
	}
	return g, nil
}

// GrantsByUser returns the user's grants that are neither revoked nor
// expired at now, newest first.
func (s *Store) GrantsByUser(ctx context.Context, userID string, now time.Time) ([]store.Grant, error) {
	gs, err := queryAll(ctx, s, scanGrant,
		`SELECT `+grantColumns+` FROM grants
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at DESC, id DESC`, userID, nanos(now))
	if err != nil {
		return nil, fmt.Errorf("grants of user %q: %w", userID, err)
	}
	return gs, nil
}

// RevokeGrant sets revoked_at to now on the grant and on every refresh
// token of it not yet revoked, in one transaction. A second revocation keeps
// the first time. A refresh family older than grants (see migration2) has no
// grants row: its generations are revoked all the same. It returns
// store.ErrNotFound for an id that is neither a grant nor such a family.
//
// On PostgreSQL the grant's row stays locked until commit, and a rotation
// locks it too before it writes (see RotateRefreshToken), so the refresh
// tokens this revokes include every successor committed before it. A family
// without a grants row has no lock to order it against a rotation, and its
// statement repeats instead (see revokeUntilNone).
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	return s.inTx(ctx, fmt.Sprintf("revoke grant %q", id), func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, id, nanos(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		const revokeFamily = `UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`
		if n > 0 {
			_, err = tx.ExecContext(ctx, revokeFamily, id, nanos(now))
			return err
		}
		var family bool
		err = tx.QueryRowContext(ctx,
			`SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = $1)`, id).Scan(&family)
		if err != nil || !family {
			return notFoundIfNone(err)
		}
		return revokeUntilNone(ctx, tx, revokeFamily, id, nanos(now))
	})
}

// notFoundIfNone returns err, or store.ErrNotFound when err is nil.
func notFoundIfNone(err error) error {
	if err != nil {
		return err
	}
	return store.ErrNotFound
}

// RevokeUserGrant revokes the grant id of userID and its refresh tokens,
// and deletes the user's consent to its client unless another grant of the
// user to that client is live at now, in one transaction. The grant's row
// is updated first, so on PostgreSQL it stays locked until commit and a
// rotation orders itself against it as against RevokeGrant.
func (s *Store) RevokeUserGrant(ctx context.Context, userID, id string, now time.Time) (store.Grant, error) {
	var g store.Grant
	err := s.inTx(ctx, fmt.Sprintf("revoke grant %q of user %q", id, userID), func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE grants SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND user_id = $2`, id, userID, nanos(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return notFoundIfNone(err)
		}
		if g, err = scanGrant(tx.QueryRowContext(ctx, `SELECT `+grantColumns+` FROM grants WHERE id = $1`, id)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`, id, nanos(now))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM consents WHERE user_id = $1 AND client_id = $2
			AND NOT EXISTS (SELECT 1 FROM grants WHERE user_id = $1 AND client_id = $2
				AND revoked_at IS NULL AND expires_at > $3)`, userID, g.ClientID, nanos(now))
		return err
	})
	if err != nil {
		return store.Grant{}, err
	}
	return g, nil
}

// revokeUntilNone runs update, a statement that revokes refresh tokens,
// until it finds nothing left to revoke: on PostgreSQL a family with no
// grants row has no lock to order it against a rotation, and a successor
// committed while one statement waited on its predecessor's row is outside
// that statement's snapshot but inside the next one's. SQLite's first
// repetition finds nothing.
func revokeUntilNone(ctx context.Context, tx *sql.Tx, update string, args ...any) error {
	const maxRounds = 16
	for range maxRounds {
		res, err := tx.ExecContext(ctx, update, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
	}
	return fmt.Errorf("refresh tokens still being rotated after %d rounds", maxRounds)
}

func scanGrant(row rowScanner) (store.Grant, error) {
	var (
		g                                   store.Grant
		scopes                              string
		created, expires, revoked, lastUsed sql.NullInt64
	)
	err := row.Scan(&g.ID, &g.ClientID, &g.UserID, &scopes, &g.Kind, &created, &expires, &revoked, &lastUsed)
	if err != nil {
		return store.Grant{}, notFound(err)
	}
	if g.Scopes, err = goList(scopes); err != nil {
		return store.Grant{}, err
	}
	g.CreatedAt = goTime(created)
	g.ExpiresAt = goTime(expires)
	g.RevokedAt = goTime(revoked)
	g.LastUsedAt = goTime(lastUsed)
	return g, nil
}

// GrantsByClient returns the client's grants that are neither revoked nor
// expired at now, newest first. The grants table has no index on the
// client alone: this is for operators, not for a hot path.
func (s *Store) GrantsByClient(ctx context.Context, clientID string, now time.Time) ([]store.Grant, error) {
	gs, err := queryAll(ctx, s, scanGrant,
		`SELECT `+grantColumns+` FROM grants
		WHERE client_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at DESC, id DESC`, clientID, nanos(now))
	if err != nil {
		return nil, fmt.Errorf("grants of client %q: %w", clientID, err)
	}
	return gs, nil
}

// RevokeUserGrants revokes every grant of the user, every refresh token
// issued to the user, and deletes the user's consents, in one transaction.
func (s *Store) RevokeUserGrants(ctx context.Context, userID string, now time.Time) (int, error) {
	var revoked int
	err := s.inTx(ctx, fmt.Sprintf("revoke grants of user %q", userID), func(ctx context.Context, tx *sql.Tx) (err error) {
		revoked, err = revokeUserGrants(ctx, tx, userID, now)
		return err
	})
	return revoked, err
}

// revokeUserGrants revokes the user's grants and refresh tokens and deletes
// the user's consents in tx, and returns how many grants it revoked. The
// grants go first: on PostgreSQL a rotation locks its grant's row before
// it writes (see RotateRefreshToken), so the refresh tokens revoked next
// include every successor committed before; those of families without a
// grants row are caught by repeating the statement (revokeUntilNone).
func revokeUserGrants(ctx context.Context, tx *sql.Tx, userID string, now time.Time) (int, error) {
	res, err := tx.ExecContext(ctx,
		`UPDATE grants SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, userID, nanos(now))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	err = revokeUntilNone(ctx, tx,
		`UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, userID, nanos(now))
	if err != nil {
		return 0, err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM consents WHERE user_id = $1`, userID)
	return int(n), err
}
