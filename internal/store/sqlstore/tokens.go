package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// RevokeAccessToken records the token id jti as revoked until expiresAt.
// Revoking a jti again is not an error and keeps the first record.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	_, err := s.exec(ctx, "revoke access token",
		`INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING`,
		jti, nanos(expiresAt))
	return err
}

// userName is the name a live token's user goes by: a federated user's
// display name, else the user name (store.User.Name).
const userName = `CASE WHEN u.display_name <> '' THEN u.display_name ELSE u.username END`

// selectAccessTokenLive reads everything AccessTokenLive decides on, and the
// user's name, in one statement: one round trip on the introspection hot
// path instead of five.
const selectAccessTokenLive = `SELECT g.revoked_at, g.expires_at, u.disabled, ` + userName + `, c.disabled,
	EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = $1)
	FROM grants g
	LEFT JOIN users u ON u.id = g.user_id
	LEFT JOIN clients c ON c.id = g.client_id
	WHERE g.id = $2`

// AccessTokenLive implements store.AccessTokens.
func (s *Store) AccessTokenLive(ctx context.Context, jti, grantID string, now time.Time) (string, bool, error) {
	var (
		revokedAt, expiresAt         sql.NullInt64
		userDisabled, clientDisabled sql.NullBool
		username                     sql.NullString
		jtiRevoked                   bool
	)
	err := s.readRow(ctx, s.st.accessTokenLive, jti, grantID).
		Scan(&revokedAt, &expiresAt, &userDisabled, &username, &clientDisabled, &jtiRevoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return s.familyLive(ctx, jti, grantID, now)
	case err != nil:
		return "", false, fmt.Errorf("access token live: %w", err)
	}
	if jtiRevoked || revokedAt.Valid || !now.Before(goTime(expiresAt)) || !userAndClientEnabled(userDisabled, clientDisabled) {
		return "", false, nil
	}
	return username.String, true, nil
}

// selectFamilyLive is selectAccessTokenLive for a grant with no grants row:
// a refresh family older than grants (see migration2), which rotation
// treats as a grant never revoked. Such a family is live while one of its
// generations is unrevoked (RevokeGrant revokes them all) and within the
// family's lifetime; its user and client are the generations'.
const selectFamilyLive = `SELECT u.disabled, ` + userName + `, c.disabled,
	EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = $1)
	FROM refresh_tokens r
	LEFT JOIN users u ON u.id = r.user_id
	LEFT JOIN clients c ON c.id = r.client_id
	WHERE r.family_id = $2 AND r.revoked_at IS NULL AND r.family_expires_at > $3
	LIMIT 1`

// familyLive is AccessTokenLive for a grant id with no grants row. The ids
// asked about come from access tokens whose signature checked out and from
// stored refresh tokens, so no caller can make an unknown id cost this
// second read at will.
func (s *Store) familyLive(ctx context.Context, jti, grantID string, now time.Time) (string, bool, error) {
	var (
		userDisabled, clientDisabled sql.NullBool
		username                     sql.NullString
		jtiRevoked                   bool
	)
	err := s.read(ctx, selectFamilyLive, jti, grantID, nanos(now)).
		Scan(&userDisabled, &username, &clientDisabled, &jtiRevoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil // no such grant, or a family revoked or past its lifetime
	case err != nil:
		return "", false, fmt.Errorf("access token live, family without a grant: %w", err)
	}
	if jtiRevoked || !userAndClientEnabled(userDisabled, clientDisabled) {
		return "", false, nil
	}
	return username.String, true, nil
}

// userAndClientEnabled reports whether a token's user and client, read by
// a LEFT JOIN (NULL when gone), are both present and enabled (RT-07).
func userAndClientEnabled(userDisabled, clientDisabled sql.NullBool) bool {
	return userDisabled.Valid && !userDisabled.Bool && clientDisabled.Valid && !clientDisabled.Bool
}

// Consent returns the user's consent to the client, or store.ErrNotFound.
func (s *Store) Consent(ctx context.Context, userID, clientID string) (store.Consent, error) {
	var (
		c       = store.Consent{UserID: userID, ClientID: clientID}
		scopes  string
		granted sql.NullInt64
	)
	err := s.read(ctx,
		`SELECT scopes, granted_at FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID).
		Scan(&scopes, &granted)
	if err != nil {
		return store.Consent{}, fmt.Errorf("consent of user %q to client %q: %w", userID, clientID, notFound(err))
	}
	if c.Scopes, err = goList(scopes); err != nil {
		return store.Consent{}, fmt.Errorf("consent of user %q to client %q: %w", userID, clientID, err)
	}
	c.GrantedAt = goTime(granted)
	return c, nil
}

// SaveConsent stores c, replacing any earlier consent of the user to the
// client, in one upsert.
func (s *Store) SaveConsent(ctx context.Context, c store.Consent) error {
	_, err := s.exec(ctx, fmt.Sprintf("save consent of user %q to client %q", c.UserID, c.ClientID),
		`INSERT INTO consents (user_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.UserID, c.ClientID, dbList(c.Scopes), nanos(c.GrantedAt))
	return err
}

// EnsureSecret stores value under name unless a secret of that name exists,
// and returns the secret in force. The insert does nothing on a conflict, and
// the read that follows sees the winner's row, so instances starting together
// agree on one value.
func (s *Store) EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	if len(value) == 0 {
		return nil, fmt.Errorf("ensure secret %q: empty value", name)
	}
	var got []byte
	err := s.inTx(ctx, fmt.Sprintf("ensure secret %q", name), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
			name, value, time.Now().UnixNano())
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&got)
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}
