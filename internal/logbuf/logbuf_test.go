package logbuf

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/grantd/grantd/internal/logtest"
)

func TestInfoIsBatchedWarningsAreNot(t *testing.T) {
	out := &logtest.Buffer{}
	w := New(out, 4096, time.Hour) // no periodic flush during the test
	defer w.Close()
	log := slog.New(Handler(slog.NewTextHandler(w, nil), w))
	for i := range 10 {
		log.Info("request", "n", i)
	}
	if got := out.String(); got != "" {
		t.Fatalf("info lines written before a flush: %q", got)
	}
	log.With("component", "x").Warn("something is off")
	got := out.String()
	if strings.Count(got, "msg=request") != 10 || !strings.Contains(got, "level=WARN") || !strings.Contains(got, "component=x") {
		t.Fatalf("after a warning, want the 10 info lines and the warning, got %q", got)
	}
	if out.Writes() != 1 {
		t.Errorf("%d writes for 11 lines, want 1", out.Writes())
	}
}

// TestPeriodicFlushAndClose: a line waits for the interval, no longer,
// and Close writes what is left.
func TestPeriodicFlushAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &logtest.Buffer{}
		w := New(out, 4096, 10*time.Millisecond)
		fmt.Fprintln(w, "first")
		time.Sleep(10*time.Millisecond - time.Nanosecond)
		synctest.Wait()
		if got := out.String(); got != "" {
			t.Fatalf("written before the interval: %q", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := out.String(); got != "first\n" {
			t.Fatalf("the periodic flush wrote %q, want the line", got)
		}
		fmt.Fprintln(w, "last")
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); got != "first\nlast\n" {
			t.Errorf("after Close: %q", got)
		}
	})
}

func TestLinesAreNeverSplit(t *testing.T) {
	out := &logtest.Buffer{}
	w := New(out, 64, time.Hour)
	defer w.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				fmt.Fprintf(w, "goroutine %d line %03d of the log\n", g, i)
			}
		})
	}
	wg.Wait()
	w.Flush()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, l := range lines {
		var g, i int
		if n, _ := fmt.Sscanf(l, "goroutine %d line %d of the log", &g, &i); n != 2 {
			t.Fatalf("mangled line %q", l)
		}
	}
	long := strings.Repeat("x", 200) + "\n"
	fmt.Fprint(w, long)
	w.Flush()
	if !strings.HasSuffix(out.String(), long) {
		t.Errorf("a line longer than the buffer was not written whole")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrorIsReported(t *testing.T) {
	w := New(failingWriter{}, 16, time.Hour)
	defer w.Close()
	fmt.Fprint(w, "0123456789")
	if err := w.Flush(); err == nil {
		t.Fatal("Flush to a failing writer succeeded")
	}
	if _, err := fmt.Fprint(w, "more"); err == nil {
		t.Error("Write after a failed flush succeeded")
	}
}
