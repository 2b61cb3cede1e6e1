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
type Store struct {
	path   string // the SQLite file, or the PostgreSQL URL without password
	logger *slog.Logger
	d      *dialect
	w      *sql.DB // writes; SQLite: one connection whose transactions begin IMMEDIATE
	r      *sql.DB // reads; SQLite: query_only connections; PostgreSQL: w itself
	st     *statements
	// SQLite only: writer runs every write transaction, in batches (group
	// commit); ckpt copies the log it writes into the database file; polls
	// keeps device polls in memory; fsyncer, when the platform has one,
	// makes the writer's commits durable in logFiles, held open. All nil
	// on PostgreSQL.
	writer   *committer
	ckpt     *checkpointer
	polls    *pollBook
	fsyncer  fsyncer
	logFiles *logFiles
}

var _ store.Store = (*Store)(nil)

// dialect is what differs between SQLite and PostgreSQL. Everything else,
// the statements included, is shared.
type dialect struct {
	name string
	// forShare ends a SELECT whose rows a transaction must keep unchanged
	// until it ends. SQLite needs none: its write transactions run one at a
	// time.
	forShare string
	// uniqueViolation reports a primary key or unique constraint failure;
	// other constraint failures (NOT NULL, CHECK) are faults.
	uniqueViolation func(error) bool
	// retryable reports an error after which the whole transaction may be
	// run again: a serialisation failure or a deadlock (REL-09).
	retryable func(error) bool
	// serialize makes transactions that call it with the same name run one
	// after another (PostgreSQL: a transaction-level advisory lock).
	serialize func(ctx context.Context, tx *sql.Tx, name string) error
	// migrations is the schema history; ddl returns a migration's
	// statements in the dialect.
	migrations []migration
	ddl        func(migration) []string
}

// maxAttempts bounds how many times a transaction that failed with a
// retryable error is run (REL-09).
const maxAttempts = 4

// Path returns the database Open was given: the SQLite file name, or the
// PostgreSQL URL with its password removed.
func (s *Store) Path() string { return s.path }

// Ping reports whether the database answers on every connection pool, for
// readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.Health(); err != nil {
		return err
	}
	if s.writer != nil {
		if err := s.writer.troubled(); err != nil {
			return fmt.Errorf("%s writer: %w", s.d.name, err)
		}
	}
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s writer: %w", s.d.name, err)
	}
	if s.r == s.w {
		return nil
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s reader: %w", s.d.name, err)
	}
	return nil
}

// Health reports a fault the store cannot recover from while the process
// runs: on SQLite, a failed fsync (see doc.go), after which only a restart,
// and SQLite's recovery of the log, make it usable again. It is nil through
// every fault that heals by itself, such as a database that does not
// answer for a while, or a process out of file descriptors.
func (s *Store) Health() error {
	if s.writer != nil {
		if err := s.writer.failed(); err != nil {
			return fmt.Errorf("%s writer: %w", s.d.name, err)
		}
	}
	return nil
}

// Close writes SQLite's poll bookkeeping back to the database, waits for
// queued writes to commit, and closes the prepared statements and the
// connection pools.
func (s *Store) Close() error {
	var errs []error
	if s.polls != nil {
		if err := s.flushPolls(context.Background()); err != nil {
			errs = append(errs, fmt.Errorf("close: %w", err))
		}
	}
	if s.writer != nil {
		errs = append(errs, s.writer.close())
	}
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.close())
	}
	if s.fsyncer != nil {
		errs = append(errs, s.fsyncer.close())
	}
	if s.logFiles != nil {
		errs = append(errs, s.logFiles.Close())
	}
	errs = append(errs, s.st.close())
	if s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// inTx runs fn in a write transaction and commits it when fn returns nil,
