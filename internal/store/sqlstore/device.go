package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// slowDownStep is how much each slow_down raises a grant's polling interval
// (RFC 8628 §3.5).
const slowDownStep = 5 * time.Second

const deviceColumns = `device_code_hash, user_code, client_id, scopes, state, user_id, auth_time,
	poll_interval_ns, last_polled_at, created_at, expires_at, decided_at`

const (
	selectDeviceByHash = `SELECT ` + deviceColumns + ` FROM device_grants WHERE device_code_hash = $1`
	insertDeviceGrant  = `INSERT INTO device_grants (` + deviceColumns + `)
		VALUES ($1, $2, $3, $4, 'pending', '', NULL, $5, NULL, $6, $7, NULL)`
	redeemDeviceGrant = `UPDATE device_grants SET state = 'issued'
		WHERE device_code_hash = $1 AND client_id = $2 AND state = 'approved' AND expires_at > $3`
)

// CreateDeviceGrant stores g in state pending, undecided and never polled;
// g's State, UserID, AuthTime, LastPolledAt and DecidedAt are ignored. It
// returns store.ErrAlreadyExists when the device code hash or the user code
// is in use, including by an expired grant not yet purged.
func (s *Store) CreateDeviceGrant(ctx context.Context, g store.DeviceGrant) error {
	_, err := s.execPrepared(ctx, fmt.Sprintf("create device grant for client %q", g.ClientID), s.st.insertDevice,
		g.DeviceCodeHash, g.UserCode, g.ClientID, dbList(g.Scopes), int64(g.Interval),
		dbTime(g.CreatedAt), dbTime(g.ExpiresAt))
	return err
}

// DeviceGrantByDeviceCode returns the grant with the given device code hash,
// or store.ErrNotFound. An expired grant is returned until it is purged.
func (s *Store) DeviceGrantByDeviceCode(ctx context.Context, deviceCodeHash string) (store.DeviceGrant, error) {
	g, err := scanDeviceGrant(s.st.deviceByHash.QueryRowContext(ctx, deviceCodeHash))
	if err != nil {
		return store.DeviceGrant{}, fmt.Errorf("device grant by device code: %w", err)
	}
	s.overlayPolls(&g)
	return g, nil
}

// DeviceGrantByUserCode returns the grant with the given normalised user
// code, or store.ErrNotFound. An expired grant is returned until it is
// purged.
func (s *Store) DeviceGrantByUserCode(ctx context.Context, userCode string) (store.DeviceGrant, error) {
	row := s.r.QueryRowContext(ctx,
		`SELECT `+deviceColumns+` FROM device_grants WHERE user_code = $1`, userCode)
	g, err := scanDeviceGrant(row)
	if err != nil {
		return store.DeviceGrant{}, fmt.Errorf("device grant by user code: %w", err)
	}
	s.overlayPolls(&g)
	return g, nil
}

// overlayPolls gives g the interval and last poll of SQLite's poll book,
// which are newer than its row's.
func (s *Store) overlayPolls(g *store.DeviceGrant) {
	if s.polls != nil {
		s.polls.overlay(g)
	}
}

// RecordDevicePoll records a poll at now and returns the grant as it was
// before it. When the previous poll was less than the interval before now it
// raises the interval by 5 seconds and reports slowDown; the first poll is
// never slow (RFC 8628 §3.5). Polls of one grant are serialised, so none is
// lost. The record is soft: it is not durable, and is lost in a crash, which
// is harmless (see doc.go).
//
// SQLite keeps it in memory (the Store's poll book): the grant is read on
// the reader pool, and the book's lock orders concurrent polls. PostgreSQL
// keeps it in the grant's row, so that every instance sees it: the read
// locks the row (SELECT … FOR UPDATE) and the update shares its
// transaction, which commits without waiting for the WAL flush
// (synchronous_commit = off).
func (s *Store) RecordDevicePoll(ctx context.Context, deviceCodeHash string, now time.Time) (store.DeviceGrant, bool, error) {
	if s.polls == nil {
		return s.recordPollInRow(ctx, deviceCodeHash, now)
	}
	g, err := scanDeviceGrant(s.st.deviceByHash.QueryRowContext(ctx, deviceCodeHash))
	if err != nil {
		return store.DeviceGrant{}, false, fmt.Errorf("record device poll: %w", err)
	}
	slowDown := s.polls.record(&g, now)
	return g, slowDown, nil
}

