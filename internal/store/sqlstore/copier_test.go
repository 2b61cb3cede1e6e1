package sqlstore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/logtest"
)

// copierChild, when set in the environment, makes the test binary a
// checkpoint copier of the SQLite file it names (ServeCopies), as grantd's
// sqlite-copier sub-command is; copierFake makes it answer every request
// with the line the variable holds instead, or not at all if that is
// "hang", and copierFakeSync every "sync" request alone (likewise).
const (
	copierChild    = "GRANTD_SQLSTORE_COPIER_CHILD"
	copierFake     = "GRANTD_SQLSTORE_COPIER_FAKE"
	copierFakeSync = "GRANTD_SQLSTORE_COPIER_FAKE_SYNC"
)

func init() {
	path := os.Getenv(copierChild)
	if path == "" {
		return
	}
	if answer := os.Getenv(copierFake); answer != "" {
		for sc := bufio.NewScanner(os.Stdin); sc.Scan(); {
			if answer != "hang" {
				fmt.Println(answer)
			}
		}
		os.Exit(0)
	}
	var in io.Reader = os.Stdin
	if answer := os.Getenv(copierFakeSync); answer != "" {
		// The protocol is one request at a time, so the two writers of
		// the standard output never interleave.
		r, w, err := os.Pipe()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go func() {
			for sc := bufio.NewScanner(os.Stdin); sc.Scan(); {
				if sc.Text() == syncRequest {
					if answer != "hang" {
						fmt.Println(answer)
					}
				} else {
					fmt.Fprintln(w, sc.Text())
				}
			}
			w.Close()
		}()
		in = r
	}
	if err := ServeCopies(context.Background(), path, in, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// testCopier is Options.Copier for tests: the test binary as the copier,
// answering fake to every request when fake is not empty, and fakeSync to
// every "sync" when that is not.
func testCopier(fake, fakeSync string) func(path string) (*exec.Cmd, error) {
	return func(path string) (*exec.Cmd, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), copierChild+"="+path, copierFake+"="+fake, copierFakeSync+"="+fakeSync)
		return cmd, nil
	}
}

// openWithCopier opens a store in a temporary directory with testCopier
// and checkpoints every 50 pages, logging to log.
func openWithCopier(t *testing.T, fake string, log io.Writer) *Store {
	t.Helper()
	return openWithFakeSync(t, fake, "", log)
}