// returning only once the commit is durable. A transaction that fails with
// a retryable error is run again, up to maxAttempts times, so fn must only
// assign what it computes. Errors are wrapped with op; a unique constraint
// failure becomes store.ErrAlreadyExists.
//
// fn must use the ctx it is given for its statements. On SQLite fn runs in
// the writer's batch (group commit, see committer.do): in a transaction
// shared with other callers' writes and inside a savepoint of its own, with
// a ctx that is never cancelled. When fn fails, its changes are rolled
// back and the others' stand.
func (s *Store) inTx(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, fn)
		if err == nil {
			return nil
		}
		if attempt < maxAttempts && s.d.retryable(err) && backOff(ctx, attempt) == nil {
			s.logger.DebugContext(ctx, "retrying transaction", "op", op, "attempt", attempt, "err", err)
			continue
		}
		if s.d.uniqueViolation(err) {
			err = store.ErrAlreadyExists
		}
		return fmt.Errorf("%s: %w", op, err)
	}
}

func (s *Store) tryTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if s.writer != nil {
		return s.writer.do(ctx, fn)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback() // the error that matters is fn's
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// exec runs one write statement: on SQLite as a write of the writer's
// batch, on PostgreSQL on its own (autocommit), again after a retryable
// error.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) (sql.Result, error) {
	if s.writer != nil {
		var res sql.Result
		err := s.inTx(ctx, op, func(ctx context.Context, tx *sql.Tx) (err error) {
			res, err = tx.ExecContext(ctx, query, args...)
			return err
		})
		return res, err
	}
	return s.autocommit(ctx, op, func() (sql.Result, error) { return s.w.ExecContext(ctx, query, args...) })
}

// execPrepared is exec for a statement prepared on the writer pool.
func (s *Store) execPrepared(ctx context.Context, op string, st *sql.Stmt, args ...any) (sql.Result, error) {
	if s.writer != nil {
		var res sql.Result
		err := s.inTx(ctx, op, func(ctx context.Context, tx *sql.Tx) (err error) {
			res, err = tx.StmtContext(ctx, st).ExecContext(ctx, args...)
			return err
		})
		return res, err
	}
	return s.autocommit(ctx, op, func() (sql.Result, error) { return st.ExecContext(ctx, args...) })
}

// autocommit runs one statement outside an explicit transaction, again
// after a retryable error.
func (s *Store) autocommit(ctx context.Context, op string, run func() (sql.Result, error)) (sql.Result, error) {
	for attempt := 1; ; attempt++ {
		res, err := run()
		switch {
		case err == nil:
			return res, nil
		case attempt < maxAttempts && s.d.retryable(err) && backOff(ctx, attempt) == nil:
			continue
		case s.d.uniqueViolation(err):
			return nil, fmt.Errorf("%s: %w", op, store.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
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

// backOff waits a little longer after each failed attempt, or until ctx
// ends.
func backOff(ctx context.Context, attempt int) error {
	t := time.NewTimer(time.Duration(attempt) * 5 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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

// Reads on the reader pool go through read, readRow or queryAll, which
// return only once every commit the read may have seen is durable: on
// SQLite a batch is visible from its COMMIT, before the committer's fsync
// (see doc.go), and no answer may reveal a write that a crash could still
// undo. On PostgreSQL a commit is durable when it is visible.

// settle waits until every commit a read that has just ended may have seen
// is durable.
func (s *Store) settle(ctx context.Context) error {
	if s.writer == nil {
		return nil
	}
	return s.writer.settle(ctx)
}

// settledRow is a row of the reader pool whose Scan settles.
type settledRow struct {
	ctx context.Context
	s   *Store
	row *sql.Row
}

func (r settledRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if serr := r.s.settle(r.ctx); serr != nil {
		return serr
	}
	return err
}

// read runs a query that returns at most one row on the reader pool.
func (s *Store) read(ctx context.Context, query string, args ...any) settledRow {
	return settledRow{ctx, s, s.r.QueryRowContext(ctx, query, args...)}
}

// readRow runs st, a statement prepared on the reader pool, for one row.
func (s *Store) readRow(ctx context.Context, st *sql.Stmt, args ...any) settledRow {
	return settledRow{ctx, s, st.QueryRowContext(ctx, args...)}
}

// queryAll runs a query on the reader pool and scans every row with scan.
func queryAll[T any](ctx context.Context, s *Store, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	all, err := scanAll(ctx, s.r, scan, query, args...)
	if serr := s.settle(ctx); serr != nil {
		return nil, serr
	}
	return all, err
}

func scanAll[T any](ctx context.Context, db *sql.DB, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
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
