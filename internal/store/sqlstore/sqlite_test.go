package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore/groupcommit"
)

// TestFatalCode: a COMMIT that fails with an I/O error (a failed fsync
// above all) fails the SQLite store for good; one that failed for want of
// a lock, a descriptor or disk space rolled back whole and does not.
func TestFatalCode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		code  int
		fatal bool
	}{
		{"SQLITE_IOERR_FSYNC", sqlite3.SQLITE_IOERR_FSYNC, true},
		{"SQLITE_IOERR_WRITE", sqlite3.SQLITE_IOERR_WRITE, true},
		{"SQLITE_IOERR", sqlite3.SQLITE_IOERR, true},
		{"SQLITE_CANTOPEN", sqlite3.SQLITE_CANTOPEN, false},
		{"SQLITE_BUSY", sqlite3.SQLITE_BUSY, false},
		{"SQLITE_BUSY_SNAPSHOT", sqlite3.SQLITE_BUSY_SNAPSHOT, false},
		{"SQLITE_FULL", sqlite3.SQLITE_FULL, false},
		{"SQLITE_CONSTRAINT_FOREIGNKEY", sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, false},
	} {
		if got := fatalCode(tc.code); got != tc.fatal {
			t.Errorf("%s: fatal %t, want %t", tc.name, got, tc.fatal)
		}
	}
	if sqliteFatal(errors.New("input/output error")) {
		t.Error("an error that is not SQLite's is fatal")
	}
}

// TestFatalCommitFailsStore: once a COMMIT fails with an error the writer
// calls fatal, the store refuses writes and readiness, and Health reports
// it (so /healthz fails and an orchestrator restarts grantd). Reads go on:
// a commit that failed was never visible to them.
func TestFatalCommitFailsStore(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	if err := s.CreateDeviceGrant(ctx, grant(0)); err != nil {
		t.Fatal(err)
	}
	// A writer that takes every commit error as fatal, and a deferred
	// foreign key that fails a COMMIT on demand.
	if err := s.run.close(); err != nil {
		t.Fatal(err)
	}
	writer, err := groupcommit.New(ctx, s.w, groupcommit.Options{Fatal: func(error) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	s.run = sqliteRunner{writer}
	for _, q := range []string{
		`CREATE TABLE parent (id TEXT PRIMARY KEY)`,
		`CREATE TABLE child (parent_id TEXT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)`,
	} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Health(); err != nil {
		t.Fatalf("Health before the failed commit: %v", err)
	}
	if _, err := s.exec(ctx, "orphan", `INSERT INTO child (parent_id) VALUES ('none')`); err == nil {
		t.Fatal("the orphan's commit succeeded")
	}
	if err := s.Health(); err == nil {
		t.Error("Health after a fatal commit error: nil, want the error (only a restart mends it)")
	}
	if err := s.CreateDeviceGrant(ctx, grant(1)); err == nil {
		t.Error("a write after a fatal commit error succeeded")
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after a fatal commit error: nil, want the error")
	}
	if _, err := s.DeviceGrantByDeviceCode(ctx, grant(0).DeviceCodeHash); err != nil {
		t.Errorf("read of a durable write after a fatal commit error: %v", err)
	}
}

// TestDataVersion: SQLite's data version, read in a write transaction,
// stays the same through this Store's own commits and changes when another
// Store on the file (another process) commits.
func TestDataVersion(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "grantd.db")
	here, there := openTemp(t, path), openTemp(t, path)
	version := func() int64 {
		t.Helper()
		var v int64
		err := here.inTx(ctx, "read data version", func(ctx context.Context, tx *sql.Tx) (err error) {
			v, err = here.d.dataVersion(ctx, tx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := version()
	if err := here.CreateDeviceGrant(ctx, grant(0)); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != first {
		t.Errorf("data version after this store's own write: %d, want %d", v, first)
	}
	if err := there.CreateDeviceGrant(ctx, grant(1)); err != nil {
		t.Fatal(err)
	}
	if v := version(); v == first {
		t.Errorf("data version after another store's write: %d, unchanged", v)
	}
}

// TestPollRecordInRow: a poll's record (the last poll, the raised
// interval) is written to the grant's row, so that it survives a restart,
// graceful or not, for hashes in grantd's format and any other.
func TestPollRecordInRow(t *testing.T) {
	for _, graceful := range []bool{true, false} {
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "grantd.db")
		s, err := Open(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		grants := []store.DeviceGrant{grant(1), grant(2)}
		grants[0].DeviceCodeHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
		for _, g := range grants {
			if err := s.CreateDeviceGrant(ctx, g); err != nil {
				t.Fatal(err)
			}
			for _, at := range []time.Duration{0, time.Second} { // the second is slow: 10s from now on
				if _, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, g.ClientID, t0.Add(at)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if graceful {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Cleanup(func() { s.Close() }) // as after kill -9: the next store opens beside it
		}
		s = openTemp(t, path)
		for _, g := range grants {
			got, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
			if err != nil {
				t.Fatal(err)
			}
			if got.Interval != 10*time.Second || !got.LastPolledAt.Equal(t0.Add(time.Second)) {
				t.Errorf("graceful %t, %s after restart: interval %v, last poll %v; want 10s, %v",
					graceful, g.DeviceCodeHash, got.Interval, got.LastPolledAt, t0.Add(time.Second))
			}
			p, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, g.ClientID, t0.Add(6*time.Second))
			if err != nil || !p.SlowDown || p.Interval != 15*time.Second {
				t.Errorf("graceful %t, %s: poll 5s after the last, interval 10s: %+v, %v; want slow_down, 15s",
					graceful, g.DeviceCodeHash, p, err)
			}
		}
	}
}
