package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// CreateUser stores u. It returns store.ErrAlreadyExists when the id or the
// user name is taken, or the id was a deleted user's (deleted_users).
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return s.inTx(ctx, fmt.Sprintf("create user %q", u.ID), func(ctx context.Context, tx *sql.Tx) error {
		var deleted bool
		err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM deleted_users WHERE id = $1)`, u.ID).Scan(&deleted)
		if err != nil {
			return err
		}
		if deleted {
			return store.ErrAlreadyExists
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			userArgs(u)...)
		return err
	})
}

const userColumns = `id, username, display_name, upstream_id, upstream_subject, password_hash, email, email_verified,
	disabled, created_at`

func userArgs(u store.User) []any {
	return []any{u.ID, u.Username, u.DisplayName, u.UpstreamID, u.UpstreamSubject, u.PasswordHash, u.Email,
		u.EmailVerified, u.Disabled, dbTime(u.CreatedAt)}
}

// User returns the user with the given id, or store.ErrNotFound.
func (s *Store) User(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.readRow(ctx, s.st.user, id))
	if err != nil {
		return store.User{}, fmt.Errorf("user %q: %w", id, err)
	}
	return u, nil
}

// UserByUsername returns the user with the given user name, or
// store.ErrNotFound. User names are compared exactly.
func (s *Store) UserByUsername(ctx context.Context, username string) (store.User, error) {
	row := s.read(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1`, username)
	u, err := scanUser(row)
	if err != nil {
		return store.User{}, fmt.Errorf("user by name: %w", err)
	}
	return u, nil
}

// ListUsers returns a page of users ordered by id: at most limit (all when
// limit is not positive) whose ids sort after after.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]store.User, error) {
	query := `SELECT ` + userColumns + ` FROM users WHERE id > $1 ORDER BY id`
	if limit > 0 {
		query += ` LIMIT ` + strconv.Itoa(limit)
	}
	us, err := queryAll(ctx, s, scanUser, query, after)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

func scanUser(row rowScanner) (store.User, error) {
	var (
		u       store.User
		created sql.NullInt64
	)
	if err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.UpstreamID, &u.UpstreamSubject, &u.PasswordHash, &u.Email,
		&u.EmailVerified, &u.Disabled, &created); err != nil {
		return store.User{}, notFound(err)
	}
	u.CreatedAt = goTime(created)
	return u, nil
}

// SetUserDisabled enables or disables a user. It returns store.ErrNotFound
// when the user does not exist.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool) error {
	return s.execOne(ctx, fmt.Sprintf("set user %q disabled=%t", id, disabled),
		`UPDATE users SET disabled = $1 WHERE id = $2`, disabled, id)
}

// SetPassword replaces the user's password hash. It returns
// store.ErrNotFound when the user does not exist.
func (s *Store) SetPassword(ctx context.Context, id, passwordHash string) error {
	return s.execOne(ctx, fmt.Sprintf("set the password of user %q", id),
		`UPDATE users SET password_hash = $2 WHERE id = $1`, id, passwordHash)
}

// DeleteUser deletes the user, remembers the id in deleted_users, revokes
// the user's grants and refresh tokens (revokeUserGrants), and deletes the
// user's sessions and authorization codes, in one transaction.
func (s *Store) DeleteUser(ctx context.Context, id string, now time.Time) error {
	return s.inTx(ctx, fmt.Sprintf("delete user %q", id), func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return notFoundIfNone(err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO deleted_users (id, deleted_at) VALUES ($1, $2)`, id, nanos(now))
		if err != nil {
			return err
		}
		if _, err := revokeUserGrants(ctx, tx, id, now); err != nil {
			return err
		}
		for _, table := range []string{"sessions", "authorization_codes"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE user_id = $1`, id); err != nil {
				return err
			}
		}
		return nil
	})
}
