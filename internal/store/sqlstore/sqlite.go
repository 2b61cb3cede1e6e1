package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os/exec"
	"runtime"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyTimeoutMS is how long a connection waits for a lock another process
// holds before it gives up with SQLITE_BUSY (REL-08).
const busyTimeoutMS = 5000

// sqliteDialect runs every write transaction with BEGIN IMMEDIATE on one
// connection, so it needs no row locks and sees no serialisation failures.
var sqliteDialect = &dialect{
	name:            "sqlite",
	uniqueViolation: sqliteUniqueViolation,
	retryable:       func(error) bool { return false },
	serialize:       func(context.Context, *sql.Tx, string) error { return nil },
	migrations:      migrations,
	ddl:             sqliteDDL,
}

// Open opens the SQLite database at path, creating the file if it is missing,
// and applies pending schema migrations. A nil logger discards logs.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	return OpenWith(ctx, path, logger, Options{})
}

// Options are OpenWith's optional settings.
type Options struct {
	// Copier, when set, returns the command of a process that copies the
	// write-ahead log into the database file for the checkpointer: one
	// that calls ServeCopies on path with its standard input and output,
	// which the store connects. Unset, or should the command not start,
	// exit or stop answering, the store copies in its own process (see
	// doc.go, "the copy in a process of its own").
	Copier func(path string) (*exec.Cmd, error)
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, path string, logger *slog.Logger, o Options) (*Store, error) {
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
	s := &Store{path: path, logger: logger, d: sqliteDialect, w: w}
	if _, err := migrateDB(ctx, w, s.d, logger.With("path", path)); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	s.r, err = openSQLitePool(ctx, sqliteDSN(path, true), max(4, runtime.NumCPU()))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	if s.st, err = prepareStatements(ctx, s.r, w, s.d); err == nil {
		if err = s.startWriter(ctx, w, logger, o.Copier); err != nil {
			s.st.close()
		}
	}
	if err != nil {
		s.r.Close()
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.polls = newPollBook()
	return s, nil
}

// startWriter starts the group commit on w and, on a connection of its own,
// the checkpointer that copies what the writer logs into the database file,
// in a copier process of newCopier's when it is set (see Options.Copier).
func (s *Store) startWriter(ctx context.Context, w *sql.DB, logger *slog.Logger, newCopier func(string) (*exec.Cmd, error)) error {
	ck, err := openSQLitePool(ctx, sqliteDSN(s.path, false), 1)
	if err != nil {
		return fmt.Errorf("open the checkpointer's connection: %w", err)
	}
	var startCp func() (*copier, error)
	if newCopier != nil {
		startCp = func() (*copier, error) {
			cmd, err := newCopier(s.path)
			if err != nil {
				return nil, err
			}
			return startCopier(cmd)
		}
	}
	var writer *committer
	s.ckpt = startCheckpointer(s.path, ck, startCp, w, logger, checkpointPages, func(err error) { writer.fail(err) })
	var why error
	if s.fsyncer, why = newFsyncer(logger); why != nil {
		logger.Info("asynchronous fsync unavailable; write-ahead log fsyncs block", "path", s.path, "err", why)
	}
	logger.Debug("write-ahead log fsync", "path", s.path, "asynchronous", s.fsyncer != nil)
	s.logFiles = newLogFiles(s.path)
	writer, err = startCommitter(ctx, w, func() error { return s.logFiles.sync(s.fsyncer) }, s.ckpt.committed)
	if err != nil {
		_ = s.logFiles.Close()
		if s.fsyncer != nil {
			_ = s.fsyncer.close()
		}
		s.ckpt.close()
		return err
	}
	s.writer = writer
	return nil
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
// them. The writer commits with synchronous=NORMAL, which in WAL mode
// fsyncs at checkpoints but not at COMMIT: the committer fsyncs the log
// itself, after COMMIT and before it answers (see doc.go). The readers,
// which never commit, keep FULL for the checkpoint the last connection to
// close may run.
func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(ON)")
	if readOnly {
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "query_only(ON)")
	} else {
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walBackstopPages))
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
