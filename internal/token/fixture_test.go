package token

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/clientauth"
	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/memstore"
)

// clock is the handler's time: tests move it instead of sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const issuer = "https://as.example"

// The fixture's clients: a confidential device client, a public device
// client without refresh tokens, and a confidential web client of the
// authorization code grant that must use HTTP Basic.
const (
	tv       = "tv"
	tvSecret = "tv-secret-0123456789-abcdefghijklmnop"
	bulb     = "bulb"
	web      = "web"
	webSec   = "web-secret-0123456789-abcdefghijklmno"
	webCB    = "https://web.example/cb"
)

// fixture is a token endpoint over real HTTP on a fresh in-memory store
// (the store's behaviour on each database is the conformance suite's
// concern).
type fixture struct {
	t     *testing.T
	st    *memstore.Store
	clock *clock
	h     *Handler
	url   string
	alice store.User
}

// newFixture starts the endpoint; configure, when not nil, changes the
// handler's settings before it serves.
func newFixture(t *testing.T, configure func(*Handler)) *fixture {
	t.Helper()
	ctx := t.Context()
	st := memstore.New()
	clk := &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	ks, err := keys.Load(ctx, st, rand.Reader, clk.Now(), keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{
		Store: st, Auth: newAuthenticator(st, clk.Now), Keys: ks, Issuer: issuer, Audience: issuer,
		AccessTokenAlg: keys.ES256, IDTokenAlg: keys.ES256, AccessTokenTTL: time.Hour,
		RefreshTokenTTL: 30 * 24 * time.Hour, RefreshTokenIdleTTL: 7 * 24 * time.Hour,
		SuccessorKey: []byte("successor-key-of-the-token-tests"), TokenSet: TokenSet{Access: true, Refresh: true},
		Now: clk.Now, Rand: rand.Reader, Logger: slog.New(slog.DiscardHandler),
	}
	if configure != nil {
		configure(h)
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, st: st, clock: clk, h: h, url: srv.URL}
	f.seed(ctx)
	return f
}

// newAuthenticator is the client authenticator of the token endpoint,
// without attempt budgets: those are the authenticator's own tests'.
func newAuthenticator(st store.Clients, now func() time.Time) *clientauth.Authenticator {
	return &clientauth.Authenticator{Clients: st, Verifier: secret.NewVerifier(0, 0), Now: now}
}

func (f *fixture) seed(ctx context.Context) {
	f.t.Helper()
	now := f.clock.Now()
	clients := []struct {
		c   store.Client
		sec string
	}{
		{store.Client{ID: tv, GrantTypes: []string{GrantDeviceCode, GrantRefreshToken}, Scopes: []string{"openid", "lights:read", "lights:write"}}, tvSecret},
		{store.Client{ID: bulb, Public: true, AuthMethod: oauth.AuthNone, GrantTypes: []string{GrantDeviceCode}, Scopes: []string{"lights:read"}}, ""},
		{store.Client{ID: web, AuthMethod: oauth.AuthBasic, GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken},
			RedirectURIs: []string{webCB}, Scopes: []string{"openid", "lights:read"}}, webSec},
	}
	for _, c := range clients {
		c.c.CreatedAt, c.c.TokenMode = now, store.TokenModeLocal
		if c.sec != "" {
			c.c.SecretHash, _ = secret.HashClientSecret(rand.Reader, c.sec, true)
		}
		if err := f.st.CreateClient(ctx, c.c); err != nil {
			f.t.Fatal(err)
		}
	}
	f.alice = f.newUser("alice")
}

// newUser stores a local user.
func (f *fixture) newUser(name string) store.User {
	f.t.Helper()
	id, _ := newID(rand.Reader)
	u := store.User{ID: id, Username: name, PasswordHash: "$argon2id$unused", CreatedAt: f.clock.Now()}
	if err := f.st.CreateUser(f.t.Context(), u); err != nil {
		f.t.Fatal(err)
	}
	return u
}

// auth is how a request authenticates its client.
type auth func(*http.Request, url.Values)

func basic(id, sec string) auth {
	return func(r *http.Request, _ url.Values) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(sec)) }
}

func post(id, sec string) auth {
	return func(_ *http.Request, form url.Values) { form.Set("client_id", id); form.Set("client_secret", sec) }
}

func public(id string) auth {
	return func(_ *http.Request, form url.Values) { form.Set("client_id", id) }
}

// reply is a token endpoint answer.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }

// token POSTs form, authenticated by a, to /token.
func (f *fixture) token(a auth, form url.Values) reply {
	f.t.Helper()
	return f.request(a, form, nil)
}

// request is token with the request changed by edit, when not nil, before
// it is sent.
func (f *fixture) request(a auth, form url.Values, edit func(*http.Request)) reply {
	f.t.Helper()
	form = cloneValues(form)
	req, err := http.NewRequest(http.MethodPost, f.url+"/token", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if a != nil {
		a(req, form)
	}
	body := form.Encode()
	req.Body, req.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	return f.do(req)
}

func (f *fixture) do(req *http.Request) reply {
	f.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// check compares r with an RFC 6749 §5.2 error (code not empty) or a
// §5.1 success (code empty), and the headers every token endpoint answer
// carries (TOK-06). It reports what differs; "" when nothing does.
func check(r reply, status int, code oauth.ErrorCode) string {
	var bad []string
	if r.status != status || r.str("error") != string(code) {
		bad = append(bad, "status and error "+r.raw)
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		bad = append(bad, "Content-Type "+r.header.Get("Content-Type"))
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		bad = append(bad, "Cache-Control "+r.header.Get("Cache-Control")+", Pragma "+r.header.Get("Pragma")+" (TOK-06)")
	}
	switch {
	case code == "" && (r.str("access_token") == "" || r.str("token_type") != "Bearer"):
		bad = append(bad, "no bearer access token")
	case code != "" && (r.str("access_token") != "" || r.str("refresh_token") != ""):
		bad = append(bad, "tokens in an error")
	}
	return strings.Join(bad, "; ")
}

// claims decodes a JWT's payload. The signature is package keys' concern.
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}
