package introspect_test

import (
	"context"
	"crypto/rand"
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

	"github.com/grantd/grantd/internal/bearer"
	"github.com/grantd/grantd/internal/introspect"
	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
)

const (
	issuer     = "https://as.example"
	rsAudience = "https://lights.example"
	atTTL      = 10 * time.Minute
	rtIdleTTL  = time.Hour
	grantTTL   = 24 * time.Hour
)

// Clients of the fixture, with their secrets.
var clientSecrets = map[string]string{
	"rs":     "rs-secret-0123456789", // may introspect, any audience
	"rs-aud": "rs-aud-secret-012345", // may introspect, bound to rsAudience
	"app":    "app-secret-012345678", // confidential, may not introspect
}

// clock is a settable clock: tests move time instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is the introspection endpoint on a plain ServeMux behind a real
// HTTP server, over a real SQLite store. The client authenticator reads
// clients through a second handle on the same database file, so that
// closing Store (the handler's) fails token lookups, not authentication.
type fixture struct {
	t       *testing.T
	store   *sqlstore.Store
	keys    *keys.Set
	clock   *clock
	handler *introspect.Handler
	srv     *httptest.Server
	n       int
}

// newFixture starts the endpoint; budget throttles inactive answers.
func newFixture(t *testing.T, budget ratelimit.Budget) *fixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "grantd.db")
	st := openStore(t, path)
	f := &fixture{t: t, store: st, clock: &clock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}}
	var err error
	if f.keys, err = keys.Load(ctx, st, rand.Reader, f.clock.Now(), keys.RS256); err != nil {
		t.Fatalf("load keys: %v", err)
	}
	f.seed()
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	f.handler = &introspect.Handler{
		Store: st,
		Auth: &oauth.ClientAuthenticator{Clients: openStore(t, path), Limiter: ratelimit.NewMemory(),
			Budget: ratelimit.Budget{N: 1000, Per: time.Minute}, Now: f.clock.Now},
		Checker: &bearer.Checker{Store: st, Keys: f.keys, Issuer: issuer, Now: f.clock.Now},
		Limiter: ratelimit.NewMemory(), Budget: budget, Now: f.clock.Now, Logger: logger,
	}
	mux := http.NewServeMux()
	f.handler.Mount(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func openStore(t *testing.T, path string) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// seed stores users alice, bob and carol, the clients of clientSecrets, and
// the public device client tv.
func (f *fixture) seed() {
	ctx, now := context.Background(), f.clock.Now()
	for _, name := range []string{"alice", "bob", "carol"} {
		u := store.User{ID: "u-" + name, Username: name, PasswordHash: "unused", CreatedAt: now}
		if err := f.store.CreateUser(ctx, u); err != nil {
			f.t.Fatalf("create user: %v", err)
		}
	}
	clients := []store.Client{
		{ID: "rs", Introspect: true},
		{ID: "rs-aud", Introspect: true, Audience: rsAudience},
		{ID: "app"},
		{ID: "tv", Public: true, Introspect: true},
	}
	for _, c := range clients {
		if s, ok := clientSecrets[c.ID]; ok {
			c.SecretHash, _ = secret.HashClientSecret(rand.Reader, s, true)
		}
		c.GrantTypes, c.Scopes, c.CreatedAt = []string{"authorization_code", "refresh_token"}, []string{"openid", "profile"}, now
		if err := f.store.CreateClient(ctx, c); err != nil {
			f.t.Fatalf("create client: %v", err)
		}
	}
}

// issued is a grant stored the way the token endpoint stores one, with its
// tokens.
type issued struct {
	GrantID, AT, RT, RTHash string
	Claims                  oauth.AccessTokenClaims
}

// issue stores a grant of clientID to userID with a refresh token, the way
// the authorization code grant does, and mints an access token for it.
func (f *fixture) issue(clientID, userID, scope, aud string) issued {
	f.t.Helper()
	ctx, now := context.Background(), f.clock.Now()
	f.n++
	id := fmt.Sprintf("grant-%d", f.n)
	rt, err := secret.NewToken(rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	scopes := strings.Fields(scope)
	g := store.Grant{ID: id, ClientID: clientID, UserID: userID, Scopes: scopes, Kind: "authorization_code",
		CreatedAt: now, ExpiresAt: now.Add(grantTTL)}
	rec := store.RefreshToken{Hash: secret.Hash(rt), GrantID: id, ClientID: clientID, UserID: userID, Scopes: scopes,
		CreatedAt: now, ExpiresAt: now.Add(rtIdleTTL), FamilyExpiresAt: now.Add(grantTTL)}
	code := store.AuthorizationCode{Hash: "code-" + id, ClientID: clientID, UserID: userID,
		RedirectURI: "https://app.example/cb", Scopes: scopes, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := f.store.CreateAuthorizationCode(ctx, code); err != nil {
		f.t.Fatalf("create code: %v", err)
	}
	if _, err := f.store.RedeemAuthorizationCode(ctx, code.Hash, now, g, &rec); err != nil {
		f.t.Fatalf("redeem code: %v", err)
	}
	claims := oauth.AccessTokenClaims{Issuer: issuer, Subject: userID, Audience: aud, ClientID: clientID,
		Scope: scope, IssuedAt: now.Unix(), ExpiresAt: now.Add(atTTL).Unix(), ID: "jti-" + id, GrantID: id}
	return issued{GrantID: id, AT: f.sign(keys.TypeAccessToken, claims), RT: rt, RTHash: rec.Hash, Claims: claims}
}

// sign signs claims with the fixture's key as a token of type typ.
func (f *fixture) sign(typ string, claims any) string {
	f.t.Helper()
	tok, err := f.keys.Sign(keys.RS256, typ, claims)
	if err != nil {
		f.t.Fatalf("sign: %v", err)
	}
	return tok
}

// reply is an HTTP answer with its body.
type reply struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// introspect posts token (and hint, when not empty) as client id: with
// Basic authentication for a client of clientSecrets, else by client_id.
func (f *fixture) introspect(id, token, hint string) reply {
	f.t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	sec, confidential := clientSecrets[id]
	if id != "" && !confidential {
		form.Set("client_id", id)
	}
	return f.post(form, func(r *http.Request) {
		if confidential {
			r.SetBasicAuth(id, sec)
		}
	})
}

// post sends form to the endpoint; edit may change the request first.
func (f *fixture) post(form url.Values, edit func(*http.Request)) reply {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+introspect.Path, strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	return f.do(req)
}

func (f *fixture) do(req *http.Request) reply {
	f.t.Helper()
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}
