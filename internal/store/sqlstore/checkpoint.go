package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Checkpoint bounds (see doc.go, "SQLite: checkpoints off the writer's
// path").
const (
	// checkpointPages is how many pages the writer logs between two
	// checkpoints: a log of about 40 MB. Writes land on random leaves of
	// the hash indexes and rewrite the same leaves again and again; the
	// longer the log between checkpoints, the more of those rewrites a
	// checkpoint copies once (at 10,000 pages the load harness made 27%
	// more device authorizations than at SQLite's 1,000).
	checkpointPages = 10000
	// checkpointIdle bounds how long pages stay in the log when fewer than
	// checkpointPages arrive: a quiet server copies its log within it.
	checkpointIdle = 10 * time.Second
	// restartLogs: the log is restarted (step 3) once it is this many
	// times checkpointPages long, and when the writer is quiet. A restart
	// holds the writer for a few milliseconds; copying every 10,000 pages
	// but restarting every 30,000 made the load harness's write p99s 10-20%
	// lower than restarting at every copy (two interleaved pairs). The log
	// file then reaches about 120 MB under load, and stays that size: it is
	// reused from its start, never truncated.
	restartLogs = 3
	// walBackstopPages is the writer's own wal_autocheckpoint. The
	// checkpointer keeps the log far shorter; should it stop or fall
	// behind, a COMMIT copies the log itself once it is this long (400 MB).
	walBackstopPages = 100000
)

// checkpointer copies SQLite's write-ahead log into the database file, so
// that no write waits for that (see doc.go). The writer tells it how many
// pages each commit logged (logged); once checkpointPages have been, or
// checkpointIdle has passed with any, it checkpoints in three steps:
//
//  1. copy: a PASSIVE checkpoint beside the writer, which takes no lock a
//     writer or reader waits for, made under load by the copier process
//     (copyStep), else on a connection of its own. It fsyncs the log, then
//     copies it up to the last commit it saw as it began. SQLite fsyncs
//     the database file after only if no commit came meanwhile, which
//     under load one always does.
//  2. sync (syncStep): an fsync of the database file, flushing what the
//     copy wrote, still beside the writer, made by the copier when one
//     runs. This is the slow part (10 ms and more on the load harness's
//     machine), and why the writer's own checkpoints used to hold every
//     write for 5 to 17 ms.
//  3. finish, once the log is restartLogs copies long or the writer is
//     quiet: a PASSIVE checkpoint on the writer's connection, between two
//     batches. It copies what was committed during steps 1 and 2, a few
//     hundred pages, and fsyncs the log and the database file, which have
//     little left to flush. Having copied all of the log with no commit
//     between it and the writer's next transaction, it lets SQLite restart
//     the log at that transaction, so that the log stays bounded.
//
// Steps 1 and 2 alone would leave the log growing for ever under a steady
// stream of writes: SQLite restarts the log only at a write transaction
// that begins after a checkpoint copied all of it, and the writer is nearly
// always inside a transaction that began before the copy ended.
type checkpointer struct {
	own *sql.DB // a connection of its own
	// newCopier starts a copier process (see copyStep); nil when there is
	// none to start, or once one failed. copier is the one running, if any.
	newCopier func() (*copier, error)
	copier    *copier
	writer    *sql.DB // the writer's pool of one connection
	// dbFile is the database file, held open for step 2's fsync in
	// grantd's process (see heldFile); syncDB fsyncs it, but for tests.
	dbFile *heldFile
	syncDB func() error
	logger *slog.Logger
	fail   func(err error) // fails the store: an I/O error lost what it wrote
	// copy is step 1 (copyStep); tests replace it.
	copy func(quiet bool) (logPages, copiedPages int64, err error)

	pages   atomic.Int64 // checkpointPages, but for tests
	idle    atomic.Int64 // checkpointIdle, but for tests
	reply   atomic.Int64 // copierReply, but for tests
	total   atomic.Int64 // pages the writer has logged
	due     atomic.Int64 // total at which the next checkpoint is due
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	runs    atomic.Int64 // checkpoints run, for tests
	// copierCannotSync is set when the running copier refused a sync: step
	// 2 is then made here until a copier starts again.
	copierCannotSync bool
	// copierCopies and copierSyncs count the copies and syncs a copier
	// process made, and copierPID is the running copier's process id or 0,
	// for tests.
	copierCopies, copierSyncs, copierPID atomic.Int64
	blind                                atomic.Bool // the driver did not report the pages logged

	closeOnce sync.Once
}

// startCheckpointer starts the checkpointer of the SQLite database at path
// with own (a pool of one connection of its own), newCopier (which starts
// a copier process, or nil to copy on own always), writer (the writer's
// pool) and the given pages per checkpoint. fail is called with an I/O
// error of a checkpoint.
func startCheckpointer(path string, own *sql.DB, newCopier func() (*copier, error), writer *sql.DB, logger *slog.Logger, pages int64, fail func(error)) *checkpointer {
	k := &checkpointer{own: own, newCopier: newCopier, writer: writer, dbFile: &heldFile{path: path}, logger: logger, fail: fail,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	k.copy = k.copyStep
	k.syncDB = func() error { return k.dbFile.sync(nil) }
	k.pages.Store(pages)
	k.idle.Store(int64(checkpointIdle))
	k.reply.Store(int64(copierReply))
	k.due.Store(pages)
	go k.run()
	return k
}

// committed is the writer's call after each COMMIT: it reads how many
// pages the writer's connection logged since the last call. Should the
// driver not tell, a commit counts as the one page it logs at least, and
// the checkpoints come every checkpointIdle.
func (k *checkpointer) committed() {
	pages, err := loggedPages(context.Background(), k.writer)
	if err != nil {
		if !k.blind.Swap(true) {
			k.logger.Warn("cannot tell how much the write-ahead log grows; checkpointing by time alone", "err", err)
		}
		pages = 1
	}
	k.logged(pages)
}

// logged records that the writer wrote pages pages to the log. It never
// blocks.
func (k *checkpointer) logged(pages int64) {
	if pages <= 0 {
		return
	}
	if k.total.Add(pages) >= k.due.Load() {
		select {
		case k.kick <- struct{}{}:
		default:
		}
	}
}

// copyStep is step 1. Under load it runs in the copier process, started
// when first needed, so that the copy takes the core only when the server
// leaves it idle (see doc.go, "the copy in a process of its own"). When
// quiet, or with no copier to start, it runs here, on the checkpointer's
// connection (run stops the copier of a quiet checkpointer: an idle
// server is one process). A copier that cannot start, exits, or does not
// answer within copierReply is not started again; the copies are then
// made here, as they are correct either way.
func (k *checkpointer) copyStep(quiet bool) (logPages, copiedPages int64, err error) {
	if quiet || k.newCopier == nil {
		return passive(k.own)
	}
	if k.copier == nil {
		if k.copier, err = k.newCopier(); err != nil {
			k.logger.Warn("cannot start the checkpoint copier; copying in grantd's process", "err", err)
			k.newCopier = nil
			return passive(k.own)
		}
		k.copierPID.Store(int64(k.copier.cmd.Process.Pid))
		k.copierCannotSync = false
	}
	logPages, copiedPages, err = k.copier.copy(time.Duration(k.reply.Load()))
	if errors.Is(err, errCopierGone) {
		k.copierGone(err)
		return passive(k.own)
	}
	if err == nil {
		k.copierCopies.Add(1)
	}
	return logPages, copiedPages, err
}

// syncStep is step 2. While a copier runs, it is the copier's, as writeBack
// (see doc.go, "the database file's fsync in the copier"): the fsync, and
// the write-back a chunk at a time before it, each block a thread, which in
// grantd's process would hold the scheduler's P. Otherwise, or when the
// copier cannot (a copier from an older grantd answers that it does not
// know the request), it is an fsync here.
func (k *checkpointer) syncStep() error {
	if k.copier != nil && !k.copierCannotSync {
		err := k.copier.sync(time.Duration(k.reply.Load()))
		switch {
		case err == nil:
			k.copierSyncs.Add(1)
			return nil
		case ioError(err):
			return fmt.Errorf("sync the database file: %w", err)
		case errors.Is(err, errCopierGone):
			k.copierGone(err)
		default:
			k.logger.Warn("the checkpoint copier cannot sync the database file; syncing it in grantd's process", "err", err)
			k.copierCannotSync = true
		}
	}
	if err := k.syncDB(); errors.Is(err, errCannotOpen) {
		return fmt.Errorf("sync the database file: %w", err) // retried at the next checkpoint
	} else if err != nil {
		return fmt.Errorf("sync the database file: %w", &ioFailure{err})
	}
	return nil
}

// copierGone reports a copier that cannot be asked and stops it for good:
// the checkpoints are made in grantd's process from then on.
func (k *checkpointer) copierGone(err error) {
	k.logger.Warn("the checkpoint copier is gone; copying in grantd's process from now on", "err", err)
	k.stopCopier()
	k.newCopier = nil
}

// stopCopier ends the copier, if one runs.
func (k *checkpointer) stopCopier() {
	if k.copier != nil {
		k.copier.close()
		k.copier = nil
		k.copierPID.Store(0)
	}
}

// close stops the checkpointer, waiting for a checkpoint under way, ends
// the copier and closes its connection. It is idempotent.
func (k *checkpointer) close() error {
	k.closeOnce.Do(func() {
		close(k.stop)
		<-k.stopped
		k.stopCopier()
	})
	<-k.stopped
	return errors.Join(k.own.Close(), k.dbFile.Close())
}

func (k *checkpointer) run() {
	defer close(k.stopped)
	idle := time.NewTimer(checkpointIdle)
	defer idle.Stop()
	var copied int64 // total when the last checkpoint began
	for {
		quiet := false
		select {
		case <-k.stop:
			return
		case <-k.kick:
		case <-idle.C:
			quiet = true
		}
		total := k.total.Load()
		// Due again once as many pages more are logged; pages logged
		// while this checkpoint runs count towards the next.
		k.due.Store(total + k.pages.Load())
		if total > copied {
			copied = total
			k.checkpoint(quiet)
		}
		if quiet {
			k.stopCopier() // even with nothing to copy: an idle server is one process
		}
		idle.Reset(time.Duration(k.idle.Load()))
	}
}

// checkpoint runs one checkpoint and deals with its outcome. It finishes
// on the writer's connection (step 3) only once the log is restartLogs
// times the pages per checkpoint long, or when quiet (fewer came within
// checkpointIdle): finishing holds the writer, and the log need not
// restart after every copy.
func (k *checkpointer) checkpoint(quiet bool) {
	began := time.Now()
	logPages, copied, err := k.copy(quiet)
	copiedBeside := copied
	if err == nil {
		err = k.syncStep()
	}
	var finished time.Time
	if err == nil && (quiet || logPages >= restartLogs*k.pages.Load()) {
		finished = time.Now()
		logPages, copied, err = passive(k.writer)
	}
	k.runs.Add(1)
	switch {
	case err == nil:
		attrs := []any{"log_pages", logPages, "copied_beside_writer", copiedBeside, "duration", time.Since(began)}
		if !finished.IsZero() {
			attrs = append(attrs, "writer_held", time.Since(finished))
		}
		k.logger.Debug("checkpoint", attrs...)
	case ioError(err):
		// As after a failed fsync of the log (syncLoop): what the kernel
		// could not write may be gone, so nothing more is trusted.
		k.fail(fmt.Errorf("checkpoint the write-ahead log: %w", err))
	default:
		k.logger.Warn("checkpoint failed; will retry", "err", err)
	}
}

// passive runs a PASSIVE checkpoint on db: it copies what it can of the log
// into the database file without waiting for any lock, fsyncing the log
// before and, when it copied all of it, the database file after
// (synchronous=NORMAL on both connections). It reports the log's length
// and how much of it is copied now, in pages. Another process's checkpoint
// under way makes it copy nothing, which is no error.
func passive(db *sql.DB) (logPages, copiedPages int64, err error) {
	var busy int64
	err = db.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &copiedPages)
	return logPages, copiedPages, err
}

// ioFailure marks an fsync's error as an I/O error.
type ioFailure struct{ err error }

func (e *ioFailure) Error() string { return e.err.Error() }
func (e *ioFailure) Unwrap() error { return e.err }

// syncPath returns a function that opens the file at path, fsyncs it
// through sy when it is not nil, and closes it: the copier process's, whose
// descriptors no client connection takes.
func syncPath(path string, sy fsyncer) func() error {
	return func() error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		if sy != nil {
			err = sy.fsync(f)
		} else {
			err = f.Sync()
		}
		return errors.Join(err, f.Close())
	}
}

// ioError reports whether err is an I/O error: SQLite's SQLITE_IOERR, of
// any kind, or a failed fsync of ours.
func ioError(err error) bool {
	var (
		se *sqlite.Error
		fe *ioFailure
	)
	return errors.As(err, &fe) || errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_IOERR
}

// loggedPages returns how many pages the connection of db, a pool of one,
// has written to the write-ahead log since the last call: SQLite's
// SQLITE_DBSTATUS_CACHE_WRITE counter, reset as it is read.
func loggedPages(ctx context.Context, db *sql.DB) (int64, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var pages int64
	err = conn.Raw(func(dc any) error {
		st, ok := dc.(sqlite.DBStatus)
		if !ok {
			return fmt.Errorf("driver connection %T reports no status", dc)
		}
		cur, _, err := st.Status(sqlite.DBStatusCacheWrite, true)
		pages = int64(cur)
		return err
	})
	return pages, err
}
