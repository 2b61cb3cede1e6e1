package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// smallCheckpoints makes s checkpoint every pages pages.
func smallCheckpoints(s *Store, pages int64) {
	s.ckpt.pages.Store(pages)
	s.ckpt.due.Store(s.ckpt.total.Load() + pages)
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestCheckpointOffTheWriter: a checkpoint runs beside the writer, not in
// it. While one is held half-way, writes go on committing and their
// callers are answered; the checkpoint then completes.
func TestCheckpointOffTheWriter(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	entered, release := make(chan struct{}, 16), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce)
	real := s.ckpt.copy
	s.ckpt.copy = func(quiet bool) (int64, int64, error) {
		entered <- struct{}{}
		<-release
		return real(quiet)
	}
	smallCheckpoints(s, 8)
	n := 0
	for len(entered) == 0 {
		if err := s.CreateDeviceGrant(ctx, grant(n)); err != nil {
			t.Fatal(err)
		}
		if n++; n > 1000 {
			t.Fatal("no checkpoint after 1,000 writes")
		}
	}
	// The checkpoint is held: the writer goes on regardless.
	held, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i := range 50 {
		if err := s.CreateDeviceGrant(held, grant(n+i)); err != nil {
			t.Fatalf("write %d while a checkpoint is held: %v", i, err)
		}
	}
	releaseOnce()
	waitFor(t, "the held checkpoint", func() bool { return s.ckpt.runs.Load() >= 1 })
	if _, err := s.DeviceGrantByDeviceCode(ctx, grant(n+49).DeviceCodeHash); err != nil {
		t.Errorf("last write after the checkpoint: %v", err)
	}
}

// TestCheckpointKeepsLogShort: with checkpoints every 50 pages, the
// write-ahead log is copied and restarted as writes go on, so that it stays
// a small multiple of that however much is written; without the
// checkpointer, the writer's backstop would let it grow to 400 MB.
func TestCheckpointKeepsLogShort(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "grantd.db")
	s := openTemp(t, path)
	smallCheckpoints(s, 50)
	for i := range 2000 {
		if err := s.CreateDeviceGrant(ctx, grant(i)); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	const frame = 4096 + 24
	if frames := fi.Size() / frame; frames > 1000 {
		t.Errorf("write-ahead log of %d pages after 2,000 writes and %d checkpoints; want at most 1,000",
			frames, s.ckpt.runs.Load())
	}
	if s.ckpt.runs.Load() == 0 {
		t.Error("no checkpoint ran")
	}
}

// TestCheckpointFailureRetried: a checkpoint that fails with anything but
// an I/O error is logged and tried again when due; the store goes on.
func TestCheckpointFailureRetried(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	var mu sync.Mutex
	failures := 0
	real := s.ckpt.copy
	s.ckpt.copy = func(quiet bool) (int64, int64, error) {
		mu.Lock()
		defer mu.Unlock()
		if failures < 2 {
			failures++
			return 0, 0, errors.New("injected failure")
		}
		return real(quiet)
	}
	smallCheckpoints(s, 8)
	for i := 0; s.ckpt.runs.Load() < 3; i++ {
		if err := s.CreateDeviceGrant(ctx, grant(i)); err != nil {
			t.Fatalf("write %d after failed checkpoints: %v", i, err)
		}
		if i > 5000 {
			t.Fatalf("%d checkpoints after 5,000 writes", s.ckpt.runs.Load())
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("store after failed checkpoints: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if failures != 2 {
		t.Errorf("%d checkpoints failed, want 2", failures)
	}
}

// TestCheckpointSyncFailureFailsStore: when the fsync of the database file
// after a copy fails, the store fails for good, as after a failed fsync of
// the log (TestFailedSync): the kernel may have dropped what it could not
// write, and the log would be restarted over the only other copy.
func TestCheckpointSyncFailureFailsStore(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	s.ckpt.syncDB = func() error { return errors.New("input/output error") }
	smallCheckpoints(s, 8)
	for i := 0; s.ckpt.runs.Load() == 0; i++ {
		if err := s.CreateDeviceGrant(ctx, grant(i)); err != nil {
			break // the store may fail under this loop
		}
		if i > 5000 {
			t.Fatal("no checkpoint after 5,000 writes")
		}
	}
	waitFor(t, "the store to fail", func() bool { return s.Ping(ctx) != nil })
	if err := s.CreateDeviceGrant(ctx, grant(9999)); err == nil {
		t.Error("a write succeeded after the database file could not be synced")
	}
	if _, err := s.DeviceGrantByDeviceCode(ctx, grant(0).DeviceCodeHash); err == nil {
		t.Error("a read succeeded after the database file could not be synced")
	}
}

// TestCheckpointCannotOpen: a checkpoint whose database file cannot be
// opened for its fsync (EMFILE) has lost nothing: the store stays up, and
// the next checkpoint tries again.
func TestCheckpointCannotOpen(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	var attempts atomic.Int64
	s.ckpt.syncDB = func() error {
		attempts.Add(1)
		return fmt.Errorf("%w: open grantd.db: too many open files", errCannotOpen)
	}
	smallCheckpoints(s, 8)
	for i := 0; attempts.Load() < 2; i++ {
		if err := s.CreateDeviceGrant(ctx, grant(i)); err != nil {
			t.Fatalf("write %d while checkpoints cannot open the file: %v", i, err)
		}
		if i > 5000 {
			t.Fatalf("%d checkpoint fsyncs after 5,000 writes, want 2 tries", attempts.Load())
		}
	}
	if err := s.Health(); err != nil {
		t.Errorf("Health after checkpoints that could not open the file: %v", err)
	}
}

// TestCheckpointWithoutPageCounts: should the driver not report how many
// pages a commit logged, each commit counts as one page, so that the
// checkpoints still come (by checkpointIdle at the latest), and the warning
// is logged once, not at every commit.
func TestCheckpointWithoutPageCounts(t *testing.T) {
	// A pool whose connections cannot be made: the page count cannot be read.
	unreachable, err := sql.Open("pgx", "postgres://127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer unreachable.Close()
	var logs strings.Builder
	k := &checkpointer{writer: unreachable, logger: slog.New(slog.NewTextHandler(&logs, nil)), kick: make(chan struct{}, 1)}
	k.due.Store(1 << 40)
	for range 3 {
		k.committed()
	}
	if got := k.total.Load(); got != 3 {
		t.Errorf("3 commits counted as %d pages, want 3", got)
	}
	if n := strings.Count(logs.String(), "checkpointing by time alone"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, logs.String())
	}
}
