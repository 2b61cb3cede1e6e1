package sqlstore

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashChild, when set in the environment, makes the test binary a writer
// that TestCrashKeepsAcknowledgedWrites kills: it opens the SQLite file the
// variable names and writes until it is killed.
const crashChild = "GRANTD_SQLSTORE_CRASH_CHILD"

func init() {
	if path := os.Getenv(crashChild); path != "" {
		os.Exit(crashWriter(path, os.Getenv(crashChild+"_FROM")))
	}
}

// crashWriter creates device grants from the id from on, eight at a time,
// with a checkpoint every 16 pages, and prints each grant's id once the
// store has acknowledged it.
func crashWriter(path, from string) int {
	first, err := strconv.Atoi(from)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := Open(context.Background(), path, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// The writer's one connection keeps this setting: a checkpoint runs at
	// the commit that takes the log past 16 pages, every few commits.
	if _, err := s.w.ExecContext(context.Background(), `PRAGMA wal_autocheckpoint(16)`); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := first + w; ; i += 8 {
				if err := s.CreateDeviceGrant(context.Background(), grant(i)); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return
				}
				mu.Lock()
				fmt.Fprintln(os.Stdout, i) // unbuffered: written before the next write starts
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return 1
}

// TestCrashKeepsAcknowledgedWrites is REL-07 for the store: a process that
// writes with checkpoints running all the time (every 16 pages, so that
// the copy, the fsync of the database file and the log's restart are
// under way at any moment) is killed with SIGKILL at random points, twenty
// times; after each kill the file opens, passes SQLite's integrity check,
// and holds every write that was acknowledged. A kill is not a power cut
// (the kernel keeps what was written), so this tests SQLite's recovery of
// the log and the group commit's answers, not the disk.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes; skipped with -short")
	}
	path := filepath.Join(t.TempDir(), "grantd.db")
	acked := 0
	for round := range 20 {
		from := round * 1_000_000
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChild+"="+path, crashChild+"_FROM="+strconv.Itoa(from))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ids, started := make(chan []int, 1), make(chan struct{})
		go func() {
			var got []int
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, err := strconv.Atoi(sc.Text()); err == nil {
					if got = append(got, n); len(got) == 1 {
						close(started)
					}
				}
			}
			ids <- got
		}()
		// Killed at a random point once it writes (a race-detector build
		// takes a while to start).
		select {
		case <-started:
		case <-time.After(30 * time.Second):
		}
		time.Sleep(time.Duration(20+rand.IntN(200)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		got := <-ids
		cmd.Wait()
		if len(got) == 0 {
			t.Fatalf("round %d: the writer acknowledged nothing before the kill: %s", round, stderr.String())
		}
		acked += len(got)

		s, err := Open(t.Context(), path, nil)
		if err != nil {
			t.Fatalf("round %d: open after the kill: %v", round, err)
		}
		var check string
		if err := s.w.QueryRowContext(t.Context(), `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Fatalf("round %d: integrity check: %q, %v", round, check, err)
		}
		for _, n := range got {
			if _, err := s.DeviceGrantByDeviceCode(t.Context(), grant(n).DeviceCodeHash); err != nil {
				t.Fatalf("round %d: acknowledged write %d lost: %v", round, n, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
	}
	t.Logf("%d acknowledged writes over 20 kills, all kept", acked)
}
