//go:build linux && (amd64 || arm64)

package sqlstore

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/grantd/grantd/internal/logtest"
)

// newTestAIOSyncer returns an asynchronous fsyncer logging to logger, and
// a new file to fsync; both are closed when the test ends. It skips the
// test where the kernel refuses asynchronous I/O.
func newTestAIOSyncer(t *testing.T, logger *slog.Logger) (*aioSyncer, *os.File) {
	t.Helper()
	fsy, why := newFsyncer(logger)
	if fsy == nil {
		t.Skipf("the kernel refuses asynchronous fsync here (%v): a blocking fsync serves", why)
	}
	a := fsy.(*aioSyncer)
	t.Cleanup(func() { _ = a.close() })
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = file.Close() })
	return a, file
}

// TestAIOSyncerFallsBack: a file the kernel cannot fsync asynchronously (a
// pipe: EINVAL at io_submit, as a kernel without IOCB_CMD_FSYNC answers)
// turns the fsyncer blocking, and says so once in the log: the fsync still
// happens, by f.Sync, and reports f.Sync's error; files fsync after it as
// before.
func TestAIOSyncerFallsBack(t *testing.T) {
	var log logtest.Buffer
	a, file := newTestAIOSyncer(t, slog.New(slog.NewTextHandler(&log, nil)))
	if _, err := file.WriteString("frame"); err != nil {
		t.Fatal(err)
	}
	if err := a.fsync(file); err != nil || a.blocking {
		t.Fatalf("fsync of a file: %v (blocking %v), want asynchronous success", err, a.blocking)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := a.fsync(w); !errors.Is(err, syscall.EINVAL) || !a.blocking {
		t.Errorf("fsync of a pipe: %v (blocking %v), want EINVAL from a blocking fsync", err, a.blocking)
	}
	if err := a.fsync(file); err != nil {
		t.Errorf("fsync of a file once blocking: %v", err)
	}
	if n := strings.Count(log.String(), "every write-ahead log fsync blocks from now on"); n != 1 {
		t.Errorf("the switch to blocking fsyncs logged %d times, want once; log:\n%s", n, log.String())
	}

	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	if err := a.fsync(file); err == nil {
		t.Error("fsync after close succeeded")
	}
	if err := a.close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// TestAIOSyncerBlocksOnceWhenFull: when the AIO context can queue no more
// (EAGAIN at io_submit, here made by filling it with fsyncs nobody reaps),
// the fsync is done blocking, succeeds, and the fsyncer stays
// asynchronous: a full queue is no refusal of the command.
func TestAIOSyncerBlocksOnceWhenFull(t *testing.T) {
	a, file := newTestAIOSyncer(t, slog.New(slog.DiscardHandler))
	raw, err := file.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	full := false
	for i := 0; i < 100_000 && !full; i++ {
		var submitErr error
		if err := raw.Control(func(fd uintptr) { submitErr = a.submit(fd) }); err != nil {
			t.Fatal(err)
		}
		switch {
		case errors.Is(submitErr, syscall.EAGAIN):
			full = true
		case submitErr != nil:
			t.Fatalf("submit %d: %v", i, submitErr)
		}
	}
	if !full {
		t.Skip("the kernel queued 100,000 fsyncs without refusing one")
	}
	if err := a.fsync(file); err != nil || a.blocking {
		t.Errorf("fsync with the queue full: %v (blocking %v), want a blocking success, still asynchronous after", err, a.blocking)
	}
}
