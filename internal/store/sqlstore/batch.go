package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit bounds: a batch takes at most maxBatchOps queued writes, and
// stops taking more of them into its transaction once its writes have run
// for maxBatchWork; what is left goes into the next batch. The first bounds
// a transaction's size, the second how long the first caller of a batch
// waits for the others' work before its commit. maxBatchWork is wall time,
// and on a busy core the committer shares it with the requests it serves:
// at 500 µs batches were cut short, and every extra commit is an fsync the
// core idles through. At 3 ms the load harness (server on one core, 32
// connections, two A/B pairs) gave 13–27% more device authorizations,
// 22–50% more redemptions and 10–33% more refreshes, with lower p99s.
const (
	maxBatchOps  = 128
	maxBatchWork = 3 * time.Millisecond
	writeQueue   = 256
	// syncQueue bounds how many committed batches may wait for the fsync:
	// past it the writer stops until the syncer catches up.
	syncQueue = 64
)

// errClosed answers writes that arrive after Close.
var errClosed = errors.New("store is closed")

// committer is SQLite's group commit, pipelined (see doc.go). The writer
// goroutine owns the writer pool's single connection between batches: it
// takes the first queued write, drains whatever else is queued, runs them
// one after another in one BEGIN IMMEDIATE transaction, each inside its own
// SAVEPOINT, and commits once, without waiting for the disk
// (synchronous=NORMAL). The syncer goroutine then fsyncs the write-ahead
// log, once for every batch committed meanwhile, and only then answers the
// batches' callers, while the writer already runs the next batch. Reads
// wait for the fsync of whatever they may have seen (settle).
type committer struct {
	db      *sql.DB
	ops     chan *writeOp
	syncs   chan syncJob // from the writer to the syncer, in commit order
	stopped chan struct{}
	// savepoint, release and rollbackTo frame each write of a batch of
	// several; prepared once on db.
	savepoint, release, rollbackTo *sql.Stmt
	// sync makes every commit so far durable: it fsyncs the write-ahead
	// log. Tests replace it.
	sync func() error

	// maxWork is maxBatchWork, but for tests.
	maxWork time.Duration
	// committed, when set, is called by the writer after each COMMIT, once
	// the batch is with the syncer: it tells the checkpointer how much the
	// log grew.
	committed func()

	mu     sync.RWMutex // held for reading while sending on ops
	closed bool

	commits atomic.Int64 // transactions committed

	// seq numbers commits: the writer increments it before each COMMIT,
	// so every commit a read can see has a number no greater than seq
	// read after the read. durable is the newest number known durable;
	// advanced is closed, and replaced, whenever durable grows or the
	// store fails.
	seq      atomic.Uint64
	durable  atomic.Uint64
	durMu    sync.Mutex
	advanced chan struct{}
	// failure is set, for good, when an fsync fails.
	failure atomic.Pointer[error]
}

// syncJob is a batch that left the writer: its callers are answered once
// every commit up to seq is durable.
type syncJob struct {
	seq uint64 // the batch's commit number; 0 when it began no COMMIT
	ops []*writeOp
	err error // when not nil, the answer to every op instead of its own
}

// committed reports whether the batch's COMMIT succeeded, leaving pages
// in the log to fsync.
func (j syncJob) committed() bool { return j.seq != 0 && j.err == nil }

// writeOp is one caller's write: fn runs inside the batch's transaction.
type writeOp struct {
	ctx   context.Context
	fn    func(ctx context.Context, tx *sql.Tx) error
	state atomic.Int32 // opQueued, then opRunning (by the writer) or opCancelled (by the caller)
	err   error        // fn's result; read by the caller after done
	// panicked is what fn panicked with, re-raised in the caller's
	// goroutine rather than in the writer's.
	panicked any
	done     chan error // the answer, sent once the batch is durable
}

const (
	opQueued int32 = iota
	opRunning
	opCancelled
)

// startCommitter prepares the savepoint statements on db (a pool of one
// connection, synchronous=NORMAL), makes what db committed so far durable
// with sync, and starts the writer and syncer goroutines. committed, when
// not nil, is called after each COMMIT.
func startCommitter(ctx context.Context, db *sql.DB, sync func() error, committed func()) (*committer, error) {
	if err := sync(); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	c := &committer{db: db, ops: make(chan *writeOp, writeQueue), syncs: make(chan syncJob, syncQueue),
		stopped: make(chan struct{}), sync: sync, maxWork: maxBatchWork, advanced: make(chan struct{}),
		committed: committed}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{{&c.savepoint, `SAVEPOINT op`}, {&c.release, `RELEASE op`}, {&c.rollbackTo, `ROLLBACK TO op`}} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			c.closeStatements()
			return nil, fmt.Errorf("prepare %s: %w", p.query, err)
		}
		*p.dst = st
	}
	go c.run()
	go c.syncLoop()
	return c, nil
}

