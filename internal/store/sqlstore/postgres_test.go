package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore/pgtest"
	"github.com/grantd/grantd/internal/store/storetest"
)

// openPostgresTest opens a store on rawURL, closed when tb ends.
func openPostgresTest(tb testing.TB, rawURL string) *Store {
	tb.Helper()
	s, err := OpenPostgres(context.Background(), rawURL, nil)
	if err != nil {
		tb.Fatalf("OpenPostgres: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestPostgresConformance(t *testing.T) {
	pgtest.URL(t) // skips early when unset
	storetest.Run(t, func(t *testing.T) store.Store {
		return openPostgresTest(t, pgtest.URL(t))
	})
}

func TestPostgresUpgradeFromV1(t *testing.T) {
	rawURL := pgtest.URL(t)
	cfg, _, _, err := parsePostgresURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	testUpgradeFromV1(t, db, postgresDialect, func() *Store { return openPostgresTest(t, rawURL) })
}

// TestPostgresConcurrentMigrate starts eight instances on one empty schema
// at once: every one succeeds and each migration is applied once.
func TestPostgresConcurrentMigrate(t *testing.T) {
	rawURL := pgtest.URL(t)
	const instances = 8
	var wg sync.WaitGroup
	versions := make([]int, instances)
	errs := make([]error, instances)
	for i := range instances {
		wg.Go(func() {
			if i%2 == 0 {
				versions[i], errs[i] = MigratePostgres(t.Context(), rawURL, nil)
				return
			}
			var s *Store
			if s, errs[i] = OpenPostgres(t.Context(), rawURL, nil); errs[i] == nil {
				versions[i], errs[i] = schemaVersion(t.Context(), s.w)
				s.Close()
			}
		})
	}
	wg.Wait()
	for i := range instances {
		if want := postgresDialect.migrations[len(postgresDialect.migrations)-1].version; errs[i] != nil || versions[i] != want {
			t.Errorf("instance %d: version %d, %v; want %d", i, versions[i], errs[i], want)
		}
	}
	s := openPostgresTest(t, rawURL)
	var count int
	if err := s.r.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != len(migrations) {
		t.Errorf("%d migrations recorded, want %d", count, len(migrations))
	}
}

// TestPostgresSettings checks the pool and session settings, by default
// and as the URL overrides them.
func TestPostgresSettings(t *testing.T) {
	for _, tc := range []struct {
		params               []string
		maxConns             int
		timeout, idleTimeout string
	}{
		{nil, 2*runtime.GOMAXPROCS(0) + 4, "5s", "30s"},
		{[]string{"pool_max_conns", "3", "statement_timeout", "250ms"}, 3, "250ms", "30s"},
	} {
		s := openPostgresTest(t, pgtest.URL(t, tc.params...))
		if got := s.w.Stats().MaxOpenConnections; got != tc.maxConns {
			t.Errorf("%v: MaxOpenConnections = %d, want %d", tc.params, got, tc.maxConns)
		}
		for name, want := range map[string]string{
			"statement_timeout":                   tc.timeout,
			"idle_in_transaction_session_timeout": tc.idleTimeout,
			"transaction_isolation":               "read committed",
		} {
			var got string
			if err := s.r.QueryRowContext(t.Context(), "SHOW "+name).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%v: %s = %s, want %s", tc.params, name, got, want)
			}
		}
	}
}

// TestPostgresStatementTimeout is REL-01's "no hang": a verb blocked on a
// row lock that another session holds fails with a plain error (never a
// sentinel, which would be a definitive answer) once statement_timeout
// passes, and works again once the lock is gone.
func TestPostgresStatementTimeout(t *testing.T) {
	rawURL := pgtest.URL(t, "statement_timeout", "200ms")
	s := openPostgresTest(t, rawURL)
	ctx := t.Context()
	g := grant(1)
	if err := s.CreateDeviceGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	other := openPostgresTest(t, rawURL)
	tx, err := other.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM device_grants WHERE device_code_hash = $1 FOR UPDATE`,
		g.DeviceCodeHash); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.PollDeviceGrant(ctx, g.DeviceCodeHash, g.ClientID, t0.Add(time.Minute))
	if elapsed := time.Since(start); err == nil || elapsed > 3*time.Second {
		t.Fatalf("poll behind a held lock: %v after %v; want an error within the statement timeout", err, elapsed)
	}
	for _, sentinel := range []error{store.ErrNotFound, store.ErrConflict, store.ErrAlreadyExists} {
		if errors.Is(err, sentinel) {
			t.Errorf("timed-out poll returned %v, a definitive answer", err)
		}
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, g.ClientID, t0.Add(time.Minute)); err != nil {
		t.Errorf("poll after the lock is gone: %v", err)
	}
}

// TestPostgresWriterContention is REL-08's test on PostgreSQL: two stores,
// as two instances, write to one database.
func TestPostgresWriterContention(t *testing.T) {
	rawURL := pgtest.URL(t)
	testWriterContention(t, []*Store{openPostgresTest(t, rawURL), openPostgresTest(t, rawURL)})
}

// BenchmarkPostgres times the same verbs as BenchmarkSQLite on the database
// named by GRANTD_TEST_POSTGRES, each on a fresh schema.
func BenchmarkPostgres(b *testing.B) {
	pgtest.URL(b)
	runBenchmarks(b, func(b *testing.B) *Store { return openPostgresTest(b, pgtest.URL(b)) })
}

func TestParsePostgresURL(t *testing.T) {
	defaultConns := 2*runtime.GOMAXPROCS(0) + 4
	for _, tc := range []struct {
		url      string
		ok       bool
		maxConns int
		timeout  string
	}{
		{"postgres://u:secret@db:5432/grantd?sslmode=disable", true, defaultConns, "5s"},
		{"postgresql://db/grantd?pool_max_conns=7&pool_max_conn_lifetime=1h&pool_max_conn_idle_time=1m", true, 7, "5s"},
		{"postgres://db/grantd?statement_timeout=2s", true, defaultConns, "2s"},
		{"postgres://db/grantd?pool_max_conns=0", false, 0, ""},
		{"postgres://db/grantd?pool_max_conns=many", false, 0, ""},
		{"postgres://db/grantd?pool_max_conn_lifetime=forever", false, 0, ""},
		{"postgres://u:secret@db/grantd?connect_timeout=soon", false, 0, ""},
		{"postgres://u:secret@db/grantd?sslmode=sometimes", false, 0, ""},
		{"host=db dbname=grantd", false, 0, ""},
		{"mysql://db/grantd", false, 0, ""},
		{"grantd.db", false, 0, ""},
	} {
		cfg, p, redacted, err := parsePostgresURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok=%t", tc.url, err, tc.ok)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: error %q shows the password", tc.url, err)
			}
			continue
		}
		if p.maxConns != tc.maxConns || cfg.RuntimeParams["statement_timeout"] != tc.timeout {
			t.Errorf("%s: max conns %d, statement_timeout %q; want %d, %q",
				tc.url, p.maxConns, cfg.RuntimeParams["statement_timeout"], tc.maxConns, tc.timeout)
		}
		for k := range cfg.RuntimeParams {
			if strings.HasPrefix(k, "pool_") {
				t.Errorf("%s: pool parameter %s would be sent to the server", tc.url, k)
			}
		}
		if strings.Contains(redacted, "secret") {
			t.Errorf("%s: redacted URL %q shows the password", tc.url, redacted)
		}
	}
}

// TestRetryableTransaction checks that PostgreSQL's runner runs a
// transaction again after a serialisation failure or deadlock, a bounded
// number of times (REL-09), and never after another error.
func TestRetryableTransaction(t *testing.T) {
	r := postgresRunner{logger: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		code      string
		failures  int
		wantCalls int
		wantErr   bool
	}{
		{"40001", 1, 2, false},
		{"40P01", maxAttempts - 1, maxAttempts, false},
		{"40001", maxAttempts, maxAttempts, true},
		{"23505", 1, 1, true},
	} {
		calls := 0
		err := r.retry(t.Context(), "op", func() error {
			calls++
			if calls <= tc.failures {
				return &pgconn.PgError{Code: tc.code}
			}
			return nil
		})
		if calls != tc.wantCalls || (err != nil) != tc.wantErr {
			t.Errorf("SQLSTATE %s × %d: %d calls, error %v; want %d calls, error %t",
				tc.code, tc.failures, calls, err, tc.wantCalls, tc.wantErr)
		}
	}
}

// TestPostgresDataVersion: PostgreSQL has no data version to read; a
// caller learns so from errors.ErrUnsupported.
func TestPostgresDataVersion(t *testing.T) {
	s := openPostgresTest(t, pgtest.URL(t))
	err := s.inTx(t.Context(), "read data version", func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.d.dataVersion(ctx, tx)
		return err
	})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("data version on PostgreSQL: %v, want errors.ErrUnsupported", err)
	}
}
