package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// holdWriter runs a write that keeps the writer busy until release is
// called, so that writes queued meanwhile form the next batch.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	running, unblock, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.inTx(context.Background(), "hold", func(context.Context, *sql.Tx) error {
			close(running)
			<-unblock
			return nil
		})
	}()
	<-running
	return func() {
		close(unblock)
		if err := <-done; err != nil {
			t.Errorf("held write: %v", err)
		}
	}
}

// waitQueued waits until n writes are queued for the writer.
func waitQueued(s *Store, n int) {
	for len(s.writer.ops) < n {
		runtime.Gosched()
	}
}

// TestGroupCommitBatch queues writes behind a busy writer: they commit in
// one transaction, each caller gets its own answer (a duplicate, a lost
// race or a redemption that fails half-way does not disturb the others, nor
// leave anything behind), and a caller that is answered finds its write
// committed.
func TestGroupCommitBatch(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	s.writer.maxWork = time.Hour
	createU1(t, s)
	pending, approved, other := grant(0), grant(1), grant(2)
	for _, g := range []store.DeviceGrant{pending, approved, other} {
		if err := s.CreateDeviceGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []store.DeviceGrant{approved, other} {
		if _, err := s.DecideDeviceGrant(ctx, g.UserCode, store.Decision{Approve: true, UserID: "u1"}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RedeemDeviceGrant(ctx, other.DeviceCodeHash, "tv", t0, userGrant("taken"), nil); err != nil {
		t.Fatal(err)
	}
	const writes = 24
	want := []error{nil, store.ErrAlreadyExists, store.ErrConflict, store.ErrAlreadyExists}
	commits := s.writer.commits.Load()
	release := holdWriter(t, s)
	errs := make([]error, writes)
	var wg sync.WaitGroup
	for i := range writes {
		wg.Go(func() {
			switch i % 4 {
			case 0: // a new grant
				g := grant(100 + i)
				if errs[i] = s.CreateDeviceGrant(ctx, g); errs[i] == nil {
					if _, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash); err != nil {
						t.Errorf("write %d answered before it was committed: %v", i, err)
					}
				}
			case 1: // the pending grant's user code again
				g := grant(100 + i)
				g.UserCode = pending.UserCode
				errs[i] = s.CreateDeviceGrant(ctx, g)
			case 2: // redeem the pending grant: a conditional update that loses
				errs[i] = s.RedeemDeviceGrant(ctx, pending.DeviceCodeHash, "tv", t0, userGrant("g"), nil)
			default: // redeem the approved grant into a grant id that is taken: fails after its update
				errs[i] = s.RedeemDeviceGrant(ctx, approved.DeviceCodeHash, "tv", t0, userGrant("taken"), nil)
			}
		})
	}
	waitQueued(s, writes)
	release()
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, want[i%4]) {
			t.Errorf("write %d: %v, want %v", i, err, want[i%4])
		}
	}
	if n := s.writer.commits.Load() - commits; n != 2 {
		t.Errorf("%d commits for the held write and %d queued ones, want 2", n, writes)
	}
	for _, g := range []store.DeviceGrant{pending, approved} {
		got, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
		if err != nil {
			t.Fatal(err)
		}
		if wantState := map[string]store.DeviceState{pending.DeviceCodeHash: store.DevicePending,
			approved.DeviceCodeHash: store.DeviceApproved}[g.DeviceCodeHash]; got.State != wantState {
			t.Errorf("%s after failed redemptions: %s, want %s", g.DeviceCodeHash, got.State, wantState)
		}
	}
}

