package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

const codeColumns = `hash, client_id, user_id, redirect_uri, scopes, nonce, code_challenge, resource, auth_time,
	created_at, expires_at, redeemed_at, grant_id`

// CreateAuthorizationCode stores c unredeemed; c's RedeemedAt and GrantID
// are ignored. It returns store.ErrAlreadyExists when the hash is taken.
func (s *Store) CreateAuthorizationCode(ctx context.Context, c store.AuthorizationCode) error {
	_, err := s.exec(ctx, fmt.Sprintf("create authorization code for client %q", c.ClientID),
		`INSERT INTO authorization_codes (`+codeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, '')`,
		c.Hash, c.ClientID, c.UserID, c.RedirectURI, dbList(c.Scopes), c.Nonce, c.CodeChallenge, c.Resource,
		dbTime(c.AuthTime), dbTime(c.CreatedAt), dbTime(c.ExpiresAt))
	return err
}

// AuthorizationCode returns the code with the given hash, or
// store.ErrNotFound. Redeemed and expired codes are returned until they are
// purged.
func (s *Store) AuthorizationCode(ctx context.Context, hash string) (store.AuthorizationCode, error) {
	c, err := scanCode(s.read(ctx,
		`SELECT `+codeColumns+` FROM authorization_codes WHERE hash = $1`, hash))
	if err != nil {
		return store.AuthorizationCode{}, fmt.Errorf("authorization code: %w", err)
	}
	return c, nil
}

// RedeemAuthorizationCode marks an unredeemed code that has not expired at
// now as redeemed by g, and stores g and rt (when not nil), in one
// transaction, returning the code as redeemed. The mark is one conditional
// UPDATE, so exactly one of concurrent callers wins. Every other gets
// store.ErrConflict with the code as stored, whose GrantID names the
// winner's grant (empty when the code expired unredeemed), and nothing is
// stored. An unknown hash gives store.ErrNotFound.
func (s *Store) RedeemAuthorizationCode(ctx context.Context, hash string, now time.Time, g store.Grant, rt *store.RefreshToken) (store.AuthorizationCode, error) {
	var c store.AuthorizationCode
	err := s.inTx(ctx, fmt.Sprintf("redeem authorization code of client %q", g.ClientID), func(ctx context.Context, tx *sql.Tx) error {
		var err error
		c, err = scanCode(tx.QueryRowContext(ctx,
			`UPDATE authorization_codes SET redeemed_at = $2, grant_id = $3
			WHERE hash = $1 AND redeemed_at IS NULL AND expires_at > $2
			RETURNING `+codeColumns, hash, nanos(now), g.ID))
		if errors.Is(err, store.ErrNotFound) {
			// Lost, or never there: read the code as the winner left it.
			c, err = scanCode(tx.QueryRowContext(ctx,
				`SELECT `+codeColumns+` FROM authorization_codes WHERE hash = $1`, hash))
			if err == nil {
				err = store.ErrConflict
			}
			return err
		}
		if err != nil {
			return err
		}
		return s.insertGrant(ctx, tx, g, rt)
	})
	if errors.Is(err, store.ErrConflict) {
		return c, err
	}
	if err != nil {
		return store.AuthorizationCode{}, err
	}
	return c, nil
}

func scanCode(row rowScanner) (store.AuthorizationCode, error) {
	var (
		c                                   store.AuthorizationCode
		scopes                              string
		authTime, created, expires, redeemd sql.NullInt64
	)
	err := row.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.RedirectURI, &scopes, &c.Nonce, &c.CodeChallenge,
		&c.Resource, &authTime, &created, &expires, &redeemd, &c.GrantID)
	if err != nil {
		return store.AuthorizationCode{}, notFound(err)
	}
	if c.Scopes, err = goList(scopes); err != nil {
		return store.AuthorizationCode{}, err
	}
	c.AuthTime = goTime(authTime)
	c.CreatedAt = goTime(created)
	c.ExpiresAt = goTime(expires)
	c.RedeemedAt = goTime(redeemd)
	return c, nil
}
