package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// The three redemptions (store/redeem.go) run alike, in one transaction:
// claim the record with a conditional UPDATE (exactly one of concurrent
// claims matches its row), or explain why it matched none (lost); re-check
// the user and the client and ask the caller what to issue (issueFor); check
// and store that (insertIssuance). Any error rolls the whole back.

const (
	// redeemDeviceGrant claims an approved, unexpired grant; the sealed
	// upstream tokens it returns are cleared by clearDeviceTokens.
	redeemDeviceGrant = `UPDATE device_grants SET state = 'issued'
		WHERE device_code_hash = $1 AND client_id = $2 AND state = 'approved' AND expires_at > $3
		RETURNING ` + deviceColumns + `, upstream_tokens`
	clearDeviceTokens = `UPDATE device_grants SET upstream_tokens = '' WHERE device_code_hash = $1`

	redeemCode = `UPDATE authorization_codes SET redeemed_at = $2
		WHERE hash = $1 AND client_id = $3 AND redeemed_at IS NULL AND expires_at > $2
		RETURNING ` + codeColumns
	setCodeGrant = `UPDATE authorization_codes SET grant_id = $2 WHERE hash = $1`
)

var (
	// selectRefreshInTx reads a generation with its grant's kind, last use
	// and revocation.
	selectRefreshInTx = `SELECT ` + qualified("r", refreshColumns) + `, COALESCE(g.kind, ''), g.last_used_at, g.revoked_at
		FROM refresh_tokens r LEFT JOIN grants g ON g.id = r.family_id WHERE r.hash = $1`
	// selectParties reads a redemption's user and, in the same statement,
	// whether its client is disabled; no row when either is gone. It is
	// prepared with the dialect's forShare.
	selectParties = `SELECT ` + qualified("u", userColumns) + `, c.disabled
		FROM users u JOIN clients c ON c.id = $2 WHERE u.id = $1`
)

// RedeemDeviceGrant claims an approved grant of clientID that has not
// expired at now, clears its sealed upstream tokens, and stores what issue
// returns for the grant as it was, in one transaction.
func (s *Store) RedeemDeviceGrant(ctx context.Context, deviceCodeHash, clientID string, now time.Time,
	issue store.IssueFunc[store.DeviceGrant]) (store.DeviceGrant, error) {
	var g store.DeviceGrant
	err := s.inTx(ctx, fmt.Sprintf("redeem device grant of client %q", clientID), func(ctx context.Context, tx *sql.Tx) error {
		var tokens string
		var err error
		g, err = scanDeviceGrant(scanAlso{tx.StmtContext(ctx, s.st.redeemDevice).QueryRowContext(ctx,
			deviceCodeHash, clientID, nanos(now)), []any{&tokens}})
		if errors.Is(err, store.ErrNotFound) {
			g, err = lost(scanDeviceGrant(tx.QueryRowContext(ctx, selectDeviceByHash, deviceCodeHash)))
			return ownedBy(g.ClientID, clientID, err)
		}
		if err != nil {
			return err
		}
		g.State = store.DeviceApproved // as it was before the claim
		if g.UpstreamTokens = tokens; tokens != "" {
			if _, err := tx.ExecContext(ctx, clearDeviceTokens, deviceCodeHash); err != nil {
				return err
			}
		}
		iss, err := s.issueFor(ctx, tx, g.UserID, clientID, func(u store.User) (store.Issuance, error) { return issue(g, u) })
		if err != nil {
			return err
		}
		if err := store.CheckNewGrant(clientID, g.UserID, iss); err != nil {
			return err
		}
		return s.insertIssuance(ctx, tx, iss)
	})
	return recordWith(g, err)
}

