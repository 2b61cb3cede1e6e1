package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// heldSync replaces the committer's fsync with one that waits, after
// announcing itself on entered, until release is called (at the latest
// when t ends), then syncs for real.
func heldSync(t *testing.T, s *Store) (entered <-chan struct{}, release func()) {
	in, out := make(chan struct{}, 64), make(chan struct{})
	real := s.writer.sync
	s.writer.sync = func() error {
		in <- struct{}{}
		<-out
		return real()
	}
	release = sync.OnceFunc(func() { close(out) })
	t.Cleanup(release)
	return in, release
}

// TestPipelinedCommit is the pipelined group commit (REL-07): while a
// batch's fsync is under way, its callers wait, the next batch commits,
// a write that lost to the batch being synced waits too, and so does a
// read that could see it: nothing is told of a write before it is
// durable.
func TestPipelinedCommit(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	createU1(t, s)
	approved := grant(0)
	if err := s.CreateDeviceGrant(ctx, approved); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DecideDeviceGrant(ctx, approved.UserCode, store.Decision{Approve: true, UserID: "u1"}, t0); err != nil {
		t.Fatal(err)
	}
	entered, release := heldSync(t, s)
	commits := s.writer.commits.Load()

	redeemed := make(chan error, 1)
	go func() { redeemed <- s.RedeemDeviceGrant(ctx, approved.DeviceCodeHash, "tv", t0, userGrant("g1"), nil) }()
	<-entered // the redemption is committed, and being synced
	select {
	case err := <-redeemed:
		t.Fatalf("redemption answered (%v) before its fsync", err)
	default:
	}

	lost := make(chan error, 1)
	go func() { lost <- s.RedeemDeviceGrant(ctx, approved.DeviceCodeHash, "tv", t0, userGrant("g2"), nil) }()
	created := make(chan error, 1)
	go func() { created <- s.CreateDeviceGrant(ctx, grant(1)) }()
	// The writer goes on: the creation commits while the first fsync waits.
	for deadline := time.Now().Add(10 * time.Second); s.writer.commits.Load() < commits+2; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("the next batch did not commit while an fsync was under way")
		}
	}
	type result struct {
		g   store.DeviceGrant
		err error
	}
	read := make(chan result, 1)
	go func() {
		g, err := s.DeviceGrantByDeviceCode(ctx, approved.DeviceCodeHash)
		read <- result{g, err}
	}()
	// None of them may be answered while the fsync waits; give a wrong
	// answer time to show.
	select {
	case err := <-redeemed:
		t.Fatalf("redemption answered (%v) before its fsync", err)
	case err := <-lost:
		t.Fatalf("a write that lost to an unsynced one was answered (%v) before the winner was durable", err)
	case err := <-created:
		t.Fatalf("creation answered (%v) before its fsync", err)
	case r := <-read:
		t.Fatalf("a read returned (state %q, %v) while a commit it sees is not yet durable", r.g.State, r.err)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	if err := <-redeemed; err != nil {
		t.Errorf("redemption: %v", err)
	}
	if err := <-lost; !errors.Is(err, store.ErrConflict) {
		t.Errorf("second redemption: %v, want ErrConflict", err)
	}
	if err := <-created; err != nil {
		t.Errorf("creation: %v", err)
	}
	if r := <-read; r.err != nil || r.g.State != store.DeviceIssued {
		t.Errorf("read after the fsync: state %q, %v; want %q", r.g.State, r.err, store.DeviceIssued)
	}
}

