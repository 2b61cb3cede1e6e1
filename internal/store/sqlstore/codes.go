package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

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
