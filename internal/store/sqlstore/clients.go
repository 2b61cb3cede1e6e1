package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

const clientColumns = `id, secret_hash, public, name, redirect_uris, grant_types, scopes, auth_method, audience,
	introspect, revoke_ends_grant, disabled, created_at, previous_secret_hash, previous_secret_expires_at, token_mode,
	logo_uri, client_uri`

const selectClient = `SELECT ` + clientColumns + ` FROM clients WHERE id = $1`

// CreateClient stores c. It returns store.ErrAlreadyExists when the id is
// taken.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	_, err := s.exec(ctx, fmt.Sprintf("create client %q", c.ID),
		`INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		c.ID, c.SecretHash, c.Public, c.Name, dbList(c.RedirectURIs), dbList(c.GrantTypes),
		dbList(c.Scopes), c.AuthMethod, c.Audience, c.Introspect, c.RevokeEndsGrant, c.Disabled, dbTime(c.CreatedAt),
		c.PreviousSecretHash, dbTime(c.PreviousSecretExpiresAt), tokenMode(c.TokenMode), c.LogoURI, c.ClientURI)
	return err
}

// Client returns the client with the given id, or store.ErrNotFound.
func (s *Store) Client(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(s.readRow(ctx, s.st.client, id))
	if err != nil {
		return store.Client{}, fmt.Errorf("client %q: %w", id, err)
	}
	return c, nil
}

// ListClients returns every client, ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	cs, err := queryAll(ctx, s, scanClient, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return cs, nil
}

// UpdateClient replaces every setting of the client c.ID but its secrets
// and creation time, in one statement. It returns store.ErrNotFound when
// there is no such client.
func (s *Store) UpdateClient(ctx context.Context, c store.Client) error {
	return s.execOne(ctx, fmt.Sprintf("update client %q", c.ID),
		`UPDATE clients SET public = $2, name = $3, redirect_uris = $4, grant_types = $5, scopes = $6,
			auth_method = $7, audience = $8, introspect = $9, revoke_ends_grant = $10, disabled = $11, token_mode = $12,
			logo_uri = $13, client_uri = $14
		WHERE id = $1`,
		c.ID, c.Public, c.Name, dbList(c.RedirectURIs), dbList(c.GrantTypes), dbList(c.Scopes),
		c.AuthMethod, c.Audience, c.Introspect, c.RevokeEndsGrant, c.Disabled, tokenMode(c.TokenMode), c.LogoURI, c.ClientURI)
}

// RotateClientSecret makes newHash the client's secret, and the secret it
// replaces its previous one until oldUntil (none when oldUntil is zero), in
// one statement: the right-hand sides of SET read the row as it was. It
// returns store.ErrNotFound when there is no such client.
func (s *Store) RotateClientSecret(ctx context.Context, id, newHash string, oldUntil time.Time) error {
	return s.execOne(ctx, fmt.Sprintf("rotate the secret of client %q", id),
		`UPDATE clients SET previous_secret_hash = CASE WHEN $3 THEN secret_hash ELSE '' END,
			previous_secret_expires_at = $4, secret_hash = $2
		WHERE id = $1`,
		id, newHash, !oldUntil.IsZero(), dbTime(oldUntil))
}

// DeleteClient deletes the client, revokes its grants and refresh tokens,
// and deletes its consents, device grants and authorization codes, in one
// transaction. Its refresh tokens all carry its id, those of families
// older than grants included; on PostgreSQL a successor committed during
// the statement is caught by repeating it (revokeUntilNone).
func (s *Store) DeleteClient(ctx context.Context, id string, now time.Time) error {
	return s.inTx(ctx, fmt.Sprintf("delete client %q", id), func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM clients WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return notFoundIfNone(err)
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE grants SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL`, id, nanos(now)); err != nil {
			return err
		}
		err = revokeUntilNone(ctx, tx,
			`UPDATE refresh_tokens SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL`, id, nanos(now))
		if err != nil {
			return err
		}
		for _, table := range []string{"consents", "device_grants", "authorization_codes"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE client_id = $1`, id); err != nil {
				return err
			}
		}
		return nil
	})
}

func scanClient(row rowScanner) (store.Client, error) {
	var (
		c                         store.Client
		redirects, grants, scps   string
		created, previousExpiries sql.NullInt64
	)
	err := row.Scan(&c.ID, &c.SecretHash, &c.Public, &c.Name, &redirects, &grants, &scps, &c.AuthMethod, &c.Audience,
		&c.Introspect, &c.RevokeEndsGrant, &c.Disabled, &created, &c.PreviousSecretHash, &previousExpiries, &c.TokenMode,
		&c.LogoURI, &c.ClientURI)
	if err != nil {
		return store.Client{}, notFound(err)
	}
	c.CreatedAt = goTime(created)
	c.PreviousSecretExpiresAt = goTime(previousExpiries)
	for _, l := range []struct {
		dst *[]string
		src string
	}{{&c.RedirectURIs, redirects}, {&c.GrantTypes, grants}, {&c.Scopes, scps}} {
		if *l.dst, err = goList(l.src); err != nil {
			return store.Client{}, err
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