// RedeemAuthorizationCode claims an unredeemed code of clientID that has not
// expired at now and stores what issue returns, recording its grant on the
// code, in one transaction.
func (s *Store) RedeemAuthorizationCode(ctx context.Context, hash, clientID string, now time.Time,
	issue store.IssueFunc[store.AuthorizationCode]) (store.AuthorizationCode, error) {
	var c store.AuthorizationCode
	err := s.inTx(ctx, fmt.Sprintf("redeem authorization code of client %q", clientID), func(ctx context.Context, tx *sql.Tx) error {
		var err error
		c, err = scanCode(tx.QueryRowContext(ctx, redeemCode, hash, nanos(now), clientID))
		if errors.Is(err, store.ErrNotFound) {
			// Lost, or never there: read the code as the winner left it.
			c, err = lost(scanCode(tx.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM authorization_codes WHERE hash = $1`, hash)))
			return ownedBy(c.ClientID, clientID, err)
		}
		if err != nil {
			return err
		}
		read := c
		read.RedeemedAt = time.Time{} // as it was before the claim
		iss, err := s.issueFor(ctx, tx, c.UserID, clientID, func(u store.User) (store.Issuance, error) { return issue(read, u) })
		if err != nil {
			return err
		}
		if err := store.CheckCodeGrant(clientID, c.UserID, iss); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, setCodeGrant, hash, iss.Grant.ID); err != nil {
			return err
		}
		c.GrantID = iss.Grant.ID
		return s.insertIssuance(ctx, tx, iss)
	})
	return recordWith(c, err)
}

// RotateRefreshToken reads the generation oldHash of clientID, asks issue for
// its successor, marks it rotated at now in the successor's favour, stores
// the successor and records the grant's use, in one transaction. Reading
// inside the transaction costs a refresh no read of its own: on SQLite the
// writer's connection has the pages cached, where a reader's cache is
// dropped at every commit.
//
// On PostgreSQL the grant's row is locked (FOR SHARE) before the mark, so
// that a concurrent RevokeGrant either finishes before the UPDATE reads the
// grant or starts after this commits and then revokes the successor too: a
// revoked grant never keeps a live successor. A concurrent rotation that
// commits between the read and the mark leaves the mark no row; the
// generation is then read again, as that rotation left it.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, clientID string, now time.Time,
	issue store.IssueFunc[store.RefreshToken]) (store.RefreshToken, error) {
	var old store.RefreshToken
	err := s.inTx(ctx, "rotate refresh token", func(ctx context.Context, tx *sql.Tx) error {
		var lastUsed, grantRevoked sql.NullInt64
		var err error
		old, err = scanRefreshTokenAlso(tx.StmtContext(ctx, s.st.refreshInTx).QueryRowContext(ctx, oldHash),
			&lastUsed, &grantRevoked)
		if err != nil {
			return err
		}
		if err := ownedBy(old.ClientID, clientID, nil); err != nil {
			return err
		}
		if !old.Active(now) || grantRevoked.Valid {
			return store.ErrConflict
		}
		iss, err := s.issueFor(ctx, tx, old.UserID, clientID, func(u store.User) (store.Issuance, error) { return issue(old, u) })
		if err != nil {
			return err
		}
		if err := store.CheckSuccessor(old, iss); err != nil {
			return err
		}
		err = s.rotate(ctx, tx, old, *iss.RefreshToken, now)
		if errors.Is(err, store.ErrConflict) {
			old, err = lost(scanRefreshToken(tx.QueryRowContext(ctx, selectRefresh+` WHERE r.hash = $1`, oldHash)))
			return err
		}
		if err != nil {
			return err
		}
		return recordUse(ctx, tx, old, goTime(lastUsed), now)
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.RefreshToken{}, err
	}
	return old, err
}

// issueFor re-checks, in tx, the user userID and the client clientID a
// redemption issues to, and asks f what to issue for the user. Where the
// dialect locks the rows it reads (PostgreSQL's FOR SHARE), a concurrent
// DeleteUser, DeleteClient or disabling of either finishes first and is seen
// here, or waits until this redemption commits and then ends what it
// issued.
func (s *Store) issueFor(ctx context.Context, tx *sql.Tx, userID, clientID string,
	f func(store.User) (store.Issuance, error)) (store.Issuance, error) {
	var clientDisabled bool
	u, err := scanUser(scanAlso{tx.StmtContext(ctx, s.st.partiesInTx).QueryRowContext(ctx, userID, clientID),
		[]any{&clientDisabled}})
	switch {
	case errors.Is(err, store.ErrNotFound):
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = $1`, userID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.Issuance{}, store.ErrUserInactive
		}
		return store.Issuance{}, errors.Join(err, store.ErrClientInactive)
	case err != nil:
		return store.Issuance{}, fmt.Errorf("load user %q and client %q: %w", userID, clientID, err)
	case u.Disabled:
		return store.Issuance{}, store.ErrUserInactive
	case clientDisabled:
		return store.Issuance{}, store.ErrClientInactive
	}
	return f(u)
}

// insertIssuance stores what a redemption issues, its checks passed.
func (s *Store) insertIssuance(ctx context.Context, tx *sql.Tx, iss store.Issuance) error {
	if g := iss.Grant; g != nil {
		_, err := tx.StmtContext(ctx, s.st.insertGrant).ExecContext(ctx,
			g.ID, g.ClientID, g.UserID, dbList(g.Scopes), g.Kind, dbTime(g.CreatedAt), dbTime(g.ExpiresAt),
			dbTime(g.RevokedAt), dbTime(g.LastUsedAt))
		if err != nil {
			return err
		}
	}
	if rt := iss.RefreshToken; rt != nil {
		if _, err := tx.StmtContext(ctx, s.st.insertRefresh).ExecContext(ctx, refreshTokenArgs(*rt)...); err != nil {
			return err
		}
	}
	if p := iss.Passthrough; p != nil {
		_, err := tx.ExecContext(ctx, `INSERT INTO passthrough_tokens (hash, client_id, user_id, upstream_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, p.Hash, p.ClientID, p.UserID, p.UpstreamID, dbTime(p.CreatedAt), dbTime(p.ExpiresAt))
		if err != nil {
			return err
		}
	}
	return nil
}

// lost turns the read of a record whose claim matched no row into the
// redemption's answer: store.ErrConflict with the record as it stands, or
// the read's error (store.ErrNotFound for none).
func lost[T any](rec T, err error) (T, error) {
	if err != nil {
		return rec, err
	}
	return rec, store.ErrConflict
}

// ownedBy passes err on for a record of clientID; another client's record
// is as none (store.ErrNotFound), and is left unchanged.
func ownedBy(owner, clientID string, err error) error {
	if owner != clientID && !errors.Is(err, store.ErrNotFound) {
		return store.ErrNotFound
	}
	return err
}

// recordWith is a redemption's result: rec with success and with
// store.ErrConflict, the zero record with any other error.
func recordWith[T any](rec T, err error) (T, error) {
	if err != nil && !errors.Is(err, store.ErrConflict) {
		var zero T
		return zero, err
	}
	return rec, err
}
