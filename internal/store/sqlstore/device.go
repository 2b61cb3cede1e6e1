package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// slowDownStep is how much each slow_down raises a grant's polling interval.
const slowDownStep = store.SlowDownStep

const deviceColumns = `device_code_hash, user_code, client_id, scopes, state, user_id, auth_time,
	poll_interval_ns, last_polled_at, created_at, expires_at, decided_at`

// devicePollColumns are the columns a poll needs (scanDevicePoll).
const devicePollColumns = `client_id, state, poll_interval_ns, last_polled_at, expires_at`

const (
	selectDeviceByHash = `SELECT ` + deviceColumns + ` FROM device_grants WHERE device_code_hash = $1`
	selectDevicePoll   = `SELECT ` + devicePollColumns + ` FROM device_grants WHERE device_code_hash = $1`
	insertDeviceGrant  = `INSERT INTO device_grants (` + deviceColumns + `)
		VALUES ($1, $2, $3, $4, 'pending', '', NULL, $5, NULL, $6, $7, NULL)`
)

// updateDevicePoll records a poll of a grant: its interval and last poll.
const updateDevicePoll = `UPDATE device_grants SET poll_interval_ns = $1, last_polled_at = $2
	WHERE device_code_hash = $3`

// CreateDeviceGrant stores g in state pending, undecided and never polled;
// g's State, UserID, AuthTime, LastPolledAt and DecidedAt are ignored. It
// returns store.ErrAlreadyExists when the device code hash or the user code
// is in use, including by an expired grant not yet purged.
func (s *Store) CreateDeviceGrant(ctx context.Context, g store.DeviceGrant) error {
	_, err := s.execPrepared(ctx, fmt.Sprintf("create device grant for client %q", g.ClientID), s.st.insertDevice,
		g.DeviceCodeHash, g.UserCode, g.ClientID, dbList(g.Scopes), int64(g.Interval), dbTime(g.CreatedAt), dbTime(g.ExpiresAt))
	return err
}

// DeviceGrantByDeviceCode returns the grant with the given device code hash,
// or store.ErrNotFound. An expired grant is returned until it is purged.
func (s *Store) DeviceGrantByDeviceCode(ctx context.Context, deviceCodeHash string) (store.DeviceGrant, error) {
	g, err := scanDeviceGrant(s.readRow(ctx, s.st.deviceByHash, deviceCodeHash))
	if err != nil {
		return store.DeviceGrant{}, fmt.Errorf("device grant by device code: %w", err)
	}
	return g, nil
}

// DeviceGrantByUserCode returns the grant with the given normalised user
// code, or store.ErrNotFound. An expired grant is returned until it is
// purged.
func (s *Store) DeviceGrantByUserCode(ctx context.Context, userCode string) (store.DeviceGrant, error) {
	row := s.read(ctx,
		`SELECT `+deviceColumns+` FROM device_grants WHERE user_code = $1`, userCode)
	g, err := scanDeviceGrant(row)
	if err != nil {
		return store.DeviceGrant{}, fmt.Errorf("device grant by user code: %w", err)
	}
	return g, nil
}

// PollDeviceGrant finds the grant with the given device code hash, or
// store.ErrNotFound, and records a poll at now when the grant is
// clientID's; another client's poll is not recorded (DEV-16). When the
// previous poll was less than the interval before now it raises the
// interval by 5 seconds and reports SlowDown; the first poll is never slow
// (RFC 8628 §3.5). The record is kept in the grant's row, which the poll
// reads and updates in one write transaction (SQLite) or one statement
// (PostgreSQL), so concurrent polls of a grant are ordered and none is
// lost. The record is soft state (see doc.go).
func (s *Store) PollDeviceGrant(ctx context.Context, deviceCodeHash, clientID string, now time.Time) (store.PollResult, error) {
	g, slowDown, err := s.d.poll(ctx, s, deviceCodeHash, clientID, now)
	if err != nil {
		return store.PollResult{}, fmt.Errorf("poll device grant: %w", err)
	}
	p := store.PollResult{ClientID: g.ClientID, State: g.State, ExpiresAt: g.ExpiresAt, SlowDown: slowDown, Interval: g.Interval}
	if slowDown {
		p.Interval += slowDownStep
	}
	if g.ClientID != clientID {
		p.Interval = 0
	}
	return p, nil
}

// scanAlso is row, scanning extra columns after those its caller scans.
type scanAlso struct {
	row   rowScanner
	extra []any
}

func (s scanAlso) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra...)...) }

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
			`UPDATE device_grants SET state = $1, user_id = $2, auth_time = $3, decided_at = $4, upstream_tokens = $7
			WHERE user_code = $5 AND state = 'pending' AND expires_at > $6
			RETURNING `+deviceColumns,
			string(state), d.UserID, dbTime(d.AuthTime), dbTime(now), userCode, nanos(now), d.UpstreamTokens))
		if errors.Is(err, store.ErrNotFound) {
			return conflictOrNotFound(ctx, tx, `SELECT 1 FROM device_grants WHERE user_code = $1`, userCode)
		}
		return err
	})
	if err != nil {
		return store.DeviceGrant{}, err
	}
	return g, nil
}

// scanDevicePoll scans devicePollColumns into a grant that has only those
// fields.
func scanDevicePoll(row rowScanner) (store.DeviceGrant, error) {
	var (
		g               store.DeviceGrant
		state           string
		interval        int64
		polled, expires sql.NullInt64
	)
	if err := row.Scan(&g.ClientID, &state, &interval, &polled, &expires); err != nil {
		return store.DeviceGrant{}, notFound(err)
	}
	g.State = store.DeviceState(state)
	g.Interval = time.Duration(interval)
	g.LastPolledAt = goTime(polled)
	g.ExpiresAt = goTime(expires)
	return g, nil
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
