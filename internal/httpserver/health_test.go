package httpserver_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/config"
	"github.com/grantd/grantd/internal/httpserver"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
)

// failingStore is a store whose Health reports what fault holds.
type failingStore struct {
	store.Store
	fault atomic.Pointer[error]
}

func (f *failingStore) Health() error {
	if p := f.fault.Load(); p != nil {
		return *p
	}
	return f.Store.Health()
}

// TestLiveness: /healthz answers 200 while the store can recover by itself,
// and 503 once it has a fault only a restart mends (a failed fsync), so
// that an orchestrator restarts the process.
func TestLiveness(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "grantd.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fs := &failingStore{Store: st}
	cfg, err := config.Load(func(string) string { return "" }, config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := httpserver.New(ctx, httpserver.Options{Config: cfg, Store: fs, Logger: slog.New(slog.DiscardHandler),
		Now: time.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	get := func(path string) int {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("/healthz"); got != 200 {
		t.Errorf("/healthz of a healthy store: %d, want 200", got)
	}
	fault := errors.New("sqlite writer: sync the write-ahead log: input/output error")
	fs.fault.Store(&fault)
	if got := get("/healthz"); got != 503 {
		t.Errorf("/healthz of a store that failed for good: %d, want 503", got)
	}
}
