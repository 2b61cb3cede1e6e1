package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

const upstreamColumns = `id, name, issuer, client_id, client_secret, scopes, username_claim, extra_params,
	revocation_url, created_at`

// CreateUpstream stores u. It returns store.ErrAlreadyExists when the id is
// taken.
func (s *Store) CreateUpstream(ctx context.Context, u store.Upstream) error {
	params, err := json.Marshal(u.ExtraParams)
	if err != nil {
		return fmt.Errorf("create upstream %q: extra parameters: %w", u.ID, err)
	}
	_, err = s.exec(ctx, fmt.Sprintf("create upstream %q", u.ID),
		`INSERT INTO upstreams (`+upstreamColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		u.ID, u.Name, u.Issuer, u.ClientID, u.ClientSecret, dbList(u.Scopes), u.UsernameClaim, string(params),
		u.RevocationURL, dbTime(u.CreatedAt))
	return err
}

// Upstream returns the upstream with the given id, or store.ErrNotFound.
func (s *Store) Upstream(ctx context.Context, id string) (store.Upstream, error) {
	u, err := scanUpstream(s.read(ctx, `SELECT `+upstreamColumns+` FROM upstreams WHERE id = $1`, id))
	if err != nil {
		return store.Upstream{}, fmt.Errorf("upstream %q: %w", id, err)
	}
	return u, nil
}

// Upstreams returns every upstream, ordered by id.
func (s *Store) Upstreams(ctx context.Context) ([]store.Upstream, error) {
	us, err := queryAll(ctx, s, scanUpstream, `SELECT `+upstreamColumns+` FROM upstreams ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("upstreams: %w", err)
	}
	return us, nil
}

// DeleteUpstream deletes the upstream, or returns store.ErrNotFound.
func (s *Store) DeleteUpstream(ctx context.Context, id string) error {
	return s.execOne(ctx, fmt.Sprintf("delete upstream %q", id), `DELETE FROM upstreams WHERE id = $1`, id)
}

func scanUpstream(row rowScanner) (store.Upstream, error) {
	var (
		u              store.Upstream
		scopes, params string
		created        sql.NullInt64
	)
	err := row.Scan(&u.ID, &u.Name, &u.Issuer, &u.ClientID, &u.ClientSecret, &scopes, &u.UsernameClaim, &params,
		&u.RevocationURL, &created)
	if err != nil {
		return store.Upstream{}, notFound(err)
	}
	if u.Scopes, err = goList(scopes); err != nil {
		return store.Upstream{}, err
	}
	if err := json.Unmarshal([]byte(params), &u.ExtraParams); err != nil {
		return store.Upstream{}, fmt.Errorf("extra parameters: %w", err)
	}
	u.CreatedAt = goTime(created)
	return u, nil
}

// SignInFederated stores u, or updates the user with its user name (which
// names its upstream and subject, see store.FederatedUsername): one upsert,
// so concurrent first sign-ins store one user.
func (s *Store) SignInFederated(ctx context.Context, u store.User) (store.User, error) {
	if u.UpstreamID == "" || u.UpstreamSubject == "" {
		return store.User{}, errors.New("sign in federated user: no upstream or subject")
	}
	u.Username = store.FederatedUsername(u.UpstreamID, u.UpstreamSubject)
	u.PasswordHash = ""
	var got store.User
	err := s.inTx(ctx, fmt.Sprintf("sign in federated user of %q", u.UpstreamID), func(ctx context.Context, tx *sql.Tx) error {
		var err error
		got, err = scanUser(tx.QueryRowContext(ctx, `INSERT INTO users (`+userColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (username) DO UPDATE SET display_name = excluded.display_name, email = excluded.email,
				email_verified = excluded.email_verified
			RETURNING `+userColumns, userArgs(u)...))
		return err
	})
	if err != nil {
		return store.User{}, err
	}
	return got, nil
}

const passthroughColumns = `hash, client_id, user_id, upstream_id, created_at, expires_at`

// PassthroughToken returns the record with the given hash, or
// store.ErrNotFound.
func (s *Store) PassthroughToken(ctx context.Context, hash string) (store.PassthroughToken, error) {
	var (
		t                store.PassthroughToken
		created, expires sql.NullInt64
	)
	err := s.read(ctx, `SELECT `+passthroughColumns+` FROM passthrough_tokens WHERE hash = $1`, hash).
		Scan(&t.Hash, &t.ClientID, &t.UserID, &t.UpstreamID, &created, &expires)
	if err != nil {
		return store.PassthroughToken{}, fmt.Errorf("passthrough token: %w", notFound(err))
	}
	t.CreatedAt, t.ExpiresAt = goTime(created), goTime(expires)
	return t, nil
}

// ReplacePassthroughToken deletes oldHash and stores next in one
// transaction; store.ErrNotFound when oldHash is gone.
func (s *Store) ReplacePassthroughToken(ctx context.Context, oldHash string, next store.PassthroughToken) error {
	return s.inTx(ctx, "replace passthrough token", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM passthrough_tokens WHERE hash = $1`, oldHash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(err, store.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO passthrough_tokens (`+passthroughColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			next.Hash, next.ClientID, next.UserID, next.UpstreamID, dbTime(next.CreatedAt), dbTime(next.ExpiresAt))
		return err
	})
}

// DeletePassthroughToken deletes the record. Idempotent.
func (s *Store) DeletePassthroughToken(ctx context.Context, hash string) error {
	_, err := s.exec(ctx, "delete passthrough token", `DELETE FROM passthrough_tokens WHERE hash = $1`, hash)
	return err
}

// UseOnce records key as used: an insert, which a second use of the key
// finds taken (store.ErrAlreadyExists).
func (s *Store) UseOnce(ctx context.Context, key string, expiresAt time.Time) error {
	_, err := s.exec(ctx, "use once", `INSERT INTO used_once (id, expires_at) VALUES ($1, $2)`, key, dbTime(expiresAt))
	return err
}

// sealedColumns are where the store keeps sealed values: table, key column,
// value column, and the kind of value.
var sealedColumns = []struct{ table, key, value, kind string }{
	{"upstreams", "id", "client_secret", store.SealedUpstreamSecret},
	{"sessions", "id_hash", "upstream_tokens", store.SealedSessionTokens},
	{"device_grants", "device_code_hash", "upstream_tokens", store.SealedDeviceTokens},
}

// ResealAll replaces every sealed value with reseal's, in one transaction.
func (s *Store) ResealAll(ctx context.Context, reseal func(store.SealedValue) (string, error)) (int, error) {
	n := 0
	err := s.inTx(ctx, "reseal", func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		for _, c := range sealedColumns {
			rows, err := tx.QueryContext(ctx, `SELECT `+c.key+`, `+c.value+` FROM `+c.table+` WHERE `+c.value+` <> ''`)
			if err != nil {
				return err
			}
			var values []store.SealedValue
			for rows.Next() {
				v := store.SealedValue{Kind: c.kind}
				if err := rows.Scan(&v.Key, &v.Value); err != nil {
					rows.Close()
					return err
				}
				values = append(values, v)
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				return err
			}
			for _, v := range values {
				next, err := reseal(v)
				if err != nil {
					return fmt.Errorf("%s %q: %w", v.Kind, v.Key, err)
				}
				if _, err := tx.ExecContext(ctx, `UPDATE `+c.table+` SET `+c.value+` = $1 WHERE `+c.key+` = $2`, next, v.Key); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, err
}
