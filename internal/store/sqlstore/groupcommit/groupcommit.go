// Package groupcommit runs the writes of many goroutines in shared
// transactions on one database connection: group commit. A Writer takes
// the first queued write, lets goroutines that are ready to run queue
// theirs, and runs everything queued one write after another in one
// transaction, each inside a SAVEPOINT of its own, then commits once. On
// SQLite with synchronous=FULL a commit is one fsync of the write-ahead
// log, so a batch of writes costs one fsync instead of one each; the
// busier the writer, the larger its batches.
//
// What it buys, measured on grantd's load harness (interleaved A/B, 5
// rounds, GOMAXPROCS=1, `go run ./bench -pin -scenarios 1,2a,3,4 -duration
// 5s -pending 20000 -approved 20000`): without group commit the rate of
// device authorization, redemption and refresh fell to 0.20×, 0.33× and
// 0.33× and server CPU per request rose 2.3–4.2×.
//
// The contract, for a caller of Do:
//
//   - The answer comes only once the transaction that ran the write has
//     committed: nil or the write's own error when the commit succeeded,
//     the commit's error for every write of the batch when it failed.
//   - Writes of a batch run one after another on one connection, each
//     seeing those before it, so a conditional update still succeeds for
//     exactly one of concurrent callers.
//   - A write that fails (returns an error or panics) is rolled back to its
//     savepoint; the others of its batch stand. A panic is raised again in
//     the caller's goroutine.
//   - A caller's context is honoured until its write starts; from then on
//     the write runs with a context that is never cancelled (an interrupted
//     statement would roll back everyone's transaction), and the caller
//     gets its result.
//   - A commit error that Options.Fatal calls fatal (a failed fsync: what
//     reached the disk is unknown) fails the Writer for good: Err returns
//     it, and so does every Do from then on. Any other failure (a busy
//     lock, a file that cannot be opened) fails only the writes of its
//     batch, and the next batch is tried afresh.
package groupcommit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Options are a Writer's settings; a zero field takes its default.
type Options struct {
	// MaxOps bounds how many queued writes one transaction takes (128).
	MaxOps int
	// MaxWork stops a batch from taking more writes once its writes have
	// run this long (3 ms); the rest go into the next batch. It bounds
	// how long the first caller of a batch waits for the others' work. At
	// 500 µs batches were cut short on a busy core, and every extra commit
	// is an fsync.
	MaxWork time.Duration
	// Queue is how many writes may wait for the writer (256); beyond it,
	// Do waits to queue.
	Queue int
	// Fatal reports whether a failed COMMIT leaves the fate of committed
	// data unknown, after which the Writer refuses every write. Nil: no
	// commit error is fatal.
	Fatal func(error) bool
}

// ErrClosed answers writes that arrive after Close.
var ErrClosed = errors.New("writer is closed")

// Writer is the group commit on one connection. It is safe for concurrent
// use.
type Writer struct {
	db      *sql.DB
	o       Options
	ops     chan *op
	stopped chan struct{}
	// savepoint, release and rollbackTo frame each write of a batch of
	// several; prepared once on db.
	savepoint, release, rollbackTo *sql.Stmt

	mu     sync.RWMutex // held for reading while sending on ops
	closed bool

	failure atomic.Pointer[error]
	commits atomic.Int64 // transactions committed
}

// op is one caller's write.
type op struct {
	ctx   context.Context
	fn    func(ctx context.Context, tx *sql.Tx) error
	state atomic.Int32 // queued, then running (by the writer) or cancelled (by the caller)
	err   error        // fn's result
	// panicked is what fn panicked with, raised again in the caller's
	// goroutine rather than in the writer's.
	panicked any
	done     chan error
}

const (
	queued int32 = iota
	running
	cancelled
)

// New starts a Writer on db, a pool of one connection whose transactions
// take the write lock as they begin (SQLite: BEGIN IMMEDIATE).
func New(ctx context.Context, db *sql.DB, o Options) (*Writer, error) {
	if n := db.Stats().MaxOpenConnections; n != 1 {
		return nil, fmt.Errorf("group commit needs a pool of one connection, not %d", n)
	}
	if o.MaxOps <= 0 {
		o.MaxOps = 128
	}
	if o.MaxWork <= 0 {
		o.MaxWork = 3 * time.Millisecond
	}
	if o.Queue <= 0 {
		o.Queue = 256
	}
	w := &Writer{db: db, o: o, ops: make(chan *op, o.Queue), stopped: make(chan struct{})}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{{&w.savepoint, `SAVEPOINT op`}, {&w.release, `RELEASE op`}, {&w.rollbackTo, `ROLLBACK TO op`}} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			_ = w.closeStatements()
			return nil, fmt.Errorf("prepare %s: %w", p.query, err)
		}
		*p.dst = st
	}
	go w.run()
	return w, nil
}

// Do queues fn, runs it in a batch's transaction and returns its answer
// once that transaction has committed (see the package comment).
func (w *Writer) Do(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := w.Err(); err != nil {
		return err
	}
	o := &op{ctx: ctx, fn: fn, done: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	select {
	case w.ops <- o:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-o.done:
		return o.answer(err)
	case <-ctx.Done():
		if o.state.CompareAndSwap(queued, cancelled) {
			return ctx.Err()
		}
		return o.answer(<-o.done)
	}
}

// Err returns the fatal commit error that failed the Writer, or nil.
func (w *Writer) Err() error {
	if p := w.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// Close stops taking writes, lets the writer commit every queued one, and
// waits for it to stop. It is idempotent.
func (w *Writer) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ops)
	}
	w.mu.Unlock()
	<-w.stopped
	return w.closeStatements()
}

