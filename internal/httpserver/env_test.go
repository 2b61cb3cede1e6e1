package httpserver_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/config"
	"github.com/grantd/grantd/internal/httpserver"
	"github.com/grantd/grantd/internal/logtest"
	"github.com/grantd/grantd/internal/metrics"
	"github.com/grantd/grantd/internal/seal"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/memstore"
	"github.com/grantd/grantd/internal/store/pollrecord"
	"github.com/grantd/grantd/internal/store/sqlstore"
)

// clock is a settable test clock: tests move time instead of sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
	// wall makes Now follow real time (plus any Advance), for tests whose
	// clients wait in real time, such as the browser test.
	wall  bool
	start time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wall {
		return c.now.Add(time.Since(c.start))
	}
	return c.now
}
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// storage is what a test server keeps its state in.
type storage int

const (
	// inMemory is package memstore, which passes the same conformance
	// suite as the SQL store: no file and no fsync, so that tests are fast
	// and run side by side. The default.
	inMemory storage = iota
	// onSQLite is a SQLite file in the test's directory, for the tests
	// about the database itself: what a restart keeps, what reaches the
	// files, the store's metrics, exactly-once redemption under a real
	// database's concurrency, and the benchmarks BENCHMARKS.md reports.
	onSQLite
)

// env is a real grantd server over real HTTP, on a memory store or a fresh
// SQLite file.
type env struct {
	t       testing.TB
	storage storage
	srv     *httptest.Server
	handler http.Handler
	store   store.Store // metrics.Store's when metrics is not nil
	clock   *clock
	logs    *logtest.Buffer
	cfg     config.Config
	dir     string
	sealer  *seal.Sealer // the secret key's, for upstream secrets and tokens
	// metrics, when not nil, records the server's metrics.
	metrics *metrics.Recorder
	// front, when set, sees every request first and reports whether it
	// answered it (TestPageScreenshots replays pages through it).
	front func(http.ResponseWriter, *http.Request) bool
}

// metricsEnv names the variable that, set to 1, turns metrics on in every
// test server, so that the whole suite, and the benchmarks, run
// instrumented: GRANTD_TEST_METRICS=1 go test ./internal/httpserver.
const metricsEnv = "GRANTD_TEST_METRICS"

// newEnv starts a server on a memory store with the given environment
// variables. The issuer is the test server's URL.
func newEnv(t testing.TB, vars map[string]string) *env {
	t.Helper()
	return startEnv(t, inMemory, testClock(), testMetrics(), vars)
}

// newSQLiteEnv is newEnv on a fresh SQLite file.
func newSQLiteEnv(t testing.TB, vars map[string]string) *env {
	t.Helper()
	return startEnv(t, onSQLite, testClock(), testMetrics(), vars)
}

// newMetricsEnv is newSQLiteEnv with metrics on, with client ids as labels
// when clientLabels: the store's metrics are those of the SQL store.
func newMetricsEnv(t testing.TB, vars map[string]string, clientLabels bool) *env {
	t.Helper()
	return startEnv(t, onSQLite, testClock(), metrics.New(metrics.Options{ClientLabels: clientLabels}), vars)
}

// newWallEnv is newEnv on a clock that follows real time.
func newWallEnv(t testing.TB, vars map[string]string) *env {
	t.Helper()
	return startEnv(t, inMemory, wallClock(), nil, vars)
}

// newSQLiteWallEnv is newWallEnv on a fresh SQLite file.
func newSQLiteWallEnv(t testing.TB, vars map[string]string) *env {
	t.Helper()
	return startEnv(t, onSQLite, wallClock(), nil, vars)
}

// startEnv starts a server on s, with clock c and metrics m (nil: off).
func startEnv(t testing.TB, s storage, c *clock, m *metrics.Recorder, vars map[string]string) *env {
	t.Helper()
	e := &env{t: t, storage: s, clock: c, logs: &logtest.Buffer{}, dir: t.TempDir(), metrics: m}
	e.start(vars)
	return e
}

// testClock is a test clock that starts at a fixed instant and moves only
// when told.
func testClock() *clock { return &clock{now: time.Unix(1_800_000_000, 0)} }

// wallClock is a test clock that follows real time.
func wallClock() *clock { return &clock{now: time.Now(), wall: true, start: time.Now()} }

// testMetrics returns metrics when metricsEnv asks for them, else nil.
func testMetrics() *metrics.Recorder {
	if os.Getenv(metricsEnv) == "1" {
		return metrics.New(metrics.Options{})
	}
	return nil
}

