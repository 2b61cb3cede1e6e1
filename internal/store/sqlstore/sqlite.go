package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore/groupcommit"
)

// busyTimeoutMS is how long a connection waits for a lock another process
// holds before it gives up with SQLITE_BUSY (REL-08).
const busyTimeoutMS = 5000

// walAutocheckpointPages is SQLite's wal_autocheckpoint: the COMMIT that
// takes the write-ahead log past this many pages copies the log into the
// database file and fsyncs it (a PASSIVE checkpoint), after which the log
// is written again from its start. SQLite's default is 1,000 pages (4 MB);
// 10,000 (40 MB of log at most) makes checkpoints a tenth as frequent, each
// longer, which the commit that runs one waits for. Measured against 1,000
// in 5 interleaved A/B pairs (BENCHMARKS.md, "The SQLite write path, piece
// by piece"): at GOMAXPROCS=1, device authorizations 1.11× (1.08–1.75) and
// refreshes 1.13× (0.98–1.30); at GOMAXPROCS=2 rates within the noise, and
// the refresh p99 1.46× (1.38–1.82), the price of the longer checkpoints.
const walAutocheckpointPages = 10000

// sqliteDialect runs every write transaction with BEGIN IMMEDIATE on one
// connection, so it needs no row locks and sees no serialisation failures.
var sqliteDialect = &dialect{
	name:            "sqlite",
	uniqueViolation: sqliteUniqueViolation,
	lockGrant:       func(context.Context, *sql.Tx, string) error { return nil },
	serialize:       func(context.Context, *sql.Tx, string) error { return nil },
	pollQuery:       selectDevicePoll,
	poll:            sqlitePoll,
	dataVersion:     sqliteDataVersion,
	migrations:      migrations,
	ddl:             sqliteDDL,
}

// Open opens the SQLite database at path, creating the file if it is
// missing, and applies pending schema migrations. A nil logger discards
// logs.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w, err := openSQLitePool(ctx, sqliteDSN(path, false), 1)
	if err != nil {
		return nil, fmt.Errorf("open %s for writing: %w", path, err)
	}
	if _, err := migrateDB(ctx, w, sqliteDialect, logger.With("path", path)); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	r, err := openSQLitePool(ctx, sqliteDSN(path, true), max(4, runtime.NumCPU()))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	st, err := prepareStatements(ctx, r, w, sqliteDialect)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	run, err := newSQLiteRunner(ctx, w)
	if err != nil {
		st.close()
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Store{path: path, logger: logger, d: sqliteDialect, run: run, w: w, r: r, st: st}, nil
}

// sqliteRunner runs every write as a write of the group commit on the one
// writer connection (see package groupcommit).
type sqliteRunner struct{ writer *groupcommit.Writer }

func newSQLiteRunner(ctx context.Context, w *sql.DB) (sqliteRunner, error) {
	writer, err := groupcommit.New(ctx, w, groupcommit.Options{Fatal: sqliteFatal})
	if err != nil {
		return sqliteRunner{}, fmt.Errorf("start the writer: %w", err)
	}
	return sqliteRunner{writer}, nil
}

func (r sqliteRunner) tx(ctx context.Context, _ string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return r.writer.Do(ctx, fn)
}

func (r sqliteRunner) write(ctx context.Context, _ string, fn func(ctx context.Context, q queryer) error) error {
	return r.writer.Do(ctx, func(ctx context.Context, tx *sql.Tx) error { return fn(ctx, tx) })
}

// purge runs fn with each of its statements a write of the writer's
// batches, so that it waits its turn as any write does.
func (r sqliteRunner) purge(ctx context.Context, fn func(ctx context.Context, e execer) (int64, error)) (int64, error) {
	return fn(ctx, batched(r))
}

func (r sqliteRunner) health() error { return r.writer.Err() }

func (r sqliteRunner) close() error { return r.writer.Close() }

// batched is an execer that runs each statement as a write of writer.
type batched struct{ writer *groupcommit.Writer }

