package groupcommit

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// open returns a Writer with options o on a fresh SQLite file holding the
// table kv (k, v), and the pool under it. A deferred foreign key on child
// makes a COMMIT fail on demand (orphan).
func open(t *testing.T, o Options) (*Writer, *sql.DB) {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "w.db") +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{
		`CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`,
		`CREATE TABLE child (k TEXT REFERENCES kv (k) DEFERRABLE INITIALLY DEFERRED)`,
		`INSERT INTO kv VALUES ('taken', 1)`,
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	w, err := New(t.Context(), db, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return w, db
}

// insert is a write that stores key k.
func insert(k string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv VALUES ($1, 0)`, k)
		return err
	}
}

// orphan is a write whose row fails the deferred foreign key at COMMIT.
func orphan(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO child VALUES ('none')`)
	return err
}

// stored reports whether key k is committed.
func stored(t *testing.T, db *sql.DB, k string) bool {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM kv WHERE k = $1`, k).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// hold keeps the writer busy with a write until release is called, so that
// writes queued meanwhile form the next batch.
func hold(t *testing.T, w *Writer) (release func()) {
	t.Helper()
	running, unblock, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- w.Do(context.Background(), func(context.Context, *sql.Tx) error {
			close(running)
			<-unblock
			return nil
		})
	}()
	<-running
	return sync.OnceFunc(func() {
		close(unblock)
		if err := <-done; err != nil {
			t.Errorf("held write: %v", err)
		}
	})
}

// waitQueued waits until n writes are queued.
func waitQueued(w *Writer, n int) {
	for len(w.ops) < n {
		runtime.Gosched()
	}
}

// batch queues fns behind a held writer, releases it, and returns each
// write's answer.
func batch(t *testing.T, w *Writer, fns ...func(context.Context, *sql.Tx) error) []error {
	t.Helper()
	release := hold(t, w)
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { errs[i] = w.Do(t.Context(), fn) })
		waitQueued(w, i+1) // in order
	}
	release()
	wg.Wait()
	return errs
}

var errLost = errors.New("lost")

func isUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// TestBatch: writes queued together commit in one transaction, each
// caller gets its own answer, each write sees those before it, and a
// failed write rolls back alone, leaving the others stored.
func TestBatch(t *testing.T) {
	w, db := open(t, Options{MaxWork: time.Hour})
	writes := []struct {
		name   string
		fn     func(context.Context, *sql.Tx) error
		want   func(error) bool
		stored map[string]bool
	}{
		{"new key", insert("a"), func(err error) bool { return err == nil }, map[string]bool{"a": true}},
		{"key taken before the batch", insert("taken"), isUnique, nil},
		{"key taken earlier in the batch", insert("a"), isUnique, nil},
		{"conditional update that finds the first write's row", func(ctx context.Context, tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE kv SET v = 1 WHERE k = 'a' AND v = 0`)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return errLost
			}
			return nil
		}, func(err error) bool { return err == nil }, nil},
		{"the same update again: it lost", func(ctx context.Context, tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE kv SET v = 1 WHERE k = 'a' AND v = 0`)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return errLost
			}
			return nil
		}, func(err error) bool { return errors.Is(err, errLost) }, nil},
		{"fails half-way", func(ctx context.Context, tx *sql.Tx) error {
			if err := insert("half")(ctx, tx); err != nil {
				return err
			}
			return errLost
		}, func(err error) bool { return errors.Is(err, errLost) }, map[string]bool{"half": false}},
		{"another new key", insert("b"), func(err error) bool { return err == nil }, map[string]bool{"b": true}},
	}
	fns := make([]func(context.Context, *sql.Tx) error, len(writes))
	for i, wr := range writes {
		fns[i] = wr.fn
	}
	commits := w.commits.Load()
	errs := batch(t, w, fns...)
	if n := w.commits.Load() - commits; n != 2 {
		t.Errorf("%d commits for the held write and %d queued ones, want 2", n, len(writes))
	}
	for i, wr := range writes {
		if !wr.want(errs[i]) {
			t.Errorf("%s: %v", wr.name, errs[i])
		}
		for k, want := range wr.stored {
			if got := stored(t, db, k); got != want {
				t.Errorf("%s: %q stored %t, want %t", wr.name, k, got, want)
			}
		}
	}
	var v int
	if err := db.QueryRowContext(t.Context(), `SELECT v FROM kv WHERE k = 'a'`).Scan(&v); err != nil || v != 1 {
		t.Errorf("a: v = %d, %v; want 1 (one update won)", v, err)
	}
}

// TestAnsweredAfterCommit (REL-07): a write is answered when its batch
// commits, not when it has run: while a later write of its batch still
// runs, it has no answer, and other connections do not see it.
func TestAnsweredAfterCommit(t *testing.T) {
	w, db := open(t, Options{MaxWork: time.Hour})
	var dsn string
	if err := db.QueryRowContext(t.Context(), `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&dsn); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	release := hold(t, w)
	answered := make(chan error, 1)
	go func() { answered <- w.Do(t.Context(), insert("a")) }()
	waitQueued(w, 1)
	started, unblock := make(chan struct{}), make(chan struct{})
	go func() {
		_ = w.Do(t.Context(), func(context.Context, *sql.Tx) error {
			close(started)
			<-unblock
			return nil
		})
	}()
	waitQueued(w, 2)
	release()
	<-started // "a" has run in this batch; the writer is in the next write
	select {
	case err := <-answered:
		t.Errorf("a write was answered (%v) before its batch committed", err)
	default:
	}
	var n int
	if err := other.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM kv WHERE k = 'a'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("another connection sees %d uncommitted rows (%v), want 0", n, err)
	}
	close(unblock)
	if err := <-answered; err != nil || !stored(t, db, "a") {
		t.Errorf("after the commit: %v, stored %t; want nil, true", err, stored(t, db, "a"))
	}
}

