package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// Store is a SQL-backed store.Store, on SQLite (Open) or PostgreSQL
// (OpenPostgres). It is safe for concurrent use.
//
// The verbs and their SQL are shared. What differs between the two
// databases is in two places, both filled in by sqlite.go or postgres.go:
// the dialect (error codes, locking clauses, the poll, the schema's types)
// and the runner (how a write transaction runs).
type Store struct {
	path   string // the SQLite file, or the PostgreSQL URL without password
	logger *slog.Logger
	d      *dialect
	run    runner
	w      *sql.DB // the writes' pool: SQLite's one connection; PostgreSQL's pool
	r      *sql.DB // the reads' pool: SQLite's query_only connections; PostgreSQL's pool again
	st     *statements
}

var _ store.Store = (*Store)(nil)

// runner is how a dialect runs writes.
type runner interface {
	// tx runs fn in a write transaction and commits it when fn returns
	// nil, returning only once the commit is durable. fn must use the ctx
	// it is given, and may be run more than once (PostgreSQL runs a
	// transaction again after a serialisation failure, REL-09), so it must
	// only assign what it computes. op names the transaction in logs.
	tx(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error
	// write runs fn, which makes one write statement on q, as tx would:
	// SQLite in the writer's batch, PostgreSQL in a transaction of the
	// statement's own (one round trip).
	write(ctx context.Context, op string, fn func(ctx context.Context, q queryer) error) error
	// purge runs fn, which deletes expired rows in short statements of
	// their own on e, and returns what fn returns; on PostgreSQL 0 and no
	// error, without running fn, while another instance purges.
	purge(ctx context.Context, fn func(ctx context.Context, e execer) (int64, error)) (int64, error)
	// health returns a fault only a restart mends, or nil.
	health() error
	// close stops taking writes, once those queued are answered.
	close() error
}

// queryer runs statements: a *sql.Tx, or a pool (autocommit).
type queryer interface {
	execer
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	// StmtContext returns st, prepared on the writes' pool, as it runs on
	// this queryer.
	StmtContext(ctx context.Context, st *sql.Stmt) *sql.Stmt
}

// execer runs a write statement.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// autocommit is a queryer that runs each statement on pool in a
// transaction of its own.
type autocommit struct{ *sql.DB }

// StmtContext returns st as it is: it was prepared on this pool.
func (autocommit) StmtContext(_ context.Context, st *sql.Stmt) *sql.Stmt { return st }

// dialect is what differs between SQLite and PostgreSQL besides how
// transactions run. Everything else, the statements included, is shared.
type dialect struct {
	name string
	// uniqueViolation reports a primary key or unique constraint failure;
	// other constraint failures (NOT NULL, CHECK) are faults.
	uniqueViolation func(error) bool
	// lockGrant keeps a grant's row, read in tx, unchanged until tx ends.
	lockGrant func(ctx context.Context, tx *sql.Tx, id string) error
	// forShare ends a query whose rows must stay unchanged until its
	// transaction ends ("" where write transactions run one at a time).
	forShare string
	// serialize makes transactions that call it with the same name run one
	// after another.
	serialize func(ctx context.Context, tx *sql.Tx, name string) error
	// pollQuery is prepared on the writes' pool as statements.poll, for
	// poll.
	pollQuery string
	// poll reads the grant with the given device code hash and, when it
	// is clientID's, records a poll at now (PollDeviceGrant); it returns
	// the grant's poll columns as they were before, and whether the poll
	// came too soon.
	poll func(ctx context.Context, s *Store, deviceCodeHash, clientID string, now time.Time) (store.DeviceGrant, bool, error)
	// dataVersion returns, in tx, a number that changes whenever another
	// process has committed to the database, or errors.ErrUnsupported.
	dataVersion func(ctx context.Context, tx *sql.Tx) (int64, error)
	// migrations is the schema history; ddl returns a migration's
	// statements in the dialect.
	migrations []migration
	ddl        func(migration) []string
}

// Path returns the database Open was given: the SQLite file name, or the
// PostgreSQL URL with its password removed.
func (s *Store) Path() string { return s.path }

// Ping reports whether the database answers on both pools, for readiness
// checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.Health(); err != nil {
		return err
	}
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s (writes): %w", s.d.name, err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s (reads): %w", s.d.name, err)
	}
	return nil
}

