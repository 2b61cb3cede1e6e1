package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/grantd/grantd/internal/store"
)

const clientColumns = `id, secret_hash, public, name, redirect_uris, grant_types, scopes, auth_method, audience,
	introspect, revoke_ends_grant, token_mode, disabled, created_at, logo_uri, client_uri`

const selectClient = `SELECT ` + clientColumns + ` FROM clients WHERE id = $1`

// CreateClient stores c. It returns store.ErrAlreadyExists when the id is
// taken.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	_, err := s.exec(ctx, fmt.Sprintf("create client %q", c.ID),
		`INSERT INTO clients (`+clientColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.ID, c.SecretHash, c.Public, c.Name, dbList(c.RedirectURIs), dbList(c.GrantTypes),
		dbList(c.Scopes), c.AuthMethod, c.Audience, c.Introspect, c.RevokeEndsGrant, tokenMode(c.TokenMode), c.Disabled,
		dbTime(c.CreatedAt), c.LogoURI, c.ClientURI)
	return err
}

// Client returns the client with the given id, or store.ErrNotFound.
func (s *Store) Client(ctx context.Context, id string) (store.Client, error) {
	var (
		c                       store.Client
		redirects, grants, scps string
		created                 sql.NullInt64
	)
	err := s.readRow(ctx, s.st.client, id).
		Scan(&c.ID, &c.SecretHash, &c.Public, &c.Name, &redirects, &grants, &scps, &c.AuthMethod, &c.Audience,
			&c.Introspect, &c.RevokeEndsGrant, &c.TokenMode, &c.Disabled, &created, &c.LogoURI, &c.ClientURI)
	if err != nil {
		return store.Client{}, fmt.Errorf("client %q: %w", id, notFound(err))
	}
	c.CreatedAt = goTime(created)
	for _, l := range []struct {
		dst *[]string
		src string
	}{{&c.RedirectURIs, redirects}, {&c.GrantTypes, grants}, {&c.Scopes, scps}} {
		if *l.dst, err = goList(l.src); err != nil {
			return store.Client{}, fmt.Errorf("client %q: %w", id, err)
		}
	}
	return c, nil
}

// tokenMode stores a client's token mode, local when unset.
func tokenMode(m string) string {
	if m == "" {
		return store.TokenModeLocal
	}
	return m
}

// CreateUser stores u. It returns store.ErrAlreadyExists when the id or the
// user name is taken.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.exec(ctx, fmt.Sprintf("create user %q", u.ID),
		`INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, userArgs(u)...)
	return err
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