// TestBatchBounds: a batch takes at most MaxOps writes, and no more once
// its writes have run for MaxWork; the rest commit in the next batches.
func TestBatchBounds(t *testing.T) {
	for _, tc := range []struct {
		name        string
		o           Options
		writes      int
		wantCommits int64
	}{
		{"unbounded", Options{MaxWork: time.Hour}, 6, 2},
		{"MaxOps 2", Options{MaxOps: 2, MaxWork: time.Hour}, 6, 4},
		{"MaxWork 1ns", Options{MaxWork: time.Nanosecond}, 3, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, db := open(t, tc.o)
			fns := make([]func(context.Context, *sql.Tx) error, tc.writes)
			for i := range fns {
				fns[i] = insert(string(rune('a' + i)))
			}
			commits := w.commits.Load()
			for i, err := range batch(t, w, fns...) {
				if err != nil {
					t.Errorf("write %d: %v", i, err)
				}
			}
			if n := w.commits.Load() - commits; n != tc.wantCommits {
				t.Errorf("%d commits, want %d (the held write's and the batches')", n, tc.wantCommits)
			}
			for i := range fns {
				if !stored(t, db, string(rune('a'+i))) {
					t.Errorf("write %d not stored", i)
				}
			}
		})
	}
}

// TestFailedCommit: when COMMIT fails, every write of the batch gets its
// error, including one that lost a race (the write it lost to is gone
// too), and none is stored. An error that is not fatal fails that batch
// only: the Writer goes on, and so do its callers. A fatal one fails the
// Writer for good.
func TestFailedCommit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fatal bool
	}{{"not fatal", false}, {"fatal", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var isFatal func(error) bool
			if tc.fatal {
				isFatal = func(err error) bool {
					var se *sqlite.Error
					return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
				}
			}
			w, db := open(t, Options{MaxWork: time.Hour, Fatal: isFatal})
			errs := batch(t, w, insert("a"), orphan, insert("taken"), insert("b"))
			for i, err := range errs {
				if err == nil || isUnique(err) {
					t.Errorf("write %d of a batch whose commit failed: %v, want the commit's error", i, err)
				}
			}
			for _, k := range []string{"a", "b"} {
				if stored(t, db, k) {
					t.Errorf("%q of a failed batch is stored", k)
				}
			}
			err := w.Do(t.Context(), insert("c"))
			switch {
			case !tc.fatal && (err != nil || w.Err() != nil):
				t.Errorf("write after a batch failed: %v, Err %v; want both nil", err, w.Err())
			case tc.fatal && (err == nil || !errors.Is(err, w.Err()) || w.Err() == nil):
				t.Errorf("write after a fatal commit error: %v, Err %v; want Err", err, w.Err())
			}
			if got := stored(t, db, "c"); got == tc.fatal {
				t.Errorf("write after the failed batch: stored %t, want %t", got, !tc.fatal)
			}
		})
	}
}