// openWithFakeSync is openWithCopier with a copier that answers fakeSync
// to every "sync" when that is not empty.
func openWithFakeSync(t *testing.T, fake, fakeSync string, log io.Writer) *Store {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := OpenWith(t.Context(), filepath.Join(t.TempDir(), "grantd.db"), logger, Options{Copier: testCopier(fake, fakeSync)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	smallCheckpoints(s, 50)
	return s
}

// writeUntil creates device grants from first on until cond holds, and
// fails after limit of them.
func writeUntil(t *testing.T, s *Store, first, limit int, what string, cond func() bool) int {
	t.Helper()
	i := first
	for ; !cond(); i++ {
		if err := s.CreateDeviceGrant(t.Context(), grant(i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if i-first > limit {
			t.Fatalf("%s: not after %d writes", what, limit)
		}
	}
	return i
}

// writeUntilFailed writes until the store fails after cause, then checks
// that a write gets an error naming want.
func writeUntilFailed(t *testing.T, s *Store, cause, want string) {
	t.Helper()
	for i := 0; s.Ping(t.Context()) == nil; i++ {
		if err := s.CreateDeviceGrant(t.Context(), grant(i)); err != nil {
			break
		}
		if i > 5000 {
			t.Fatalf("the store still works after 5,000 writes and %s", cause)
		}
	}
	waitFor(t, "the store to fail", func() bool { return s.Ping(t.Context()) != nil })
	if err := s.CreateDeviceGrant(t.Context(), grant(9999)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("write after %s: %v, want an error naming %q", cause, err, want)
	}
}

// processGone reports whether no process pid runs (or waits to be
// reaped): signal 0 reaches it otherwise.
func processGone(pid int) bool {
	p, err := os.FindProcess(pid)
	return err != nil || p.Signal(syscall.Signal(0)) != nil
}

// niceOf returns the nice value of process pid, from /proc/PID/stat.
func niceOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, from state (field 3): nice is 19.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCopierCopies: with a copier, the checkpoints' copies and the
// database file's fsyncs after them are made in its process, which runs
// 10 nice values below this one (on Linux), and the log stays short as it
// does with the copies made here (TestCheckpointKeepsLogShort); every
// write is still there, and Close ends the copier.
func TestCopierCopies(t *testing.T) {
	var log logtest.Buffer
	s := openWithCopier(t, "", &log)
	n := writeUntil(t, s, 0, 5000, "three copies and syncs by the copier", func() bool { return s.ckpt.copierSyncs.Load() >= 3 })
	if copies, syncs := s.ckpt.copierCopies.Load(), s.ckpt.copierSyncs.Load(); syncs > copies {
		t.Errorf("the copier made %d syncs after %d copies", syncs, copies)
	}
	for ; n < 2000; n++ {
		if err := s.CreateDeviceGrant(t.Context(), grant(n)); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(s.path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	const frame = 4096 + 24
	if frames := fi.Size() / frame; frames > 1000 {
		t.Errorf("write-ahead log of %d pages after %d writes and %d checkpoints; want at most 1,000",
			frames, n, s.ckpt.runs.Load())
	}
	pid := int(s.ckpt.copierPID.Load())
	if pid == 0 {
		t.Fatal("no copier running under load")
	}
	if runtime.GOOS == "linux" {
		if got, want := niceOf(t, pid), min(niceOf(t, os.Getpid())+copierNice, 19); got != want {
			t.Errorf("copier runs at nice %d, want %d", got, want)
		}
	}
	for i := range n {
		if _, err := s.DeviceGrantByDeviceCode(t.Context(), grant(i).DeviceCodeHash); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !processGone(pid) {
		t.Errorf("copier %d still there after Close", pid)
	}
	if log.String() != "" {
		t.Errorf("warnings: %s", log.String())
	}
}

// TestCopierGone: should the copier die, the checkpointer says so once and
// copies in its own process from then on; no write fails, and the log
// stays short.
func TestCopierGone(t *testing.T) {
	var log logtest.Buffer
	s := openWithCopier(t, "", &log)
	n := writeUntil(t, s, 0, 5000, "a copy by the copier", func() bool { return s.ckpt.copierCopies.Load() >= 1 })
	pid := int(s.ckpt.copierPID.Load())
	if p, err := os.FindProcess(pid); err != nil {
		t.Fatal(err)
	} else if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	runs := s.ckpt.runs.Load()
	writeUntil(t, s, n, 5000, "three checkpoints after the kill", func() bool { return s.ckpt.runs.Load() >= runs+3 })
	if got := strings.Count(log.String(), "the checkpoint copier is gone"); got != 1 {
		t.Errorf("%d warnings that the copier is gone, want 1; log:\n%s", got, log.String())
	}
	if s.ckpt.copierPID.Load() != 0 {
		t.Error("a copier was started again")
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("store after the copier died: %v", err)
	}
}

// TestCopierAnswers is the copier's side of the protocol: a PASSIVE
// checkpoint for each "copy", "ok" for a "sync", an error line for
// anything else, and a clean end when its input ends.
func TestCopierAnswers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grantd.db")
	s := openTemp(t, path)
	for i := range 20 {
		if err := s.CreateDeviceGrant(t.Context(), grant(i)); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := ServeCopies(t.Context(), path, strings.NewReader("copy\nsteal\ncopy\nsync\n"), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("answers %q, want 4 lines", lines)
	}
	if lines[3] != "ok" {
		t.Errorf("answer to a sync %q, want \"ok\"", lines[3])
	}
	for _, i := range []int{0, 2} {
		var logPages, copied int64
		if _, err := fmt.Sscanf(lines[i], "ok %d %d", &logPages, &copied); err != nil || logPages == 0 || copied != logPages {
			t.Errorf("answer %d %q: want \"ok N N\" with N > 0 (%v)", i, lines[i], err)
		}
	}
	if want := `err unknown request "steal"`; lines[1] != want {
		t.Errorf("answer to a bad request %q, want %q", lines[1], want)
	}
	if err := ServeCopies(t.Context(), "file:x?mode=memory", strings.NewReader(""), io.Discard); err == nil {
		t.Error("ServeCopies took a URI for a path")
	}
}

// TestCopierIOErrorFailsStore: an I/O error the copier reports fails the
// store, as one in this process does (TestCheckpointSyncFailureFailsStore);
// any other error it reports is retried.
func TestCopierIOErrorFailsStore(t *testing.T) {
	t.Run("ioerr", func(t *testing.T) {
		s := openWithCopier(t, "ioerr disk I/O error", io.Discard)
		writeUntilFailed(t, s, "a copier's I/O error", "disk I/O error")
	})
	t.Run("err", func(t *testing.T) {
		var log logtest.Buffer
		s := openWithCopier(t, "err database is locked", &log)
		writeUntil(t, s, 0, 5000, "three failed checkpoints", func() bool { return s.ckpt.runs.Load() >= 3 })
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("store after failed copies: %v", err)
		}
		if !strings.Contains(log.String(), "database is locked") {
			t.Errorf("the copier's error is not logged; log:\n%s", log.String())
		}
	})
	t.Run("no answer", func(t *testing.T) {
		var log logtest.Buffer
		s := openWithCopier(t, "hang", &log)
		s.ckpt.reply.Store(int64(200 * time.Millisecond))
		n := writeUntil(t, s, 0, 5000, "a checkpoint", func() bool { return s.ckpt.runs.Load() >= 1 })
		if !strings.Contains(log.String(), "no answer within 200ms") {
			t.Errorf("a copier that does not answer is kept; log:\n%s", log.String())
		}
		writeUntil(t, s, n, 5000, "two more checkpoints", func() bool { return s.ckpt.runs.Load() >= 3 })
	})
	t.Run("garbage", func(t *testing.T) {
		var log logtest.Buffer
		s := openWithCopier(t, "whatever", &log)
		n := writeUntil(t, s, 0, 5000, "a checkpoint", func() bool { return s.ckpt.runs.Load() >= 1 })
		if !strings.Contains(log.String(), "the checkpoint copier is gone") {
			t.Errorf("a copier answering garbage is kept; log:\n%s", log.String())
		}
		writeUntil(t, s, n, 5000, "two more checkpoints", func() bool { return s.ckpt.runs.Load() >= 3 })
	})
}

// TestCopierSyncRefused: a copier that cannot sync the database file (one
// from an older grantd answers that it does not know the request) leaves
// step 2 here, with one warning, and the checkpoints go on; one that
// leaves a sync unanswered is given up, as after a copy (TestCopierGone);
// one whose sync fails with an I/O error fails the store, as a failed fsync here does
// (TestCheckpointSyncFailureFailsStore).
func TestCopierSyncRefused(t *testing.T) {
	t.Run("unknown request", func(t *testing.T) {
		var log logtest.Buffer
		s := openWithFakeSync(t, "", `err unknown request "sync"`, &log)
		writeUntil(t, s, 0, 5000, "three copies by the copier", func() bool { return s.ckpt.copierCopies.Load() >= 3 })
		if got := strings.Count(log.String(), "cannot sync the database file"); got != 1 {
			t.Errorf("%d warnings that the copier cannot sync, want 1; log:\n%s", got, log.String())
		}
		if n := s.ckpt.copierSyncs.Load(); n != 0 {
			t.Errorf("%d syncs counted as the copier's", n)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("store after the copier refused to sync: %v", err)
		}
	})
	t.Run("no answer", func(t *testing.T) {
		var log logtest.Buffer
		s := openWithFakeSync(t, "", "hang", &log)
		s.ckpt.reply.Store(int64(200 * time.Millisecond))
		n := writeUntil(t, s, 0, 5000, "a checkpoint", func() bool { return s.ckpt.runs.Load() >= 1 })
		if got := strings.Count(log.String(), "the checkpoint copier is gone"); got != 1 {
			t.Errorf("%d warnings that the copier is gone, want 1; log:\n%s", got, log.String())
		}
		if s.ckpt.copierPID.Load() != 0 {
			t.Error("a copier that left a sync unanswered is kept")
		}
		writeUntil(t, s, n, 5000, "two more checkpoints", func() bool { return s.ckpt.runs.Load() >= 3 })
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("store after the copier left a sync unanswered: %v", err)
		}
	})
	t.Run("ioerr", func(t *testing.T) {
		s := openWithFakeSync(t, "", "ioerr fsync: input/output error", io.Discard)
		writeUntilFailed(t, s, "a copier's failed sync", "input/output error")
	})
}

// TestWriteBack: writeBack syncs a file of several chunks, an empty one,
// and fails on a closed one.
func TestWriteBack(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 2*writeBackChunk + 100} {
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(size)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(bytes.Repeat([]byte{'x'}, size)); err != nil {
			t.Fatal(err)
		}
		if err := writeBack(f); err != nil {
			t.Errorf("writeBack of %d bytes: %v", size, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := writeBack(f); err == nil {
			t.Errorf("writeBack of a closed file of %d bytes: no error", size)
		}
	}
}

// TestCopierCannotStart: a copier command that does not start leaves the
// copies here, with one warning.
func TestCopierCannotStart(t *testing.T) {
	var log logtest.Buffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	missing := func(string) (*exec.Cmd, error) {
		return exec.Command(filepath.Join(t.TempDir(), "no-such-grantd")), nil
	}
	s, err := OpenWith(t.Context(), filepath.Join(t.TempDir(), "grantd.db"), logger, Options{Copier: missing})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	smallCheckpoints(s, 50)
	writeUntil(t, s, 0, 5000, "three checkpoints", func() bool { return s.ckpt.runs.Load() >= 3 })
	if got := strings.Count(log.String(), "cannot start the checkpoint copier"); got != 1 {
		t.Errorf("%d warnings that the copier cannot start, want 1; log:\n%s", got, log.String())
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		t.Error(err)
	}
}

// TestCopierStopsWhenQuiet: once the writer is quiet for the idle time
// (10 s in grantd, 300 ms here), the checkpointer stops its copier, and
// starts one again when writes come back.
func TestCopierStopsWhenQuiet(t *testing.T) {
	s := openWithCopier(t, "", io.Discard)
	s.ckpt.idle.Store(int64(300 * time.Millisecond))
	n := writeUntil(t, s, 0, 5000, "a copy by the copier", func() bool { return s.ckpt.copierCopies.Load() >= 1 })
	pid := int(s.ckpt.copierPID.Load())
	waitFor(t, "the copier to stop", func() bool { return s.ckpt.copierPID.Load() == 0 })
	waitFor(t, "the copier's process to end", func() bool { return processGone(pid) })
	// The stopped copier is gone, so a copy now is a new copier's.
	copies := s.ckpt.copierCopies.Load()
	writeUntil(t, s, n, 5000, "a copy by a new copier", func() bool { return s.ckpt.copierCopies.Load() > copies })
}
