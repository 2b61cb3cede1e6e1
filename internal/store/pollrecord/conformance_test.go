package pollrecord

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
	"github.com/grantd/grantd/internal/store/storetest"
)

// TestConformanceSQLite runs the whole conformance suite on the record over
// SQLite, which is a Versioner: polls of pending grants are answered from
// memory.
func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return New(openSQLite(t, filepath.Join(t.TempDir(), "grantd.db")))
	})
}

// TestConformancePostgres runs it over PostgreSQL, which is not: every
// poll reads its grant. It needs GRANTD_TEST_POSTGRES, as sqlstore's
// PostgreSQL tests do.
func TestConformancePostgres(t *testing.T) {
	postgresURL(t) // skips early when unset
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlstore.OpenPostgres(context.Background(), postgresURL(t), nil)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		t.Cleanup(func() { closeStore(t, s) })
		return New(s)
	})
}

// openSQLite opens a SQLite store on path, closed when tb ends.
func openSQLite(tb testing.TB, path string) *sqlstore.Store {
	tb.Helper()
	s, err := sqlstore.Open(context.Background(), path, nil)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { closeStore(tb, s) })
	return s
}

func closeStore(tb testing.TB, s *sqlstore.Store) {
	if err := s.Close(); err != nil {
		tb.Errorf("Close: %v", err)
	}
}

// postgresURL creates a schema of its own in the database that
// GRANTD_TEST_POSTGRES names, dropped when tb ends, and returns the URL
// with search_path set to it. It skips tb when the variable is unset.
func postgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("GRANTD_TEST_POSTGRES")
	if base == "" {
		tb.Skip("GRANTD_TEST_POSTGRES is unset: set it to a postgres:// URL of a scratch database " +
			"to run the conformance suite over PostgreSQL")
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		tb.Fatalf("GRANTD_TEST_POSTGRES: %v", err)
	}
	admin := stdlib.OpenDB(*cfg)
	schema := "grantd_test_" + strings.ToLower(rand.Text())
	if _, err := admin.ExecContext(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		tb.Fatalf("create test schema: %v", err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("drop test schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestDataVersion: sqlstore's Versioner. On SQLite the version stays while
// only the Store itself writes and changes once another Store on the file
// has; PostgreSQL has none.
func TestDataVersion(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "grantd.db")
	here, there := openSQLite(t, path), openSQLite(t, path)
	version := func() int64 {
		t.Helper()
		v, err := here.DataVersion(ctx)
		if err != nil {
			t.Fatalf("DataVersion: %v", err)
		}
		return v
	}
	first := version()
	if err := here.CreateClient(ctx, store.Client{ID: "here", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != first {
		t.Errorf("version after the Store's own write: %d, want %d", v, first)
	}
	if err := there.CreateClient(ctx, store.Client{ID: "there", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if v := version(); v == first {
		t.Errorf("version after another Store's write: %d, unchanged", v)
	}

	if os.Getenv("GRANTD_TEST_POSTGRES") == "" {
		return
	}
	pg, err := sqlstore.OpenPostgres(ctx, postgresURL(t), nil)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	defer closeStore(t, pg)
	if _, err := pg.DataVersion(ctx); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("PostgreSQL DataVersion: %v, want ErrUnsupported", err)
	}
}