// TestFailedSync: when the fsync fails, the batch's callers get its error,
// and from then on the store refuses writes, reads and readiness, since
// the kernel may have dropped pages a later fsync would not report.
func TestFailedSync(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	if err := s.CreateDeviceGrant(ctx, grant(0)); err != nil {
		t.Fatal(err)
	}
	errDisk := errors.New("EIO")
	s.writer.sync = func() error { return errDisk }
	if err := s.CreateDeviceGrant(ctx, grant(1)); !errors.Is(err, errDisk) {
		t.Errorf("write whose fsync failed: %v, want %v", err, errDisk)
	}
	if err := s.CreateDeviceGrant(ctx, grant(2)); !errors.Is(err, errDisk) {
		t.Errorf("write after a failed fsync: %v, want %v", err, errDisk)
	}
	if _, err := s.DeviceGrantByDeviceCode(ctx, grant(0).DeviceCodeHash); !errors.Is(err, errDisk) {
		t.Errorf("read after a failed fsync: %v, want %v", err, errDisk)
	}
	if err := s.Ping(ctx); !errors.Is(err, errDisk) {
		t.Errorf("Ping after a failed fsync: %v, want %v", err, errDisk)
	}
	if err := s.Health(); !errors.Is(err, errDisk) {
		t.Errorf("Health after a failed fsync: %v, want %v (only a restart mends it)", err, errDisk)
	}
}

// TestLogFiles: the committer's fsync syncs the write-ahead log, or the
// database file when the log is gone, and fails when neither exists; it
// opens a file once and holds it, so that later fsyncs need no descriptor,
// and opens the new one when the path names another file; with the
// platform's fsyncer and with a blocking fsync alike.
func TestLogFiles(t *testing.T) {
	fsy, _ := newFsyncer(slog.New(slog.DiscardHandler))
	if fsy != nil {
		t.Cleanup(func() { _ = fsy.close() })
	}
	for _, c := range []struct {
		name string
		sy   fsyncer
	}{{"blocking", nil}, {"platform", fsy}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "grantd.db")
			files := newLogFiles(path)
			defer files.Close()
			if err := files.sync(c.sy); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("no files: %v, want ErrNotExist", err)
			}
			for _, name := range []string{path, path + "-wal"} {
				if err := os.WriteFile(name, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := files.sync(c.sy); err != nil {
					t.Errorf("with %s: %v", filepath.Base(name), err)
				}
			}
			before := openFiles(t)
			for range 10 {
				if err := files.sync(c.sy); err != nil {
					t.Fatal(err)
				}
			}
			if after := openFiles(t); after != before {
				t.Errorf("open descriptors %d after 10 fsyncs, %d before: want the log held, not reopened", after, before)
			}
			held := files.wal.f
			if err := os.Remove(path + "-wal"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+"-wal", []byte("y"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := files.sync(c.sy); err != nil || files.wal.f == held {
				t.Errorf("after the log was made anew: %v, reopened %v; want the new file synced", err, files.wal.f != held)
			}
		})
	}
}

// openFiles counts the process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(fds)
}

