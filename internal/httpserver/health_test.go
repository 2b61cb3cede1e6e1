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
	t.Parallel()
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

// TestRouterAnswersCarrySecurityHeaders is UI-01 for the answers no page
// handler writes: the router's 404 and 405 carry the pages' security
// headers (a browser may show them, and frame them otherwise).
func TestRouterAnswersCarrySecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/no/such/page", 404},
		{"GET", "/.well-known/nothing", 404},
		{"DELETE", "/device", 405},
		{"PUT", "/signin", 405},
	} {
		req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "X-Content-Type-Options"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("%s %s: no %s", tc.method, tc.path, h)
			}
		}
	}
}