func (e *env) start(vars map[string]string) {
	t := e.t
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var st store.Store = memstore.New()
	if e.storage == onSQLite {
		sq, err := sqlstore.Open(ctx, filepath.Join(e.dir, "grantd.db"), logger)
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		st = pollrecord.New(sq, pollrecord.WithLogger(logger)) // as grantd serve wraps SQLite
	}
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.front != nil && e.front(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	getenv := func(k string) string {
		if k == "GRANTD_ISSUER" {
			return srv.URL
		}
		return vars[k]
	}
	cfg, err := config.Load(getenv, config.Overrides{})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if e.sealer == nil {
		key, err := seal.CreateKey(filepath.Join(e.dir, "secret-key"), rand.Reader)
		if err != nil {
			t.Fatalf("secret key: %v", err)
		}
		e.sealer = seal.New(rand.Reader, key)
	}
	timed := metrics.Store(st, e.metrics)
	s, err := httpserver.New(ctx, httpserver.Options{Config: cfg, Store: timed, Logger: logger, Now: e.clock.Now,
		Rand: rand.Reader, Sealer: e.sealer, Metrics: e.metrics})
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	h = s.Handler()
	e.handler = h
	e.srv, e.store, e.cfg = srv, timed, cfg
	t.Cleanup(e.stop)
}

// restart stops the server and store and starts them again on the same
// SQLite file. A memory store ends with its server: a test of what a
// restart keeps runs on newSQLiteEnv.
func (e *env) restart(vars map[string]string) {
	e.t.Helper()
	if e.storage != onSQLite {
		e.t.Fatal("restart: the server runs on a memory store, which nothing outlives; start it with newSQLiteEnv")
	}
	e.stop()
	e.start(vars)
}

func (e *env) stop() {
	if e.srv != nil {
		e.srv.Close()
		e.store.Close()
		e.srv = nil
	}
}

// client registers a client and returns its secret ("" for public ones).
func (e *env) client(spec admin.ClientSpec) string {
	e.t.Helper()
	c, err := admin.CreateClient(context.Background(), e.store, rand.Reader, e.clock.Now(), spec)
	if err != nil {
		e.t.Fatalf("create client: %v", err)
	}
	return c.GeneratedSecret
}

// user returns the user of that name, creating it if need be.
func (e *env) user(name string) store.User {
	e.t.Helper()
	if u, err := e.store.UserByUsername(context.Background(), name); err == nil {
		return u
	}
	u, err := admin.CreateUser(context.Background(), e.store, rand.Reader, e.clock.Now(),
		admin.UserSpec{Username: name, Password: "correct horse battery"})
	if err != nil {
		e.t.Fatalf("create user: %v", err)
	}
	return u
}

// reply is a decoded JSON response.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }

// basic authenticates with client_secret_basic.
func basic(id, secret string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
}

// post sends a form POST and decodes the JSON answer.
func (e *env) post(path string, form url.Values, auth func(*http.Request)) reply {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != nil {
		auth(req)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) reply {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r
}

// deviceAuthorize starts a device flow for a confidential client.
func (e *env) deviceAuthorize(id, secret, scope string) reply {
	e.t.Helper()
	form := url.Values{}
	if scope != "" {
		form.Set("scope", scope)
	}
	r := e.post("/device_authorization", form, basic(id, secret))
	if r.status != http.StatusOK {
		e.t.Fatalf("device authorization: %d %s", r.status, r.raw)
	}
	return r
}

func (e *env) poll(id, secret, deviceCode string) reply {
	e.t.Helper()
	return e.post("/token", url.Values{
		"grant_type":  {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {deviceCode},
	}, basic(id, secret))
}

// decide approves or denies a user code as the user would on the page.
func (e *env) decide(userCode string, u store.User, approve bool) {
	e.t.Helper()
	code := strings.ReplaceAll(userCode, "-", "")
	_, err := e.store.DecideDeviceGrant(context.Background(), code,
		store.Decision{Approve: approve, UserID: u.ID, AuthTime: e.clock.Now()}, e.clock.Now())
	if err != nil {
		e.t.Fatalf("decide %s: %v", userCode, err)
	}
}

// wantError checks an RFC 6749 §5.2 error response.
func wantError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d error=%s", r.status, r.raw, status, code)
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type = %q, want JSON", r.header.Get("Content-Type"))
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store (TOK-06)", r.header.Get("Cache-Control"))
	}
}