// TestSyncCannotOpen: an fsync whose file cannot be opened (EMFILE, say)
// loses nothing, so it does not fail the store. The writes waiting for it
// get the error after syncPatience and reads of what they wrote get it at
// once, so the server answers 503 rather than hanging; liveness stays
// good; and once the file opens again the syncer, retrying by itself,
// makes those writes durable and the store answers as before, with no
// restart.
func TestSyncCannotOpen(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	real := s.writer.sync
	var mu sync.Mutex
	out := true
	s.writer.sync = func() error {
		mu.Lock()
		defer mu.Unlock()
		if out {
			return fmt.Errorf("%w: open grantd.db-wal: too many open files", errCannotOpen)
		}
		return real()
	}
	if err := s.CreateDeviceGrant(ctx, grant(0)); !errors.Is(err, errCannotOpen) {
		t.Fatalf("write without descriptors: %v, want errCannotOpen", err)
	}
	if _, err := s.DeviceGrantByDeviceCode(ctx, grant(0).DeviceCodeHash); !errors.Is(err, errCannotOpen) {
		t.Errorf("read of an unsynced write: %v, want errCannotOpen at once", err)
	}
	if err := s.Health(); err != nil {
		t.Errorf("Health while descriptors are out: %v, want nil (it heals)", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping while commits cannot be synced: nil, want an error (not ready)")
	}
	mu.Lock()
	out = false
	mu.Unlock()
	waitFor(t, "the store to heal", func() bool { return s.Ping(ctx) == nil })
	if g, err := s.DeviceGrantByDeviceCode(ctx, grant(0).DeviceCodeHash); err != nil || g.State != store.DevicePending {
		t.Errorf("after healing, the write answered with an error: %v, %v; want it durable after all", g.State, err)
	}
	if err := s.CreateDeviceGrant(ctx, grant(1)); err != nil {
		t.Errorf("write after healing: %v", err)
	}
}

// TestReadWithNothingInFlight: a read waits for nothing when every commit
// is durable, and honours its context when it must wait.
func TestReadWithNothingInFlight(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	if err := s.CreateDeviceGrant(ctx, grant(0)); err != nil {
		t.Fatal(err)
	}
	if d, q := s.writer.durable.Load(), s.writer.seq.Load(); d != q {
		t.Fatalf("after an answered write: durable %d, committed %d", d, q)
	}
	if _, err := s.DeviceGrantByDeviceCode(ctx, grant(0).DeviceCodeHash); err != nil {
		t.Fatal(err)
	}
	entered, _ := heldSync(t, s)
	go func() { _ = s.CreateDeviceGrant(context.Background(), grant(1)) }()
	<-entered
	rctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.DeviceGrantByDeviceCode(rctx, grant(0).DeviceCodeHash); !errors.Is(err, context.Canceled) {
		t.Errorf("read with a cancelled context while a commit is unsynced: %v, want context.Canceled", err)
	}
}

// TestPollSettlesFinalAnswers: a poll that reads a decision not yet durable
// waits for it when the decision is a denial, which the device would act
// on at once; it does not when it is an approval, which reaches the device
// only through a redemption, answered after its own fsync and so after the
// approval's.
func TestPollSettlesFinalAnswers(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "grantd.db")
	s := openTemp(t, path)
	// Made by another process's Store, so that s's poll book does not know
	// the grants pending and its polls read their rows.
	other := openTemp(t, path)
	approved, denied, warm := grant(0), grant(1), grant(2)
	for _, g := range []store.DeviceGrant{approved, denied, warm} {
		if err := other.CreateDeviceGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	// A first poll runs the check for other writers (a write) now, not
	// while the fsync is held.
	if _, err := s.PollDeviceGrant(ctx, warm.DeviceCodeHash, "tv", t0); err != nil {
		t.Fatal(err)
	}
	_, release := heldSync(t, s)
	commits := s.writer.commits.Load()
	decided := make(chan error, 2)
	// Both decisions commit, one after the other; the first fsync is held,
	// so neither is durable.
	for i, d := range []struct {
		g       store.DeviceGrant
		approve bool
	}{{approved, true}, {denied, false}} {
		go func() {
			_, err := s.DecideDeviceGrant(ctx, d.g.UserCode, store.Decision{Approve: d.approve, UserID: "u1"}, t0)
			decided <- err
		}()
		for deadline := time.Now().Add(10 * time.Second); s.writer.commits.Load() < commits+int64(i)+1; runtime.Gosched() {
			if time.Now().After(deadline) {
				t.Fatalf("decision %d did not commit", i)
			}
		}
	}

	soon, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := s.PollDeviceGrant(soon, approved.DeviceCodeHash, "tv", t0)
	if err != nil || p.State != store.DeviceApproved {
		t.Fatalf("poll of the approved grant: %+v, %v (it must not wait for the approval's fsync)", p, err)
	}
	polled := make(chan store.PollResult, 1)
	go func() {
		p, _ := s.PollDeviceGrant(ctx, denied.DeviceCodeHash, "tv", t0)
		polled <- p
	}()
	select {
	case p := <-polled:
		t.Fatalf("a poll answered %q before the denial was durable", p.State)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	if p := <-polled; p.State != store.DeviceDenied {
		t.Errorf("poll after the fsync: %q, want denied", p.State)
	}
	for range 2 {
		if err := <-decided; err != nil {
			t.Errorf("decision: %v", err)
		}
	}
}