func (w *Writer) closeStatements() error {
	var errs []error
	for _, st := range []*sql.Stmt{w.savepoint, w.release, w.rollbackTo} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// run is the writer goroutine: batch after batch until ops is closed and
// empty.
func (w *Writer) run() {
	defer close(w.stopped)
	var carried []*op
	for {
		batch := carried
		if len(batch) == 0 {
			first, ok := <-w.ops
			if !ok {
				return
			}
			batch = append(make([]*op, 0, 16), first)
			// Let goroutines that are ready to run go first: on a busy
			// core those are requests on their way to a write, which then
			// join this batch instead of each paying for a commit.
			runtime.Gosched()
		}
		carried = w.commit(drain(batch, w.ops, w.o.MaxOps))
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

// commit runs batch in one transaction, commits it and answers the writes
// it ran. It returns those it did not run: for lack of time, or because
// the transaction broke before their turn.
func (w *Writer) commit(batch []*op) (carried []*op) {
	if err := w.Err(); err != nil {
		answerQueued(batch, err)
		return nil
	}
	ctx := context.Background() // callers' contexts must not end the transaction
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		answerQueued(batch, fmt.Errorf("begin: %w", err))
		return nil
	}
	// A lone write needs no savepoint: if it fails, the transaction is
	// rolled back.
	var sp *savepoints
	if len(batch) > 1 {
		sp = &savepoints{tx.StmtContext(ctx, w.savepoint), tx.StmtContext(ctx, w.release),
			tx.StmtContext(ctx, w.rollbackTo)}
	}
	began := time.Now()
	ran := make([]*op, 0, len(batch))
	for i, o := range batch {
		if len(ran) > 0 && time.Since(began) > w.o.MaxWork {
			carried = batch[i:]
			break
		}
		if !o.state.CompareAndSwap(queued, running) {
			continue // its caller gave up while it was queued
		}
		if err := o.ctx.Err(); err != nil {
			o.done <- err
			continue
		}
		octx := context.WithoutCancel(o.ctx)
		if sp == nil {
			o.err = o.call(octx, tx)
		} else if err := sp.run(octx, tx, o); err != nil {
			// The transaction is gone, and with it the writes that ran
			// before this one; those not yet run go into the next batch.
			_ = tx.Rollback()
			answer(append(ran, o), fmt.Errorf("write transaction aborted: %w", err))
			return batch[i+1:]
		}
		ran = append(ran, o)
	}
	if !anySucceeded(ran) {
		_ = tx.Rollback()
		answerOwn(ran)
		return carried
	}
	if err := tx.Commit(); err != nil {
		if w.o.Fatal != nil && w.o.Fatal(err) {
			w.fail(fmt.Errorf("commit failed, durability unknown: %w", err))
		}
		// Every write of the batch gets the error, even one that lost a
		// race: the write it lost to is gone too.
		answer(ran, fmt.Errorf("commit: %w", err))
		return carried
	}
	w.commits.Add(1)
	answerOwn(ran)
	return carried
}

// fail fails the Writer for good with err, unless it has failed already.
func (w *Writer) fail(err error) { w.failure.CompareAndSwap(nil, &err) }

// savepoints are the savepoint statements bound to one batch's
// transaction.
type savepoints struct{ savepoint, release, rollbackTo *sql.Stmt }

// run runs o inside a savepoint. When o fails, its changes are rolled back
// to the savepoint and the batch's other writes are untouched. run returns
// an error only when the transaction itself is broken (SQLite rolled it
// back, say after an I/O error), so that the savepoint cannot be rolled
// back or released.
func (sp *savepoints) run(ctx context.Context, tx *sql.Tx, o *op) error {
	if _, err := sp.savepoint.ExecContext(ctx); err != nil {
		return err
	}
	if o.err = o.call(ctx, tx); o.err != nil {
		if _, err := sp.rollbackTo.ExecContext(ctx); err != nil {
			return err
		}
	}
	_, err := sp.release.ExecContext(ctx)
	return err
}

// call runs fn, turning a panic into an error here and a panic in the
// caller's goroutine later.
func (o *op) call(ctx context.Context, tx *sql.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			o.panicked = v
			err = fmt.Errorf("write panicked: %v", v)
		}
	}()
	return o.fn(ctx, tx)
}

// answer returns err to the caller, raising fn's panic again if it had one.
func (o *op) answer(err error) error {
	if o.panicked != nil {
		panic(o.panicked)
	}
	return err
}

func anySucceeded(ops []*op) bool {
	for _, o := range ops {
		if o.err == nil {
			return true
		}
	}
	return false
}

// answerOwn answers every write with its own result.
func answerOwn(ops []*op) {
	for _, o := range ops {
		o.done <- o.err
	}
}

// answer answers every write with err.
func answer(ops []*op, err error) {
	for _, o := range ops {
		o.done <- err
	}
}

// answerQueued answers with err every write of batch that its caller still
// waits for.
func answerQueued(batch []*op, err error) {
	for _, o := range batch {
		if o.state.CompareAndSwap(queued, running) {
			o.done <- err
		}
	}
}