func (b batched) ExecContext(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	err = b.writer.Do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// sqliteFatal reports whether err, a COMMIT's, leaves it unknown what
// reached the disk: an I/O error, such as a failed fsync of the log. Linux
// may drop the pages it could not write and report the next fsync as a
// success, so the store fails for good (Store.Health) until a restart, and
// SQLite's recovery of the log, show what is there. Anything else (a lock
// held too long, a file that cannot be opened for want of descriptors, a
// full disk) rolled the transaction back whole, and the next one may
// succeed.
func sqliteFatal(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && fatalCode(se.Code())
}

// fatalCode reports whether an extended result code is an I/O error.
func fatalCode(code int) bool { return code&0xff == sqlite3.SQLITE_IOERR }

// sqlitePoll reads the grant and, when it is clientID's, records the poll
// in its row, in one write transaction: SQLite's writes run one at a time,
// so no poll of the grant comes between the read and the update.
func sqlitePoll(ctx context.Context, s *Store, deviceCodeHash, clientID string, now time.Time) (store.DeviceGrant, bool, error) {
	var (
		g        store.DeviceGrant
		slowDown bool
	)
	err := s.run.tx(ctx, "poll device grant", func(ctx context.Context, tx *sql.Tx) (err error) {
		g, err = scanDevicePoll(tx.StmtContext(ctx, s.st.poll).QueryRowContext(ctx, deviceCodeHash))
		if err != nil || g.ClientID != clientID {
			return err
		}
		slowDown = g.State == store.DevicePending && now.Before(g.ExpiresAt) && !g.LastPolledAt.IsZero() &&
			store.PollTooSoon(now.Sub(g.LastPolledAt), g.Interval)
		interval := g.Interval
		if slowDown {
			interval += slowDownStep
		}
		_, err = tx.ExecContext(ctx, updateDevicePoll, int64(interval), nanos(now), deviceCodeHash)
		return err
	})
	return g, slowDown, err
}

// sqliteDataVersion returns SQLite's data version in tx, a write
// transaction. Read on the writer's connection it changes exactly when
// another connection has committed; this Store's readers never write, so
// that means another process.
func sqliteDataVersion(ctx context.Context, tx *sql.Tx) (int64, error) {
	var v int64
	if err := tx.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read data version: %w", err)
	}
	return v, nil
}

// MigrateSQLite applies pending schema migrations to the SQLite database at
// path, creating the file if it is missing, and returns the schema version
// it is at. Open does the same; this is for the migrate sub-command.
func MigrateSQLite(ctx context.Context, path string, logger *slog.Logger) (int, error) {
	s, err := Open(ctx, path, logger)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	return schemaVersion(ctx, s.w)
}

// checkPath refuses names that would not give every connection of both pools
// the same file.
func checkPath(path string) error {
	switch {
	case path == "", path == ":memory:", strings.HasPrefix(path, "file:"):
		return fmt.Errorf("sqlite path %q: need a file name", path)
	case strings.ContainsRune(path, '?'):
		return fmt.Errorf("sqlite path %q: must not contain '?'", path)
	}
	return nil
}

// sqliteDSN returns the modernc.org/sqlite data source name for path.
// Pragmas are DSN parameters so that every connection a pool opens gets
// them. synchronous=FULL makes every COMMIT fsync the write-ahead log
// before it returns, and before readers can see it (REL-07). The readers
// never commit; FULL is for the checkpoint the last connection to close
// may run.
func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(ON)")
	} else {
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walAutocheckpointPages))
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// openSQLitePool opens a database/sql pool of at most n connections and
// checks that a connection can be made.
func openSQLitePool(ctx context.Context, dsn string, n int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// sqliteUniqueViolation reports whether err is a primary key or unique
// constraint failure.
func sqliteUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code()
	return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// sqliteDDL returns the statements SQLite runs for m.
func sqliteDDL(m migration) []string { return m.statements }