// recordPollInRow is RecordDevicePoll on PostgreSQL.
func (s *Store) recordPollInRow(ctx context.Context, deviceCodeHash string, now time.Time) (store.DeviceGrant, bool, error) {
	var (
		g        store.DeviceGrant
		slowDown bool
	)
	err := s.inTx(ctx, "record device poll", func(ctx context.Context, tx *sql.Tx) error {
		// Poll bookkeeping is soft: do not wait for the WAL flush.
		if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return err
		}
		var err error
		g, err = scanDeviceGrant(tx.StmtContext(ctx, s.st.deviceForUpdate).QueryRowContext(ctx, deviceCodeHash))
		if err != nil {
			return err
		}
		slowDown = false // set afresh if the transaction is run again
		interval := g.Interval
		if !g.LastPolledAt.IsZero() && now.Sub(g.LastPolledAt) < g.Interval {
			slowDown = true
			interval += slowDownStep
		}
		_, err = tx.StmtContext(ctx, s.st.recordPoll).ExecContext(ctx, int64(interval), dbTime(now), deviceCodeHash)
		return err
	})
	if err != nil {
		return store.DeviceGrant{}, false, err
	}
	return g, slowDown, nil
}

// DecideDeviceGrant moves a pending grant that has not expired at now to
// approved or denied, recording the user, the authentication time and now.
// It returns store.ErrNotFound for an unknown user code and store.ErrConflict
// when the grant is no longer pending or has expired. One conditional UPDATE
// decides, so exactly one of concurrent decisions wins.
func (s *Store) DecideDeviceGrant(ctx context.Context, userCode string, d store.Decision, now time.Time) (store.DeviceGrant, error) {
	state := store.DeviceDenied
	if d.Approve {
		state = store.DeviceApproved
	}
	var g store.DeviceGrant
	err := s.inTx(ctx, fmt.Sprintf("decide device grant (%s)", state), func(ctx context.Context, tx *sql.Tx) error {
		var err error
		g, err = scanDeviceGrant(tx.QueryRowContext(ctx,
			`UPDATE device_grants SET state = $1, user_id = $2, auth_time = $3, decided_at = $4
			WHERE user_code = $5 AND state = 'pending' AND expires_at > $6
			RETURNING `+deviceColumns,
			string(state), d.UserID, dbTime(d.AuthTime), dbTime(now), userCode, nanos(now)))
		if errors.Is(err, store.ErrNotFound) {
			return conflictOrNotFound(ctx, tx, `SELECT 1 FROM device_grants WHERE user_code = $1`, userCode)
		}
		return err
	})
	if err != nil {
		return store.DeviceGrant{}, err
	}
	s.overlayPolls(&g)
	return g, nil
}

// RedeemDeviceGrant moves an approved grant of clientID that has not expired
// at now to issued and stores the Grant g and rt, when not nil, in the same
// transaction. It succeeds for exactly one caller; others get
// store.ErrConflict, or store.ErrNotFound when the device code hash is
// unknown. If g or rt cannot be stored the device grant stays approved.
func (s *Store) RedeemDeviceGrant(ctx context.Context, deviceCodeHash, clientID string, now time.Time, g store.Grant, rt *store.RefreshToken) error {
	op := fmt.Sprintf("redeem device grant of client %q", clientID)
	return s.inTx(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.st.redeemDevice).ExecContext(ctx, deviceCodeHash, clientID, nanos(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return conflictOrNotFound(ctx, tx,
				`SELECT 1 FROM device_grants WHERE device_code_hash = $1`, deviceCodeHash)
		}
		return s.insertGrant(ctx, tx, g, rt)
	})
}

func scanDeviceGrant(row rowScanner) (store.DeviceGrant, error) {
	var (
		g                                           store.DeviceGrant
		scopes, state                               string
		interval                                    int64
		authTime, polled, created, expires, decided sql.NullInt64
	)
	err := row.Scan(&g.DeviceCodeHash, &g.UserCode, &g.ClientID, &scopes, &state, &g.UserID, &authTime,
		&interval, &polled, &created, &expires, &decided)
	if err != nil {
		return store.DeviceGrant{}, notFound(err)
	}
	if g.Scopes, err = goList(scopes); err != nil {
		return store.DeviceGrant{}, err
	}
	g.State = store.DeviceState(state)
	g.Interval = time.Duration(interval)
	g.AuthTime = goTime(authTime)
	g.LastPolledAt = goTime(polled)
	g.CreatedAt = goTime(created)
	g.ExpiresAt = goTime(expires)
	g.DecidedAt = goTime(decided)
	return g, nil
}