// syncFile returns a sync function for committer: it fsyncs the SQLite
// database's write-ahead log, through sy when it is not nil (see
// aioSyncer), which holds every commit not yet
// checkpointed (a checkpoint fsyncs the log before it copies pages, and the
// database file after). The log is opened afresh each time, so that the
// file synced is the one SQLite writes even if the log was removed and
// created again meanwhile (when every connection to it closed); should it
// be missing, its commits are in the database file, which is synced
// instead.
func syncFile(dbPath string, sy fsyncer) func() error {
	return func() error {
		f, err := os.Open(dbPath + "-wal")
		if errors.Is(err, fs.ErrNotExist) {
			f, err = os.Open(dbPath)
		}
		if err != nil {
			return err
		}
		return syncAndClose(f, sy)
	}
}

// syncAndClose fsyncs f, through sy when it is not nil, and closes it,
// returning the first error.
func syncAndClose(f *os.File, sy fsyncer) error {
	var err error
	if sy != nil {
		err = sy.fsync(f)
	} else {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// do queues fn and waits for its answer, which comes only once the
// transaction that ran it has committed: nil or fn's error when the commit
// succeeded, the commit's error for every write of the batch otherwise.
//
// fn gets a context that carries ctx's values but is never cancelled: an
// interrupted statement would roll back the whole batch. ctx is honoured
// before fn runs: a caller whose ctx ends while its write is still queued
// gets ctx's error at once, and the write is skipped. Once the writer has
// started fn, its result stands and do waits for it, whatever ctx does.
func (c *committer) do(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.failed(); err != nil {
		return err
	}
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return errClosed
	}
	select {
	case c.ops <- op:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-op.done:
		return op.answer(err)
	case <-ctx.Done():
		if op.state.CompareAndSwap(opQueued, opCancelled) {
			return ctx.Err()
		}
		return op.answer(<-op.done)
	}
}

// answer returns err to the caller, re-raising fn's panic if it had one.
func (op *writeOp) answer(err error) error {
	if op.panicked != nil {
		panic(op.panicked)
	}
	return err
}

// settle returns once every commit that a read which has just ended may
// have seen is durable, so that no answer reveals a write that a crash
// could still undo (see doc.go). It returns at once unless a batch is
// between its COMMIT and the end of its fsync, and it fails once an fsync
// has failed.
func (c *committer) settle(ctx context.Context) error {
	return c.settleTo(ctx, c.seq.Load())
}

// settleTo is settle for a read that ended when seq was want: it returns
// once every commit numbered up to want is durable.
func (c *committer) settleTo(ctx context.Context, want uint64) error {
	for {
		if err := c.failed(); err != nil {
			return err
		}
		if c.durable.Load() >= want {
			return nil
		}
		c.durMu.Lock()
		ch := c.advanced
		c.durMu.Unlock()
		if c.durable.Load() >= want || c.failed() != nil {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// failed returns the error of the fsync that failed, or nil.
func (c *committer) failed() error {
	if p := c.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// fail fails the store for good with err (see doc.go), unless it has
// failed already, and lets waiting reads see it.
func (c *committer) fail(err error) {
	if c.failure.CompareAndSwap(nil, &err) {
		c.wake()
	}
}

// wake tells waiting reads that durable grew or the store failed.
func (c *committer) wake() {
	c.durMu.Lock()
	close(c.advanced)
	c.advanced = make(chan struct{})
	c.durMu.Unlock()
}

// close stops taking writes, lets the writer finish every queued one and
// waits for it and the syncer to stop. It is idempotent.
func (c *committer) close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.ops)
	}
	c.mu.Unlock()
	<-c.stopped
	return c.closeStatements()
}

func (c *committer) closeStatements() error {
	var errs []error
	for _, st := range []*sql.Stmt{c.savepoint, c.release, c.rollbackTo} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// run is the writer goroutine: batch after batch until ops is closed and
// empty.
func (c *committer) run() {
	defer close(c.syncs)
	var carried []*writeOp
	for {
		batch := carried
		if len(batch) == 0 {
			op, ok := <-c.ops
			if !ok {
				return
			}
			batch = append(make([]*writeOp, 0, 16), op)
			// Let goroutines that are ready to run go first: on a busy
			// core those are requests on their way to a write, which then
			// join this batch instead of each paying for a commit of its
			// own. With nothing else ready this returns at once.
			runtime.Gosched()
		}
		carried = c.commit(drain(batch, c.ops, maxBatchOps))
	}
}

// drain appends to buf what ch holds now, without waiting, until buf has
// limit elements.
func drain[T any](buf []T, ch <-chan T, limit int) []T {
	for len(buf) < limit {
		select {
		case v, ok := <-ch:
			if !ok {
				return buf
			}
			buf = append(buf, v)
		default:
			return buf
		}
	}
	return buf
}

// commit runs batch in one transaction and hands the writes it ran to the
// syncer, which answers their callers. It returns the writes it did not run
// for lack of time, or because the transaction broke before their turn.
func (c *committer) commit(batch []*writeOp) (carried []*writeOp) {
	if err := c.failed(); err != nil {
		answerAll(batch, err) // nothing more is committed once an fsync failed
		return nil
	}
	ctx := context.Background() // callers' contexts must not end the transaction
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		answerAll(batch, fmt.Errorf("begin: %w", err))
		return nil
	}
	// A lone write needs no savepoint: if it fails, the transaction is
	// rolled back.
	var sp *txSavepoints
	if len(batch) > 1 {
		sp = &txSavepoints{tx.StmtContext(ctx, c.savepoint), tx.StmtContext(ctx, c.release),
			tx.StmtContext(ctx, c.rollbackTo)}
	}
	began := time.Now()
	ran := make([]*writeOp, 0, len(batch))
	for i, op := range batch {
		if len(ran) > 0 && time.Since(began) > c.maxWork {
			carried = batch[i:]
			break
		}
		if !op.state.CompareAndSwap(opQueued, opRunning) {
			continue // its caller gave up while it was queued
		}
		if err := op.ctx.Err(); err != nil {
			op.done <- err
			continue
		}
		octx := context.WithoutCancel(op.ctx)
		if sp == nil {
			op.err = op.call(octx, tx)
			ran = append(ran, op)
			continue
		}
		if err := sp.run(octx, tx, op); err != nil {
			// The transaction is gone, and with it the writes that ran
			// before this one. Writes not yet run go to the next batch.
			_ = tx.Rollback()
			c.syncs <- syncJob{ops: append(ran, op), err: fmt.Errorf("write transaction aborted: %w", err)}
			return append(carried, batch[i+1:]...)
		}
		ran = append(ran, op)
	}
	if len(ran) == 0 || (sp == nil && ran[0].err != nil) {
		// Nothing to keep; the answers are the writes' own errors, given
		// after the batches before are durable: a write may have lost to
		// one of theirs.
		_ = tx.Rollback()
		c.syncs <- syncJob{ops: ran}
		return carried
	}
	// Numbered before COMMIT makes the batch visible: see settle.
	seq := c.seq.Add(1)
	if err := tx.Commit(); err != nil {
		c.syncs <- syncJob{seq: seq, ops: ran, err: fmt.Errorf("commit: %w", err)}
		return carried
	}
	c.commits.Add(1)
	c.syncs <- syncJob{seq: seq, ops: ran}
	if c.committed != nil {
		c.committed()
	}
	return carried
}

// syncLoop is the syncer goroutine. It takes the batches the writer hands
// over, in commit order, with every other batch already waiting; fsyncs
// once if any of them committed; then answers their callers and lets reads
// that waited for them go on. An fsync that fails leaves the store failed:
// the kernel may have dropped the pages it could not write, so a later
// fsync that succeeds proves nothing, and every write and read from then
// on gets the error until grantd restarts and SQLite recovers the log.
func (c *committer) syncLoop() {
	defer close(c.stopped)
	jobs := make([]syncJob, 0, syncQueue)
	for job := range c.syncs {
		jobs = drain(append(jobs[:0], job), c.syncs, cap(jobs))
		var newest uint64
		committed := false
		for _, j := range jobs {
			newest = max(newest, j.seq)
			committed = committed || j.committed()
		}
		err := c.failed()
		if err == nil && committed {
			if err = c.sync(); err != nil {
				err = fmt.Errorf("sync the write-ahead log: %w", err)
				c.failure.CompareAndSwap(nil, &err)
			}
		}
		// Durable before anyone is answered, so that a caller's next read
		// does not wait for its own write.
		if err == nil && newest > 0 {
			c.durable.Store(newest)
		}
		if err != nil || newest > 0 {
			c.wake()
		}
		for _, j := range jobs {
			for _, op := range j.ops {
				switch {
				case err != nil:
					op.done <- err
				case j.err != nil:
					op.done <- j.err
				default:
					op.done <- op.err
				}
			}
		}
	}
}

// txSavepoints are the savepoint statements bound to one batch's
// transaction.
type txSavepoints struct{ savepoint, release, rollbackTo *sql.Stmt }

// run runs op inside a savepoint. When op fails, its changes are rolled back
// to the savepoint and the batch's other writes are untouched. run returns
// an error only when the transaction itself is broken (SQLite rolled it
// back, say after an I/O error), so that the savepoint cannot be rolled back
// or released.
func (sp *txSavepoints) run(ctx context.Context, tx *sql.Tx, op *writeOp) error {
	if _, err := sp.savepoint.ExecContext(ctx); err != nil {
		return err
	}
	if op.err = op.call(ctx, tx); op.err != nil {
		// op.err is not passed on: a loss it reports (ErrConflict, say)
		// may have been decided by a write of this batch that is now gone.
		if _, err := sp.rollbackTo.ExecContext(ctx); err != nil {
			return err
		}
	}
	_, err := sp.release.ExecContext(ctx)
	return err
}

// call runs fn, turning a panic into an error here and a panic in the
// caller's goroutine later.
func (op *writeOp) call(ctx context.Context, tx *sql.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			op.panicked = v
			err = fmt.Errorf("write panicked: %v", v)
		}
	}()
	return op.fn(ctx, tx)
}

// answerAll answers every write of batch that its caller still waits for
// with err.
func answerAll(batch []*writeOp, err error) {
	for _, op := range batch {
		if op.state.CompareAndSwap(opQueued, opRunning) {
			op.done <- err
		}
	}
}
