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
		`INSERT INTO sessions (id_hash, user_id, auth_time, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		sess.IDHash, sess.UserID, dbTime(sess.AuthTime), dbTime(sess.CreatedAt), dbTime(sess.ExpiresAt))
	return err
}

// Session returns the session with the given id hash, or store.ErrNotFound
// when there is none or it has expired at now.
func (s *Store) Session(ctx context.Context, idHash string, now time.Time) (store.Session, error) {
	var (
		sess                      store.Session
		authTime, created, expiry sql.NullInt64
	)
	err := s.r.QueryRowContext(ctx,
		`SELECT id_hash, user_id, auth_time, created_at, expires_at FROM sessions
		WHERE id_hash = $1 AND expires_at > $2`, idHash, nanos(now)).
		Scan(&sess.IDHash, &sess.UserID, &authTime, &created, &expiry)
	if err != nil {
		return store.Session{}, fmt.Errorf("session: %w", notFound(err))
	}
	sess.AuthTime = goTime(authTime)
	sess.CreatedAt = goTime(created)
	sess.ExpiresAt = goTime(expiry)
	return sess, nil
}

// DeleteSession deletes the session with the given id hash. Deleting an
// absent session is not an error, so sign-out is idempotent.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	_, err := s.exec(ctx, "delete session", `DELETE FROM sessions WHERE id_hash = $1`, idHash)
	return err
}

const keyColumns = `id, algorithm, private_key, created_at`

// SigningKeys returns every stored key, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	defer rows.Close()
	var keys []store.SigningKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return keys, nil
}

// EnsureSigningKey stores k unless a key for k.Algorithm exists, and returns
// the oldest key for that algorithm. The lookup and the insert share one
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
		got, err = scanKey(tx.QueryRowContext(ctx,
			`SELECT `+keyColumns+` FROM signing_keys WHERE algorithm = $1 ORDER BY created_at, id LIMIT 1`,
			k.Algorithm))
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO signing_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4)`,
			k.ID, k.Algorithm, k.PrivateKey, dbTime(k.CreatedAt))
		got = k
		return err
	})
	if err != nil {
		return store.SigningKey{}, err
	}
	return got, nil
}

func scanKey(row rowScanner) (store.SigningKey, error) {
	var (
		k       store.SigningKey
		created sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &created); err != nil {
		return store.SigningKey{}, notFound(err)
	}
	k.CreatedAt = goTime(created)
	return k, nil
}
