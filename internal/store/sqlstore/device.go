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

// devicePollColumns are the columns a poll needs (scanDevicePoll), those of
// an approved grant's token set included.
const devicePollColumns = `client_id, state, poll_interval_ns, last_polled_at, expires_at, user_id, scopes, auth_time`

const (
	selectDeviceByHash = `SELECT ` + deviceColumns + ` FROM device_grants WHERE device_code_hash = $1`
	selectDevicePoll   = `SELECT ` + devicePollColumns + ` FROM device_grants WHERE device_code_hash = $1`
	insertDeviceGrant  = `INSERT INTO device_grants (` + deviceColumns + `)
		VALUES ($1, $2, $3, $4, 'pending', '', NULL, $5, NULL, $6, $7, NULL)`
	redeemDeviceGrant = `UPDATE device_grants SET state = 'issued'
		WHERE device_code_hash = $1 AND client_id = $2 AND state = 'approved' AND expires_at > $3
		RETURNING user_id`
)

// CreateDeviceGrant stores g in state pending, undecided and never polled;
// g's State, UserID, AuthTime, LastPolledAt and DecidedAt are ignored. It
// returns store.ErrAlreadyExists when the device code hash or the user code
// is in use, including by an expired grant not yet purged.
//
// On SQLite the poll book then knows the grant pending, so that its first
// polls need not read it; when a check for other writers is due, the
// insert's transaction runs it too (see checkOtherWriters).
func (s *Store) CreateDeviceGrant(ctx context.Context, g store.DeviceGrant) error {
	op := fmt.Sprintf("create device grant for client %q", g.ClientID)
	args := []any{g.DeviceCodeHash, g.UserCode, g.ClientID, dbList(g.Scopes), int64(g.Interval),
		dbTime(g.CreatedAt), dbTime(g.ExpiresAt)}
	if s.polls == nil {
		_, err := s.execPrepared(ctx, op, s.st.insertDevice, args...)
		return err
	}
	check := s.polls.checkDue(g.CreatedAt)
	seen := s.polls.generation()
	version, checkErr := int64(0), errNotChecked
	err := s.inTx(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		if check {
			version, checkErr = dataVersion(ctx, tx)
		}
		_, err := tx.StmtContext(ctx, s.st.insertDevice).ExecContext(ctx, args...)
		return err
	})
	if check {
		s.polls.checked(g.CreatedAt, version, checkErr)
	}
	if err == nil {
		s.polls.created(g, seen)
	}
	return err
}