// TestCancel: a caller whose context ends while its write is queued is
// answered at once and its write never runs; one whose context ends after
// its write started gets the write's result, and the write stands.
func TestCancel(t *testing.T) {
	w, db := open(t, Options{})
	release := hold(t, w)
	queuedCtx, cancelQueued := context.WithCancel(t.Context())
	queuedErr := make(chan error, 1)
	go func() { queuedErr <- w.Do(queuedCtx, insert("queued")) }()
	waitQueued(w, 1)
	cancelQueued()
	if err := <-queuedErr; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while queued: %v, want context.Canceled", err)
	}
	release()

	runningCtx, cancelRunning := context.WithCancel(t.Context())
	err := w.Do(runningCtx, func(ctx context.Context, tx *sql.Tx) error {
		cancelRunning()
		return insert("running")(ctx, tx)
	})
	if err != nil {
		t.Errorf("cancelled while running: %v, want its result (nil)", err)
	}
	if stored(t, db, "queued") {
		t.Error("the write cancelled while queued ran")
	}
	if !stored(t, db, "running") {
		t.Error("the write cancelled while running is not stored")
	}
}

// TestPanic: a write that panics panics in its caller, its changes are
// rolled back, and the other writes of its batch are stored.
func TestPanic(t *testing.T) {
	w, db := open(t, Options{MaxWork: time.Hour})
	release := hold(t, w)
	var (
		recovered any
		insertErr error
		wg        sync.WaitGroup
	)
	wg.Go(func() {
		defer func() { recovered = recover() }()
		_ = w.Do(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `DELETE FROM kv`); err != nil {
				return err
			}
			panic("boom")
		})
	})
	waitQueued(w, 1)
	wg.Go(func() { insertErr = w.Do(t.Context(), insert("a")) })
	waitQueued(w, 2)
	release()
	wg.Wait()
	if recovered != "boom" {
		t.Errorf("caller of the panicking write recovered %v, want boom", recovered)
	}
	if insertErr != nil || !stored(t, db, "a") {
		t.Errorf("write batched with a panic: %v, stored %t; want nil, true", insertErr, stored(t, db, "a"))
	}
	if !stored(t, db, "taken") {
		t.Error("the panicking write's DELETE was committed")
	}
}

// TestClose: Close lets queued writes commit; a write after Close gets
// ErrClosed.
func TestClose(t *testing.T) {
	w, db := open(t, Options{})
	release := hold(t, w)
	const writes = 5
	errs := make([]error, writes)
	var wg sync.WaitGroup
	for i := range writes {
		wg.Go(func() { errs[i] = w.Do(t.Context(), insert(string(rune('a'+i)))) })
	}
	waitQueued(w, writes)
	closed := make(chan error, 1)
	go func() { closed <- w.Close() }()
	release()
	wg.Wait()
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	for i, err := range errs {
		if err != nil || !stored(t, db, string(rune('a'+i))) {
			t.Errorf("write %d queued before Close: %v, stored %t", i, err, stored(t, db, string(rune('a'+i))))
		}
	}
	if err := w.Do(t.Context(), insert("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("write after Close: %v, want ErrClosed", err)
	}
}

// TestNewNeedsOneConnection: a pool that may open several connections is
// refused.
func TestNewNeedsOneConnection(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if w, err := New(t.Context(), db, Options{}); err == nil {
		w.Close()
		t.Error("New accepted a pool of unbounded connections")
	}
}