// TestGroupCommitFailedCommit: when COMMIT fails, every write of the batch
// gets its error and none is stored, including one that lost a race, whose
// loss must not become a definitive answer.
func TestGroupCommitFailedCommit(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	s.writer.maxWork = time.Hour
	// A deferred foreign key is checked at COMMIT.
	for _, q := range []string{
		`CREATE TABLE parent (id TEXT PRIMARY KEY)`,
		`CREATE TABLE child (parent_id TEXT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)`,
	} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	pending := grant(0)
	if err := s.CreateDeviceGrant(ctx, pending); err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = s.CreateDeviceGrant(ctx, grant(1)) })
	wg.Go(func() { _, errs[1] = s.exec(ctx, "orphan", `INSERT INTO child (parent_id) VALUES ('none')`) })
	wg.Go(func() {
		errs[2] = s.RedeemDeviceGrant(ctx, pending.DeviceCodeHash, "tv", t0, userGrant("g"), nil)
	})
	wg.Go(func() { errs[3] = s.CreateDeviceGrant(ctx, grant(3)) })
	waitQueued(s, len(errs))
	release()
	wg.Wait()
	for i, err := range errs {
		if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("write %d of a batch whose commit failed: %v, want the commit's error", i, err)
		}
	}
	for _, n := range []int{1, 3} {
		if _, err := s.DeviceGrantByDeviceCode(ctx, grant(n).DeviceCodeHash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("grant %d of a failed batch: %v, want ErrNotFound", n, err)
		}
	}
	if err := s.CreateDeviceGrant(ctx, grant(4)); err != nil {
		t.Errorf("write after a failed batch: %v", err)
	}
}

// TestGroupCommitCancel: a caller whose context ends while its write is
// queued is answered at once and its write never runs; a caller whose
// context ends after its write started gets the write's result.
func TestGroupCommitCancel(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	release := holdWriter(t, s)
	queued, cancelQueued := context.WithCancel(ctx)
	queuedErr := make(chan error, 1)
	go func() { queuedErr <- s.CreateDeviceGrant(queued, grant(1)) }()
	waitQueued(s, 1)
	cancelQueued()
	if err := <-queuedErr; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while queued: %v, want context.Canceled", err)
	}
	release()

	running, cancelRunning := context.WithCancel(ctx)
	err := s.inTx(running, "cancelled while running", func(ctx context.Context, tx *sql.Tx) error {
		cancelRunning()
		_, err := tx.StmtContext(ctx, s.st.insertDevice).ExecContext(ctx, "dc-2", "UC2", "tv", "[]",
			int64(5*time.Second), nanos(t0), nanos(t0.Add(time.Minute)))
		return err
	})
	if err != nil {
		t.Errorf("cancelled while running: %v, want its result (nil)", err)
	}
	if _, err := s.DeviceGrantByDeviceCode(ctx, grant(1).DeviceCodeHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("write cancelled while queued: %v, want ErrNotFound", err)
	}
	if _, err := s.DeviceGrantByDeviceCode(ctx, "dc-2"); err != nil {
		t.Errorf("write cancelled while running: %v, want it stored", err)
	}
}

// TestGroupCommitPanic: a write that panics panics in its caller, and the
// other writes of its batch are stored.
func TestGroupCommitPanic(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	s.writer.maxWork = time.Hour
	release := holdWriter(t, s)
	var (
		recovered any
		createErr error
		wg        sync.WaitGroup
	)
	wg.Go(func() {
		defer func() { recovered = recover() }()
		_ = s.inTx(ctx, "panic", func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `DELETE FROM device_grants`); err != nil {
				return err
			}
			panic("boom")
		})
	})
	wg.Go(func() { createErr = s.CreateDeviceGrant(ctx, grant(1)) })
	waitQueued(s, 2)
	release()
	wg.Wait()
	if recovered != "boom" {
		t.Errorf("caller of the panicking write recovered %v, want boom", recovered)
	}
	if createErr != nil {
		t.Errorf("write batched with a panic: %v", createErr)
	}
	if _, err := s.DeviceGrantByDeviceCode(ctx, grant(1).DeviceCodeHash); err != nil {
		t.Errorf("write batched with a panic: %v, want it stored", err)
	}
}

// TestGroupCommitClose: Close lets queued writes commit; a write after
// Close fails.
func TestGroupCommitClose(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "grantd.db")
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s)
	const writes = 5
	errs := make([]error, writes)
	var wg sync.WaitGroup
	for i := range writes {
		wg.Go(func() { errs[i] = s.CreateDeviceGrant(ctx, grant(i)) })
	}
	waitQueued(s, writes)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	release()
	wg.Wait()
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d queued before Close: %v", i, err)
		}
	}
	if err := s.CreateDeviceGrant(ctx, grant(writes)); err == nil {
		t.Error("write after Close succeeded")
	}
	s = openTemp(t, path)
	for i := range writes {
		if _, err := s.DeviceGrantByDeviceCode(ctx, grant(i).DeviceCodeHash); err != nil {
			t.Errorf("write %d queued before Close, after reopening: %v", i, err)
		}
	}
}
