package micro

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/clientauth"
	"github.com/grantd/grantd/internal/config"
	"github.com/grantd/grantd/internal/httpserver"
	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/pollrecord"
	"github.com/grantd/grantd/internal/store/sqlstore"
	"github.com/grantd/grantd/internal/usercode"
)

// Store writes are answered after their fsync: a write benchmarked alone pays
// a whole commit and fsync (concurrent writes share one, by group commit),
// so these figures depend on the disk under the temporary directory. Poll
// records are soft state and are not written durably: the store is wrapped
// in package pollrecord, as grantd serve wraps SQLite.

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func openStore(b *testing.B) store.Store {
	b.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlstore.Open(b.Context(), filepath.Join(b.TempDir(), "grantd.db"), logger)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return pollrecord.New(st)
}

// BenchmarkCode draws device and user codes as the device authorization
// endpoint does: crypto/rand with rejection sampling.
func BenchmarkCode(b *testing.B) {
	for _, c := range []struct {
		name   string
		format string
		length int
	}{{"user/#B×8", "#B", 8}, {"device/#aA×64", "#aA", 64}} {
		f, err := usercode.ParseFormat(c.format)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Generate(rand.Reader, c.length); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMintJWT signs an access token with each supported algorithm
// through the server's key set, claims encoded as the token endpoint does.
func BenchmarkMintJWT(b *testing.B) {
	st := openStore(b)
	set, err := keys.Load(b.Context(), st, rand.Reader, t0, keys.RS256, keys.ES256, keys.EdDSA)
	if err != nil {
		b.Fatal(err)
	}
	claims := oauth.AccessTokenClaims{Issuer: "http://127.0.0.1:8080", Subject: "k2x7q3m5n8p2r4t6v8w2y4z6a8",
		Audience: "http://127.0.0.1:8080", ClientID: "tv", Scope: "lights:read", IssuedAt: t0.Unix(),
		ExpiresAt: t0.Add(time.Hour).Unix(), ID: "bGlnaHRzOnJlYWQxMjM0NQ", GrantID: "Z3JhbnQxMjM0NTY3ODkw"}
	for _, alg := range []string{keys.ES256, keys.EdDSA, keys.RS256} {
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := set.Sign(alg, keys.TypeAccessToken, claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClientAuth authenticates a confidential client with HTTP Basic,
// as on every poll: a store lookup, then the cached SHA-256 digest of the
// secret (the argon2id check happens once, before the loop).
func BenchmarkClientAuth(b *testing.B) {
	st := openStore(b)
	created, err := admin.CreateClient(b.Context(), st, rand.Reader, t0, admin.ClientSpec{ID: "tv", Scopes: []string{"lights:read"}})
	if err != nil {
		b.Fatal(err)
	}
	auth := &clientauth.Authenticator{Clients: st, Verifier: secret.NewVerifier(0, 0), Limiter: ratelimit.NewMemory(),
		Budget: ratelimit.Budget{N: 1000, Per: time.Minute}, Now: time.Now}
	authenticate := func() error {
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=x"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("tv", created.GeneratedSecret)
		f, err := oauth.ParseForm(httptest.NewRecorder(), r)
		if err != nil {
			return err
		}
		_, err = auth.Authenticate(r.Context(), r, f)
		return err
	}
	if err := authenticate(); err != nil { // the one full check
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := authenticate(); err != nil {
			b.Fatal(err)
		}
	}
}

func hash(i int) string {
	s := sha256.Sum256(fmt.Appendf(nil, "device-code-%d", i))
	return hex.EncodeToString(s[:])
}

func grant(i int) store.DeviceGrant {
	return store.DeviceGrant{DeviceCodeHash: hash(i), UserCode: fmt.Sprintf("B%07d", i), ClientID: "tv",
		Scopes: []string{"lights:read"}, State: store.DevicePending, Interval: 5 * time.Second,
		CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
}

// BenchmarkStore times the store verbs of the device grant's hot paths:
// creating a grant (device authorization), reading one and recording a
// poll (every poll), and reading a client (every request).
func BenchmarkStore(b *testing.B) {
	st := openStore(b)
	ctx := b.Context()
	if _, err := admin.CreateClient(ctx, st, rand.Reader, t0, admin.ClientSpec{ID: "tv", Scopes: []string{"lights:read"}}); err != nil {
		b.Fatal(err)
	}
	const pending = 10_000
	for i := range pending {
		if err := st.CreateDeviceGrant(ctx, grant(i)); err != nil {
			b.Fatal(err)
		}
	}
	next := pending
	b.Run("CreateDeviceGrant", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := st.CreateDeviceGrant(ctx, grant(next)); err != nil {
				b.Fatal(err)
			}
			next++
		}
	})
	b.Run("DeviceGrantByDeviceCode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := st.DeviceGrantByDeviceCode(ctx, hash(i%pending)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("PollDeviceGrant", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			now := t0.Add(time.Duration(i/pending+1) * 10 * time.Second)
			if _, err := st.PollDeviceGrant(ctx, hash(i%pending), "tv", now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Client", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.Client(ctx, "tv"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// clock is a settable clock for the in-process server.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// server is grantd's handler in-process on a fresh SQLite file, logging as
// the real server does (text, at Info) but to nowhere.
type server struct {
	handler    http.Handler
	clock      *clock
	id, secret string
}

func newServer(b *testing.B) *server {
	st := openStore(b)
	env := map[string]string{"GRANTD_ADDR": "127.0.0.1:8080", "GRANTD_ACCESS_TOKEN_ALG": "ES256", "POLLING_INTERVAL": "5"}
	cfg, err := config.Load(func(k string) string { return env[k] }, config.Overrides{})
	if err != nil {
		b.Fatal(err)
	}
	clk := &clock{now: time.Now()}
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := httpserver.New(b.Context(), httpserver.Options{Config: cfg, Store: st, Logger: logger, Now: clk.Now, Rand: rand.Reader})
	if err != nil {
		b.Fatal(err)
	}
	created, err := admin.CreateClient(b.Context(), st, rand.Reader, clk.Now(), admin.ClientSpec{ID: "tv", Scopes: []string{"lights:read"}})
	if err != nil {
		b.Fatal(err)
	}
	return &server{handler: srv.Handler(), clock: clk, id: "tv", secret: created.GeneratedSecret}
}

func (s *server) post(path string, form string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(s.id, s.secret)
	w := httptest.NewRecorder()
	s.handler.ServeHTTP(w, r)
	return w
}

func (s *server) deviceCode(b *testing.B) string {
	w := s.post("/device_authorization", "scope=lights%3Aread")
	if w.Code != http.StatusOK {
		b.Fatalf("device authorization: %d %s", w.Code, w.Body)
	}
	var body struct {
		DeviceCode string `json:"device_code"`
	}
	if err := jsonDecode(w.Body.Bytes(), &body); err != nil {
		b.Fatal(err)
	}
	return body.DeviceCode
}

const pollForm = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code="

// BenchmarkPollPath runs POST /token polls of a pending code through the
// server's handler in-process: client authentication, the grant lookup,
// the poll record, the JSON error and the access log. Its allocs/op is the
// poll path's allocations per request; Baseline is what building the
// request and recording the response cost on their own, to subtract.
func BenchmarkPollPath(b *testing.B) {
	s := newServer(b)
	b.Run("Baseline", func(b *testing.B) {
		noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { r.ParseForm() })
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(pollForm+"x"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth(s.id, s.secret)
			noop.ServeHTTP(httptest.NewRecorder(), r)
		}
	})
	b.Run("Pending", func(b *testing.B) {
		var form string
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i%250 == 0 { // a code lives 1800 s: a fresh one before it expires
				b.StopTimer()
				form = pollForm + url.QueryEscape(s.deviceCode(b))
				b.StartTimer()
			}
			s.clock.Advance(6 * time.Second) // respect the interval
			if w := s.post("/token", form); !strings.Contains(w.Body.String(), "authorization_pending") {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	})
	b.Run("SlowDown", func(b *testing.B) {
		form := pollForm + url.QueryEscape(s.deviceCode(b))
		s.post("/token", form)
		b.ReportAllocs()
		for b.Loop() {
			if w := s.post("/token", form); !strings.Contains(w.Body.String(), "slow_down") {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	})
	b.Run("Metadata", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			s.handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil))
			if w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		}
	})
}

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }
