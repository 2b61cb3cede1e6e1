package pollrecord

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
	"github.com/grantd/grantd/internal/store/sqlstore/pgtest"
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
	pgtest.URL(t) // skips early when unset
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlstore.OpenPostgres(context.Background(), pgtest.URL(t), nil)
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
	pg, err := sqlstore.OpenPostgres(ctx, pgtest.URL(t), nil)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	defer closeStore(t, pg)
	if _, err := pg.DataVersion(ctx); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("PostgreSQL DataVersion: %v, want ErrUnsupported", err)
	}
}
