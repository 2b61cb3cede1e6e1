package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
	"github.com/grantd/grantd/internal/web"
	"github.com/grantd/grantd/internal/web/webtest"
)

// Accounts every fixture has.
const (
	alicePassword = "correct horse battery staple"
	bobPassword   = "bob's password"
)

// fixture is a real Site on a real SQLite store behind a real HTTP server.
type fixture struct {
	t     *testing.T
	path  string
	store *sqlstore.Store
	site  *web.Site
	srv   *httptest.Server
	clock *webtest.Clock
}

// newFixture starts a server. tls selects httptest.NewTLSServer and an
// https issuer; configure adjusts the Site before it is mounted.
func newFixture(t *testing.T, tls bool, configure func(*web.Site)) *fixture {
	t.Helper()
	f := &fixture{t: t, path: filepath.Join(t.TempDir(), "grantd.db"),
		clock: webtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))}
	f.store = f.open()
	f.seedUsers()
	mux := http.NewServeMux()
	f.srv = httptest.NewUnstartedServer(mux)
	if tls {
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	f.site = &web.Site{
		Store:      f.store,
		Issuer:     f.srv.URL,
		SessionTTL: 8 * time.Hour,
		Limiter:    ratelimit.NewMemory(),
		Now:        f.clock.Now,
		Logger:     slog.New(slog.DiscardHandler),
	}
	if configure != nil {
		configure(f.site)
	}
	f.site.Mount(mux)
	mux.Handle("GET /device", f.site.Handler(http.HandlerFunc(f.devicePage)))
	mux.Handle("GET /panic", f.site.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom: secret internal detail")
	})))
	return f
}

func (f *fixture) open() *sqlstore.Store { return webtest.OpenStoreAt(f.t, f.path) }

func (f *fixture) seedUsers() {
	webtest.CreateUser(f.t, f.store, store.User{ID: "u-alice", Username: "alice", CreatedAt: f.clock.Now()}, alicePassword)
	webtest.CreateUser(f.t, f.store, store.User{ID: "u-bob", Username: "bob", Disabled: true, CreatedAt: f.clock.Now()}, bobPassword)
}

// devicePage stands in for the device pages: it needs a signed-in user.
func (f *fixture) devicePage(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := f.site.RequireUser(w, r)
	if !ok {
		return
	}
	acct := f.site.AccountOf(sess, user.Username)
	fmt.Fprintf(w, "device page for %s <input type=\"hidden\" name=\"csrf_token\" value=\"%s\">", user.ID, acct.CSRF)
}

func (f *fixture) browser() *webtest.Browser {
	var transport http.RoundTripper
	if f.srv.TLS != nil {
		transport = f.srv.Client().Transport
	}
	return webtest.NewBrowser(f.t, f.srv.URL, transport)
}

// sessionExists reports whether the store holds a live session for the
// raw id.
func (f *fixture) sessionExists(id string) bool {
	f.t.Helper()
	_, err := f.store.Session(context.Background(), secret.Hash(id), f.clock.Now())
	return err == nil
}

// restart stops the server and the store and starts both again on the same
// database file, as a process restart would.
func (f *fixture) restart(b *webtest.Browser) {
	f.t.Helper()
	f.srv.Close()
	if err := f.store.Close(); err != nil {
		f.t.Fatalf("close store: %v", err)
	}
	f.store = f.open()
	mux := http.NewServeMux()
	f.srv = httptest.NewServer(mux)
	f.t.Cleanup(f.srv.Close)
	f.site = &web.Site{Store: f.store, Issuer: f.srv.URL, Limiter: ratelimit.NewMemory(), Now: f.clock.Now}
	f.site.Mount(mux)
	mux.Handle("GET /device", f.site.Handler(http.HandlerFunc(f.devicePage)))
	b.Base = f.srv.URL
}