// DeviceGrantByDeviceCode returns the grant with the given device code hash,
// or store.ErrNotFound. An expired grant is returned until it is purged.
func (s *Store) DeviceGrantByDeviceCode(ctx context.Context, deviceCodeHash string) (store.DeviceGrant, error) {
	g, err := scanDeviceGrant(s.readRow(ctx, s.st.deviceByHash, deviceCodeHash))
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
	row := s.read(ctx,
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

// PollDeviceGrant finds the grant with the given device code hash, or
// store.ErrNotFound, and records a poll at now when the grant is
// clientID's; another client's poll is not recorded (DEV-16). When the
// previous poll was less than the interval before now it raises the
// interval by 5 seconds and reports SlowDown; the first poll is never slow
// (RFC 8628 §3.5). Polls of one grant are serialised, so none is lost. The
// record is soft: it is not durable, and is lost in a crash, which is
// harmless (see doc.go).
//
// SQLite keeps the record in memory (the Store's poll book), whose lock
// orders concurrent polls. A poll of a grant that the book knows to be
// pending is answered from the book alone (pollPending). Otherwise the
// grant's poll columns are read on the reader pool, and the book knows a
// pending grant for the polls to come. PostgreSQL keeps the record in the
// grant's row, so that every instance sees it, and reads and updates the
// row in one statement (pollInRow).
func (s *Store) PollDeviceGrant(ctx context.Context, deviceCodeHash, clientID string, now time.Time) (store.PollResult, error) {
	var (
		g        store.DeviceGrant
		slowDown bool
		err      error
	)
	if s.polls == nil {
		g, slowDown, err = s.queryPollInRow(ctx, deviceCodeHash, clientID, now)
	} else {
		p, known, check := s.polls.pollPending(deviceCodeHash, clientID, now)
		if known {
			return p, nil
		}
		if check {
			s.checkOtherWriters(ctx, now)
		}
		seen := s.polls.generation()
		g, err = s.readPoll(ctx, deviceCodeHash)
		if err == nil && g.ClientID == clientID {
			g.DeviceCodeHash = deviceCodeHash
			slowDown = s.polls.recordRead(&g, now, seen)
		}
	}
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
	if g.State == store.DeviceApproved {
		p.UserID, p.Scopes, p.AuthTime = g.UserID, g.Scopes, g.AuthTime
	}
	return p, nil
}

// readPoll reads a grant's poll columns on SQLite's reader pool. Like every
// read there it settles, unless the grant is pending or approved: a pending
// grant tells the device nothing a crash could undo, and an approved one is
// answered only by a redemption, a write, which is answered after its own
// fsync, and the log is fsynced in commit order, so that fsync makes the
// approval durable first. Sparing the wait spares a redemption the fsync
// in flight on top of its own.
func (s *Store) readPoll(ctx context.Context, deviceCodeHash string) (store.DeviceGrant, error) {
	g, err := scanDevicePoll(s.st.devicePoll.QueryRowContext(ctx, deviceCodeHash))
	seen := s.writer.seq.Load()
	if err := s.writer.failed(); err != nil {
		return store.DeviceGrant{}, err
	}
	if err == nil && (g.State == store.DevicePending || g.State == store.DeviceApproved) {
		return g, nil
	}
	if serr := s.writer.settleTo(ctx, seen); serr != nil {
		return store.DeviceGrant{}, serr
	}
	return g, err
}

// checkOtherWriters lets the poll book know whether a process other than
// this one has written to the SQLite file since the last check, in which
// case it may have decided a grant the book knows pending (see
// dataVersion). The check is a write transaction with no writes: it takes
// a turn of the writer but commits nothing to disk.
func (s *Store) checkOtherWriters(ctx context.Context, now time.Time) {
	var version int64
	err := s.inTx(ctx, "check for other writers", func(ctx context.Context, tx *sql.Tx) (err error) {
		version, err = dataVersion(ctx, tx)
		return err
	})
	if err != nil {
		s.logger.WarnContext(ctx, "cannot check for other writers; polls read their grants", "err", err)
	}
	s.polls.checked(now, version, err)
}

// errNotChecked stands for the data version of a check whose transaction
// did not run.
var errNotChecked = errors.New("data version not read")

// dataVersion returns SQLite's data version in tx, a write transaction.
// Read on the writer's connection it changes exactly when another
// connection has committed; this Store's readers never write, so that means
// another process.
func dataVersion(ctx context.Context, tx *sql.Tx) (int64, error) {
	var v int64
	if err := tx.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read data version: %w", err)
	}
	return v, nil
}

// pollInRow is PostgreSQL's poll of a device grant, where the poll record
// lives in the grant's row so that every instance sees it, as one statement
// and so one round trip. It locks the grant's row (FOR UPDATE), returns its
// poll columns as they were before the poll and whether the poll came too
// soon, and records the poll if $2 names the grant's client: the last poll
// is $3, and the interval grows by $4 when the poll came sooner than the
// interval after the one before (RFC 8628 §3.5). Concurrent polls of a
// grant queue on the row lock, and at READ COMMITTED each then reads and
// updates the row as the one before left it, so none is lost. The
// transaction commits without waiting for the WAL flush (set_config:
// synchronous_commit off for the transaction), as poll bookkeeping is soft.
const pollInRow = `WITH old AS (SELECT ` + devicePollColumns + ` FROM device_grants WHERE device_code_hash = $1 FOR UPDATE),
	poll AS (UPDATE device_grants g SET last_polled_at = $3::bigint,
			poll_interval_ns = old.poll_interval_ns + CASE WHEN ` + pollTooSoon + ` THEN $4::bigint ELSE 0 END
		FROM old WHERE g.device_code_hash = $1 AND old.client_id = $2::text)
	SELECT ` + devicePollColumns + `, ` + pollTooSoon + `, set_config('synchronous_commit', 'off', true) FROM old`

// pollTooSoon is true when the grant is pending and unexpired and the poll
// at $3 comes too soon after the last one: store.PollTooSoon in SQL, with
// its tolerance of a second or a fifth of the interval.
const pollTooSoon = `old.state = 'pending' AND old.expires_at > $3::bigint AND old.last_polled_at IS NOT NULL AND
	$3::bigint - old.last_polled_at < old.poll_interval_ns - LEAST(1000000000, old.poll_interval_ns / 5)`

// queryPollInRow runs pollInRow for a poll at now by clientID, and reports
// slow_down only for a poll it recorded.
func (s *Store) queryPollInRow(ctx context.Context, deviceCodeHash, clientID string, now time.Time) (store.DeviceGrant, bool, error) {
	var (
		tooSoon    bool
		syncCommit string
	)
	row := s.st.pollInRow.QueryRowContext(ctx, deviceCodeHash, clientID, nanos(now), int64(slowDownStep))
	g, err := scanDevicePoll(scanAlso{row, []any{&tooSoon, &syncCommit}})
	if err != nil {
		return store.DeviceGrant{}, false, err
	}
	return g, tooSoon && g.ClientID == clientID, nil
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
	if s.polls != nil {
		s.polls.decided(g.DeviceCodeHash)
	}
	s.overlayPolls(&g)
	return g, nil
}

// RedeemDeviceGrant moves an approved grant of clientID that has not expired
// at now to issued and stores the Grant g and rt, when not nil, in the same
// transaction. It succeeds for exactly one caller; others get
// store.ErrConflict, or store.ErrNotFound when the device code hash is
// unknown. If g or rt cannot be stored the device grant stays approved, as
// it does when the approving user is gone or disabled (store.ErrUserInactive):
// the user is read in the redemption's transaction, after the UPDATE that
// claims the grant, so a redemption costs no read of its own and a lost race
// reads no user.
func (s *Store) RedeemDeviceGrant(ctx context.Context, deviceCodeHash, clientID string, now time.Time, g store.Grant, rt *store.RefreshToken) error {
	op := fmt.Sprintf("redeem device grant of client %q", clientID)
	return s.inTx(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		var userID string
		err := tx.StmtContext(ctx, s.st.redeemDevice).QueryRowContext(ctx, deviceCodeHash, clientID, nanos(now)).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return conflictOrNotFound(ctx, tx,
				`SELECT 1 FROM device_grants WHERE device_code_hash = $1`, deviceCodeHash)
		}
		if err != nil {
			return err
		}
		if g.UserID != userID {
			return fmt.Errorf("grant %q names user %q, the device grant user %q", g.ID, g.UserID, userID)
		}
		// Returning an error rolls the redemption back: the grant stays
		// approved.
		if err := s.checkUserInTx(ctx, tx, userID); err != nil {
			return err
		}
		return s.insertGrant(ctx, tx, g, rt)
	})
}

// checkUserInTx returns store.ErrUserInactive unless the user id exists
// and is enabled, read in tx.
func (s *Store) checkUserInTx(ctx context.Context, tx *sql.Tx, id string) error {
	u, err := scanUser(tx.StmtContext(ctx, s.st.userInTx).QueryRowContext(ctx, id))
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && u.Disabled:
		return store.ErrUserInactive
	case err != nil:
		return fmt.Errorf("load user %q: %w", id, err)
	}
	return nil
}

// scanDevicePoll scans devicePollColumns into a grant that has only those
// fields.
func scanDevicePoll(row rowScanner) (store.DeviceGrant, error) {
	var (
		g                         store.DeviceGrant
		state, scopes             string
		interval                  int64
		polled, expires, authTime sql.NullInt64
	)
	err := row.Scan(&g.ClientID, &state, &interval, &polled, &expires, &g.UserID, &scopes, &authTime)
	if err != nil {
		return store.DeviceGrant{}, notFound(err)
	}
	if g.Scopes, err = goList(scopes); err != nil {
		return store.DeviceGrant{}, err
	}
	g.AuthTime = goTime(authTime)
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