// Health reports a fault the store cannot recover from while the process
// runs: on SQLite, a commit whose fsync failed (see doc.go), after which
// only a restart, and SQLite's recovery of the log, make it usable again.
// It is nil through every fault that heals by itself, such as a database
// that does not answer for a while, or a process out of file descriptors.
func (s *Store) Health() error {
	if err := s.run.health(); err != nil {
		return fmt.Errorf("%s writer: %w", s.d.name, err)
	}
	return nil
}

// Close waits for queued writes to commit, then closes the prepared
// statements and the pools (PostgreSQL's one pool is both; closing it
// again is a no-op).
func (s *Store) Close() error {
	return errors.Join(s.run.close(), s.st.close(), s.r.Close(), s.w.Close())
}

// inTx runs fn in a write transaction (runner.tx). Errors are wrapped with
// op; a unique constraint failure becomes store.ErrAlreadyExists.
func (s *Store) inTx(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.failed(op, s.run.tx(ctx, op, fn))
}

// write runs fn, one write statement, as runner.write does, with inTx's
// errors.
func (s *Store) write(ctx context.Context, op string, fn func(ctx context.Context, q queryer) error) error {
	return s.failed(op, s.run.write(ctx, op, fn))
}

// failed wraps a write's err with op, unless it is nil; a unique
// constraint failure becomes store.ErrAlreadyExists.
func (s *Store) failed(op string, err error) error {
	if err == nil {
		return nil
	}
	if s.d.uniqueViolation(err) {
		err = store.ErrAlreadyExists
	}
	return fmt.Errorf("%s: %w", op, err)
}

// exec runs one write statement.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := s.write(ctx, op, func(ctx context.Context, q queryer) (err error) {
		res, err = q.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// execPrepared is exec for a statement prepared on the writes' pool.
func (s *Store) execPrepared(ctx context.Context, op string, st *sql.Stmt, args ...any) (sql.Result, error) {
	var res sql.Result
	err := s.write(ctx, op, func(ctx context.Context, q queryer) (err error) {
		res, err = q.StmtContext(ctx, st).ExecContext(ctx, args...)
		return err
	})
	return res, err
}

// execOne runs one write statement and returns store.ErrNotFound when it
// changed no row.
func (s *Store) execOne(ctx context.Context, op, query string, args ...any) error {
	res, err := s.exec(ctx, op, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	return nil
}

// notFound maps sql.ErrNoRows to store.ErrNotFound and leaves other errors
// as they are.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// conflictOrNotFound explains why a conditional change matched no row: it
// returns store.ErrConflict when query (a lookup by key) finds the row and
// store.ErrNotFound when it does not.
func conflictOrNotFound(ctx context.Context, tx *sql.Tx, query string, key string) error {
	var one int
	err := tx.QueryRowContext(ctx, query, key).Scan(&one)
	switch {
	case err == nil:
		return store.ErrConflict
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	}
	return err
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// Reads run on the reads' pool. On SQLite a commit is visible only once it
// is durable (synchronous=FULL: the log is fsynced before the commit is
// published to readers), and on PostgreSQL once it has committed, so a
// read never reveals a write that a crash could undo.

// read runs a query that returns at most one row on the reads' pool.
func (s *Store) read(ctx context.Context, query string, args ...any) *sql.Row {
	return s.r.QueryRowContext(ctx, query, args...)
}

// readRow runs st, a statement prepared on the reads' pool, for one row.
func (s *Store) readRow(ctx context.Context, st *sql.Stmt, args ...any) *sql.Row {
	return st.QueryRowContext(ctx, args...)
}

// queryAll runs a query on the reads' pool and scans every row with scan.
func queryAll[T any](ctx context.Context, s *Store, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	return all, rows.Err()
}

// dbTime encodes t as Unix nanoseconds, or NULL for the zero time. Times
// outside the int64 range (before 1678, after 2262) are clamped, which keeps
// their order against any real clock reading.
func dbTime(t time.Time) any {
	switch {
	case t.IsZero():
		return nil
	case t.Before(time.Unix(0, math.MinInt64)):
		return int64(math.MinInt64)
	case t.After(time.Unix(0, math.MaxInt64)):
		return int64(math.MaxInt64)
	}
	return t.UnixNano()
}

// nanos encodes now for comparisons against stored times.
func nanos(t time.Time) int64 {
	n, _ := dbTime(t).(int64) // a zero now compares as 0 (1970), harmlessly
	return n
}

// goTime decodes a stored time in UTC; NULL is the zero time.
func goTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
