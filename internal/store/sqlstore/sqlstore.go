package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/grantd/grantd/internal/store"
)

// busyTimeoutMS is how long a connection waits for a lock another process
// holds before it gives up with SQLITE_BUSY (REL-08).
const busyTimeoutMS = 5000

// Store is a SQLite-backed store.Store. It is safe for concurrent use.
type Store struct {
	path   string
	logger *slog.Logger
	w      *sql.DB // one connection; transactions begin IMMEDIATE
	r      *sql.DB // several query_only connections
}

var _ store.Store = (*Store)(nil)

// Open opens the SQLite database at path, creating the file if it is missing,
// and applies pending schema migrations. A nil logger discards logs.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w, err := openPool(ctx, dsn(path, false), 1)
	if err != nil {
		return nil, fmt.Errorf("open %s for writing: %w", path, err)
	}
	s := &Store{path: path, logger: logger, w: w}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	s.r, err = openPool(ctx, dsn(path, true), max(4, runtime.NumCPU()))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	return s, nil
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

// dsn returns the modernc.org/sqlite data source name for path. Pragmas are
// DSN parameters so that every connection a pool opens gets them.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(ON)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// openPool opens a database/sql pool of at most n connections and checks
// that a connection can be made.
func openPool(ctx context.Context, dsn string, n int) (*sql.DB, error) {
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

// Path returns the database file name Open was given.
func (s *Store) Path() string { return s.path }

// Ping reports whether both connection pools answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping writer: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping reader: %w", err)
	}
	return nil
}

// Close closes both connection pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it when
// fn returns nil. Errors are wrapped with op; a unique constraint failure
// becomes store.ErrAlreadyExists.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // the error that matters is fn's
		if isUniqueViolation(err) {
			err = store.ErrAlreadyExists
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", op, err)
	}
	return nil
}

// exec runs one write statement outside an explicit transaction.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) (sql.Result, error) {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		if isUniqueViolation(err) {
			return nil, fmt.Errorf("%s: %w", op, store.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return res, nil
}

// isUniqueViolation reports whether err is a primary key or unique
// constraint failure. Other constraint failures (NOT NULL, CHECK) are faults.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code()
	return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// notFound maps sql.ErrNoRows to store.ErrNotFound and leaves other errors
// as they are.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
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

// dbList encodes a list as a JSON array; an empty list is "[]".
func dbList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// goList decodes a JSON array; an empty array is nil.
func goList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}
