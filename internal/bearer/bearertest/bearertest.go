// Package bearertest is a test fixture for the endpoints that take grantd's
// tokens back from clients — introspection (RFC 7662), revocation
// (RFC 7009) and UserInfo: a real SQLite store in a temporary directory, a
// settable clock, signing keys, grants whose refresh and access tokens are
// made the way the token endpoint makes them, and the endpoint under test
// served over real HTTP. The endpoint's own clients, users and handler
// options stay with its tests.
package bearertest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/bearer"
	"github.com/grantd/grantd/internal/keys"
	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
	"github.com/grantd/grantd/internal/store/storetest"
	"github.com/grantd/grantd/internal/web/webtest"
)

// Issuer is the issuer of the fixture's tokens.
const Issuer = "https://as.example"

// Lifetimes of what Issue makes.
const (
	AccessTokenTTL = 10 * time.Minute // an access token
	RefreshIdleTTL = time.Hour        // a refresh token left unused
	GrantTTL       = 24 * time.Hour   // a grant, and so its refresh token family
)

// Fixture is grantd's token state over a real SQLite store and, once Serve
// has started it, the endpoint under test. Its helpers fail T.
type Fixture struct {
	// T is the test the helpers fail. A test may point it at a subtest
	// while that subtest runs.
	T      testing.TB
	Store  *sqlstore.Store  // the endpoint's handle on the database
	Keys   *keys.Set        // an RS256 key, kept in Store
	Clock  *webtest.Clock   // the time of the keys, of Issue and for the endpoint
	Logger *slog.Logger     // writes to the test's output
	Server *httptest.Server // set by Serve

	dbPath   string // the database file
	endpoint string // the path Get, Post and PostToken request, set by Serve
	n        int    // grants issued
}

// New returns a fixture over a new database in t.TempDir(), with an RS256
// signing key and the clock at 2026-11-22 10:00 UTC. The database holds no
// users and no clients.
func New(t testing.TB) *Fixture {
	t.Helper()
	f := &Fixture{
		T:      t,
		Clock:  webtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)),
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
		dbPath: filepath.Join(t.TempDir(), "grantd.db"),
	}
	f.Store = f.Open()
	var err error
	if f.Keys, err = keys.Load(context.Background(), f.Store, rand.Reader, f.Clock.Now(), keys.RS256); err != nil {
		t.Fatalf("load keys: %v", err)
	}
	return f
}

// Open returns another handle on the fixture's database, closed when T
// ends. Closing Store leaves this handle working, so a test can fail
// the endpoint's store and still authenticate clients or check state.
func (f *Fixture) Open() *sqlstore.Store {
	f.T.Helper()
	return webtest.OpenStoreAt(f.T, f.dbPath)
}

// AddUsers stores a user for each name, with the ID "u-" + name.
func (f *Fixture) AddUsers(names ...string) {
	f.T.Helper()
	for _, name := range names {
		u := store.User{ID: "u-" + name, Username: name, PasswordHash: "unused", CreatedAt: f.Clock.Now()}
		if err := f.Store.CreateUser(context.Background(), u); err != nil {
			f.T.Fatalf("create user: %v", err)
		}
	}
}

// AddClient stores c, with clientSecret as its secret unless that is empty.
// Unless c says otherwise, the client may use the authorization code and
// refresh token grants for the scopes openid and profile.
func (f *Fixture) AddClient(c store.Client, clientSecret string) {
	f.T.Helper()
	if clientSecret != "" {
		var err error
		if c.SecretHash, err = secret.HashClientSecret(rand.Reader, clientSecret, true); err != nil {
			f.T.Fatalf("hash client secret: %v", err)
		}
	}
	if c.GrantTypes == nil {
		c.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	if c.Scopes == nil {
		c.Scopes = []string{"openid", "profile"}
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = f.Clock.Now()
	}
	if err := f.Store.CreateClient(context.Background(), c); err != nil {
		f.T.Fatalf("create client: %v", err)
	}
}

// Checker returns a bearer.Checker reading s, with the fixture's keys,
// issuer and clock.
func (f *Fixture) Checker(s store.Store) *bearer.Checker {
	return &bearer.Checker{Store: s, Keys: f.Keys, Issuer: Issuer, Now: f.Clock.Now}
}

// Issued is a grant stored the way the token endpoint stores one, with its
// tokens.
type Issued struct {
	GrantID string
	AT      string // the access token
	RT      string // the refresh token
	RTHash  string // the refresh token's hash, its key in the store
	Claims  oauth.AccessTokenClaims
}

// Issue stores a grant of clientID to userID for scope (space-separated)
// with a refresh token, the way the authorization code grant does — a code
// created and redeemed — and mints an access token for audience aud under
// that grant. The client and the user must be stored and enabled
// (AddClient, AddUsers), as for any redemption.
func (f *Fixture) Issue(clientID, userID, scope, aud string) Issued {
	f.T.Helper()
	ctx, now := context.Background(), f.Clock.Now()
	f.n++
	id := fmt.Sprintf("grant-%d", f.n)
	rt, err := secret.NewToken(rand.Reader)
	if err != nil {
		f.T.Fatal(err)
	}
	scopes := strings.Fields(scope)
	g := store.Grant{ID: id, ClientID: clientID, UserID: userID, Scopes: scopes, Kind: "authorization_code",
		CreatedAt: now, ExpiresAt: now.Add(GrantTTL)}
	rec := store.RefreshToken{Hash: secret.Hash(rt), GrantID: id, ClientID: clientID, UserID: userID, Scopes: scopes,
		CreatedAt: now, ExpiresAt: now.Add(RefreshIdleTTL), FamilyExpiresAt: now.Add(GrantTTL)}
	code := store.AuthorizationCode{Hash: "code-" + id, ClientID: clientID, UserID: userID,
		RedirectURI: "https://app.example/cb", Scopes: scopes, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := f.Store.CreateAuthorizationCode(ctx, code); err != nil {
		f.T.Fatalf("create code: %v", err)
	}
	if _, err := f.Store.RedeemAuthorizationCode(ctx, code.Hash, clientID, now, storetest.Issue[store.AuthorizationCode](&g, &rec)); err != nil {
		f.T.Fatalf("redeem code: %v", err)
	}
	claims := oauth.AccessTokenClaims{Issuer: Issuer, Subject: userID, Audience: aud, ClientID: clientID,
		Scope: scope, IssuedAt: now.Unix(), ExpiresAt: now.Add(AccessTokenTTL).Unix(), ID: "jti-" + id, GrantID: id}
	return Issued{GrantID: id, AT: f.Sign(keys.TypeAccessToken, claims), RT: rt, RTHash: rec.Hash, Claims: claims}
}

// Sign signs claims with the fixture's key as a token of type typ: another
// access token of a grant, or a token grantd would never issue, such as an
// ID token offered as an access token or one with wrong claims.
func (f *Fixture) Sign(typ string, claims any) string {
	f.T.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		f.T.Fatalf("encode claims: %v", err)
	}
	tok, err := f.Keys.Sign(keys.RS256, typ, json.RawMessage(payload))
	if err != nil {
		f.T.Fatalf("sign: %v", err)
	}
	return tok
}
