package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// CreateSession stores sess. It returns store.ErrAlreadyExists when the id
// hash is taken.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	_, err := s.exec(ctx, "create session",
		`INSERT INTO sessions (id_hash, user_id, auth_time, created_at, expires_at, upstream_tokens)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		sess.IDHash, sess.UserID, dbTime(sess.AuthTime), dbTime(sess.CreatedAt), dbTime(sess.ExpiresAt), sess.UpstreamTokens)
	return err
}

// Session returns the session with the given id hash, or store.ErrNotFound
// when there is none or it has expired at now.
func (s *Store) Session(ctx context.Context, idHash string, now time.Time) (store.Session, error) {
	var (
		sess                      store.Session
		authTime, created, expiry sql.NullInt64
	)
	err := s.read(ctx,
		`SELECT id_hash, user_id, auth_time, created_at, expires_at, upstream_tokens FROM sessions
		WHERE id_hash = $1 AND expires_at > $2`, idHash, nanos(now)).
		Scan(&sess.IDHash, &sess.UserID, &authTime, &created, &expiry, &sess.UpstreamTokens)
	if err != nil {
		return store.Session{}, fmt.Errorf("session: %w", notFound(err))
	}
	sess.AuthTime = goTime(authTime)
	sess.CreatedAt = goTime(created)
	sess.ExpiresAt = goTime(expiry)
	return sess, nil
}

// TakeUpstreamTokens returns the session's sealed upstream tokens and
// clears them: a read, then an update conditional on the value read, so
// that of concurrent callers exactly one changes the row and gets them.
func (s *Store) TakeUpstreamTokens(ctx context.Context, idHash string) (string, error) {
	var tokens string
	err := s.inTx(ctx, "take session's upstream tokens", func(ctx context.Context, tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT upstream_tokens FROM sessions WHERE id_hash = $1`, idHash).Scan(&tokens)
		if err != nil {
			return notFound(err)
		}
		if tokens == "" {
			return store.ErrNotFound
		}
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET upstream_tokens = '' WHERE id_hash = $1 AND upstream_tokens = $2`,
			idHash, tokens)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(err, store.ErrNotFound) // a concurrent caller took them
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return tokens, nil
}

// DeleteSession deletes the session with the given id hash. Deleting an
// absent session is not an error, so sign-out is idempotent.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	_, err := s.exec(ctx, "delete session", `DELETE FROM sessions WHERE id_hash = $1`, idHash)
	return err
}

// DeleteUserSessions deletes every session of the user. Deleting none is
// not an error.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := s.exec(ctx, fmt.Sprintf("delete the sessions of user %q", userID),
		`DELETE FROM sessions WHERE user_id = $1`, userID)
	return err
}

const (
	keyColumns = `id, algorithm, private_key, created_at, activates_at, retires_at`
	// keyOrder puts, for each algorithm, the key that signs last.
	keyOrder = `ORDER BY activates_at, created_at, id`
)

// SigningKeys returns every stored key in the order of store.Keys.
func (s *Store) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := queryAll(ctx, s, scanKey, `SELECT `+keyColumns+` FROM signing_keys `+keyOrder)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return keys, nil
}

// EnsureSigningKey stores k unless a key for k.Algorithm exists, and returns
// the newest key for that algorithm. The lookup and the insert share one
// write transaction that runs alone among those for the same algorithm
// (SQLite: the write lock; PostgreSQL: an advisory lock), so instances
// starting together agree on one key.
func (s *Store) EnsureSigningKey(ctx context.Context, k store.SigningKey) (store.SigningKey, error) {
	var got store.SigningKey
	err := s.inTx(ctx, fmt.Sprintf("ensure %s signing key", k.Algorithm), func(ctx context.Context, tx *sql.Tx) error {
		if err := s.d.serialize(ctx, tx, "signing key "+k.Algorithm); err != nil {
			return err
		}
		var err error
		got, err = newestKey(ctx, tx, k.Algorithm)
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		got = k
		if got.ActivatesAt.IsZero() {
			got.ActivatesAt = got.CreatedAt
		}
		return insertKey(ctx, tx, k)
	})
	if err != nil {
		return store.SigningKey{}, err
	}
	return got, nil
}

// RotateSigningKey stores next and schedules current's retirement, if
// current is still the newest key of next.Algorithm. It runs alone among
// the transactions on that algorithm's keys, like EnsureSigningKey.
func (s *Store) RotateSigningKey(ctx context.Context, current string, next store.SigningKey, retireAt time.Time) error {
	return s.inTx(ctx, fmt.Sprintf("rotate %s signing key", next.Algorithm), func(ctx context.Context, tx *sql.Tx) error {
		if err := s.d.serialize(ctx, tx, "signing key "+next.Algorithm); err != nil {
			return err
		}
		newest, err := newestKey(ctx, tx, next.Algorithm)
		if errors.Is(err, store.ErrNotFound) || (err == nil && newest.ID != current) {
			return store.ErrConflict
		}
		if err != nil {
			return err
		}
		if err := insertKey(ctx, tx, next); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE signing_keys SET retires_at = $1 WHERE id = $2`, dbTime(retireAt), current)
		return err
	})
}

func newestKey(ctx context.Context, tx *sql.Tx, alg string) (store.SigningKey, error) {
	return scanKey(tx.QueryRowContext(ctx,
		`SELECT `+keyColumns+` FROM signing_keys WHERE algorithm = $1 ORDER BY activates_at DESC, created_at DESC, id DESC LIMIT 1`,
		alg))
}

// insertKey stores k. A key without an activation time signs from its
// creation.
func insertKey(ctx context.Context, tx *sql.Tx, k store.SigningKey) error {
	if k.ActivatesAt.IsZero() {
		k.ActivatesAt = k.CreatedAt
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.Algorithm, k.PrivateKey, dbTime(k.CreatedAt), dbTime(k.ActivatesAt), dbTime(k.RetiresAt))
	return err
}

func scanKey(row rowScanner) (store.SigningKey, error) {
	var (
		k                           store.SigningKey
		created, activates, retires sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &created, &activates, &retires); err != nil {
		return store.SigningKey{}, notFound(err)
	}
	k.CreatedAt, k.ActivatesAt, k.RetiresAt = goTime(created), goTime(activates), goTime(retires)
	return k, nil
}
