package upstream_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grantd/grantd/internal/logtest"
	"github.com/grantd/grantd/internal/upstream"
)

const callback = "https://grantd.example/callback"

var epoch = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

// idTokenFixture is a fake provider with an RSA and an EC key, and a
// factory of ID tokens valid for an authorization request.
type idTokenFixture struct {
	f      *fakeOP
	rsa    jose.JSONWebKey
	ec     jose.JSONWebKey
	req    upstream.AuthRequest
	clock  *clock
	claims func() map[string]any
}

func newIDTokenFixture(t *testing.T) *idTokenFixture {
	x := &idTokenFixture{f: newFakeOP(t), rsa: rsaKey(t, "k1"), clock: newClock(epoch)}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x.ec = jose.JSONWebKey{Key: ec, KeyID: "e1", Algorithm: "ES256", Use: "sig"}
	x.f.jwks = []jose.JSONWebKey{x.rsa, x.ec}
	x.req, err = upstream.NewAuthRequest(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x.claims = func() map[string]any {
		now := x.clock.Now()
		return map[string]any{
			"iss": x.f.issuer, "sub": "user-1", "aud": "grantd", "iat": now.Unix(),
			"exp": now.Add(time.Hour).Unix(), "nonce": x.req.Nonce, "token_use": "id",
			"cognito:username": "alice", "email": "alice@example.com", "email_verified": true,
		}
	}
	return x
}

// with returns the valid claims changed by edit (a nil value deletes).
func (x *idTokenFixture) with(edit map[string]any) map[string]any {
	c := x.claims()
	for k, v := range edit {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (x *idTokenFixture) signRS(t *testing.T, claims map[string]any) string {
	return sign(t, x.rsa.Key, jose.RS256, map[jose.HeaderKey]any{"kid": "k1"}, claims)
}

// exchange redeems a code at a fresh Provider whose token endpoint answers
// idToken.
func (x *idTokenFixture) exchange(t *testing.T, idToken string) (upstream.Identity, error) {
	x.f.set(func(f *fakeOP) { f.tokenBody = tokenResponse(idToken) })
	id, _, err := x.f.provider(t, x.clock).Exchange(t.Context(), callback, "code-1", x.req)
	return id, err
}

// TestIDTokenValidation is the bad ID token matrix (FED-02, JWT-08, JWT-10):
// each refused row fails if its check is missing, each accepted row if a
// check is too strict.
func TestIDTokenValidation(t *testing.T) {
	x := newIDTokenFixture(t)
	other := rsaKey(t, "k1") // same kid, another key
	b64 := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	pubPEM := func() []byte {
		der, _ := x509.MarshalPKIXPublicKey(x.rsa.Public().Key)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	atHash := func(at string) string {
		sum := sha256.Sum256([]byte(at))
		return base64.RawURLEncoding.EncodeToString(sum[:16])
	}
	kid := func(k string) map[jose.HeaderKey]any { return map[jose.HeaderKey]any{"kid": k} }
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"valid RS256", x.signRS(t, x.claims()), true},
		{"valid ES256", sign(t, x.ec.Key, jose.ES256, kid("e1"), x.claims()), true},
		{"wrong signature (another key, same kid)", sign(t, other.Key, jose.RS256, kid("k1"), x.claims()), false},
		{"alg none", b64(map[string]string{"alg": "none", "kid": "k1"}) + "." + b64(x.claims()) + ".", false},
		{"HS256 keyed with the RSA public key", sign(t, pubPEM(), jose.HS256, kid("k1"), x.claims()), false},
		{"PS256, not advertised, with the RS256 key", sign(t, x.rsa.Key, jose.PS256, kid("k1"), x.claims()), false},
		{"RS256 claimed by the EC key's kid", sign(t, x.rsa.Key, jose.RS256, kid("e1"), x.claims()), false},
		{"unknown kid", sign(t, rsaKey(t, "k9").Key, jose.RS256, kid("k9"), x.claims()), false},
		{"kid with a path", sign(t, x.rsa.Key, jose.RS256, kid("../../jwks"), x.claims()), false},
		{"typ at+jwt", sign(t, x.rsa.Key, jose.RS256, map[jose.HeaderKey]any{"kid": "k1", "typ": "at+jwt"}, x.claims()), false},
		{"wrong iss (trailing slash)", x.signRS(t, x.with(map[string]any{"iss": x.f.issuer + "/"})), false},
		{"wrong aud", x.signRS(t, x.with(map[string]any{"aud": "other-client"})), false},
		{"aud as a list with us", x.signRS(t, x.with(map[string]any{"aud": []string{"grantd"}})), true},
		{"several audiences, no azp", x.signRS(t, x.with(map[string]any{"aud": []string{"grantd", "other"}})), false},
		{"several audiences, azp another client", x.signRS(t, x.with(map[string]any{"aud": []string{"grantd", "other"}, "azp": "other"})), false},
		{"several audiences, azp us", x.signRS(t, x.with(map[string]any{"aud": []string{"grantd", "other"}, "azp": "grantd"})), true},
		{"one audience, azp another client", x.signRS(t, x.with(map[string]any{"azp": "other"})), false},
		{"expired beyond the skew", x.signRS(t, x.with(map[string]any{"exp": epoch.Add(-2 * time.Minute).Unix()})), false},
		{"expired within the skew", x.signRS(t, x.with(map[string]any{"exp": epoch.Add(-30 * time.Second).Unix()})), true},
		{"no exp", x.signRS(t, x.with(map[string]any{"exp": nil})), false},
		{"exp as a string", x.signRS(t, x.with(map[string]any{"exp": "2099-01-01"})), false},
		{"iat in the future", x.signRS(t, x.with(map[string]any{"iat": epoch.Add(5 * time.Minute).Unix()})), false},
		{"iat ahead within the skew", x.signRS(t, x.with(map[string]any{"iat": epoch.Add(30 * time.Second).Unix()})), true},
		{"no iat", x.signRS(t, x.with(map[string]any{"iat": nil})), false},
		{"nbf in the future", x.signRS(t, x.with(map[string]any{"nbf": epoch.Add(5 * time.Minute).Unix()})), false},
		{"wrong nonce", x.signRS(t, x.with(map[string]any{"nonce": "another-nonce"})), false},
		{"no nonce", x.signRS(t, x.with(map[string]any{"nonce": nil})), false},
		{"token_use access (Cognito access token)", x.signRS(t, x.with(map[string]any{"token_use": "access"})), false},
		{"no sub", x.signRS(t, x.with(map[string]any{"sub": nil})), false},
		{"at_hash of another token", x.signRS(t, x.with(map[string]any{"at_hash": atHash("other")})), false},
		{"at_hash of the access token", x.signRS(t, x.with(map[string]any{"at_hash": atHash("upstream-access")})), true},
		{"oversized", x.signRS(t, x.with(map[string]any{"pad": strings.Repeat("x", 70<<10)})), false},
		{"not a JWS", "not-a-token", false},
		{"JWE-shaped", "a.b.c.d.e", false},
		{"no id_token", "", false},
	}
	for _, tt := range tests {
		id, err := x.exchange(t, tt.token)
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.ok && id.Subject != "user-1":
			t.Errorf("%s: identity %+v", tt.name, id)
		case !tt.ok && !errors.Is(err, upstream.ErrInvalidIDToken):
			t.Errorf("%s: got %v, want ErrInvalidIDToken", tt.name, err)
		}
	}
}

func TestIdentityFromClaims(t *testing.T) {
	x := newIDTokenFixture(t)
	tests := []struct {
		name, claim string
		edit        map[string]any
		want        upstream.Identity
	}{
		{"configured claim", "cognito:username", nil,
			upstream.Identity{Subject: "user-1", Username: "alice", Email: "alice@example.com", EmailVerified: true}},
		{"default claim, falls back to email", "", nil,
			upstream.Identity{Subject: "user-1", Username: "alice@example.com", Email: "alice@example.com", EmailVerified: true}},
		{"preferred_username", "", map[string]any{"preferred_username": "al"},
			upstream.Identity{Subject: "user-1", Username: "al", Email: "alice@example.com", EmailVerified: true}},
		{"configured claim missing, then sub", "cognito:username", map[string]any{"cognito:username": nil, "email": nil},
			upstream.Identity{Subject: "user-1", Username: "user-1"}},
		{"claim not a string", "cognito:username", map[string]any{"cognito:username": 7, "email": nil},
			upstream.Identity{Subject: "user-1", Username: "user-1"}},
		{"email_verified as the string true", "", map[string]any{"email_verified": "true"},
			upstream.Identity{Subject: "user-1", Username: "alice@example.com", Email: "alice@example.com", EmailVerified: true}},
		{"email not verified", "", map[string]any{"email_verified": false},
			upstream.Identity{Subject: "user-1", Username: "alice@example.com", Email: "alice@example.com"}},
	}
	for _, tt := range tests {
		x.f.set(func(f *fakeOP) { f.tokenBody = tokenResponse(x.signRS(t, x.with(tt.edit))) })
		p := x.f.provider(t, x.clock, func(c *upstream.Config) { c.UsernameClaim = tt.claim })
		id, _, err := p.Exchange(t.Context(), callback, "code", x.req)
		if err != nil || id != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.name, id, err, tt.want)
		}
	}
}

// TestUnknownKidRefetchesAtMostOncePerMinute: a token signed with a key the
// cache lacks refetches the JWKS, but not more than once a minute (REL-17),
// and a rotated-in key is picked up after that minute.
func TestUnknownKidRefetchesAtMostOncePerMinute(t *testing.T) {
	x := newIDTokenFixture(t)
	p := x.f.provider(t, x.clock)
	exchange := func(token string) error {
		x.f.set(func(f *fakeOP) { f.tokenBody = tokenResponse(token) })
		_, _, err := p.Exchange(t.Context(), callback, "code", x.req)
		return err
	}
	if err := exchange(x.signRS(t, x.claims())); err != nil {
		t.Fatal(err)
	}
	if n := x.f.jwksHits.Load(); n != 1 {
		t.Fatalf("first sign-in fetched the JWKS %d times, want 1", n)
	}
	rotated := rsaKey(t, "k2")
	byNewKey := sign(t, rotated.Key, jose.RS256, map[jose.HeaderKey]any{"kid": "k2"}, x.claims())

	// Within the minute after the first fetch: unknown kid, no refetch.
	for range 5 {
		if err := exchange(byNewKey); !errors.Is(err, upstream.ErrInvalidIDToken) {
			t.Fatalf("unknown kid: %v, want ErrInvalidIDToken", err)
		}
	}
	if n := x.f.jwksHits.Load(); n != 1 {
		t.Errorf("unknown kid within a minute fetched the JWKS: %d fetches, want 1", n)
	}

	// The upstream rotates; a minute later the unknown kid refetches once.
	x.f.set(func(f *fakeOP) { f.jwks = append(f.jwks, rotated) })
	x.clock.advance(upstream.JWKSRefetchInterval)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() {
			_, _, errs[i] = p.Exchange(t.Context(), callback, "code", x.req)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("after rotation: %v", err)
		}
	}
	if n := x.f.jwksHits.Load(); n != 2 {
		t.Errorf("after a minute, 10 concurrent sign-ins fetched the JWKS %d times in all, want 2", n)
	}

	// Keys older than JWKSMaxAge are fetched again, once.
	x.clock.advance(upstream.JWKSMaxAge)
	for range 3 {
		if err := exchange(x.signRS(t, x.claims())); err != nil {
			t.Fatal(err)
		}
	}
	if n := x.f.jwksHits.Load(); n != 3 {
		t.Errorf("stale keys: %d fetches in all, want 3", n)
	}
}

// TestExpiryFollowsTheInjectedClock moves the clock, not time (no sleep).
func TestExpiryFollowsTheInjectedClock(t *testing.T) {
	x := newIDTokenFixture(t)
	token := x.signRS(t, x.claims())
	if _, err := x.exchange(t, token); err != nil {
		t.Fatal(err)
	}
	x.clock.advance(time.Hour + upstream.ClockSkew)
	if _, err := x.exchange(t, token); !errors.Is(err, upstream.ErrInvalidIDToken) {
		t.Errorf("an hour and the skew later: %v, want ErrInvalidIDToken", err)
	}
}

func TestClaimsAreNotTrustedBeforeTheSignature(t *testing.T) {
	// A token whose claims are fine but whose signature was made over other
	// claims: the payload must not be used.
	x := newIDTokenFixture(t)
	good := x.signRS(t, x.claims())
	parts := strings.Split(good, ".")
	swapped := maps.Clone(x.claims())
	swapped["sub"] = "admin"
	b, _ := json.Marshal(swapped)
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	if _, err := x.exchange(t, forged); !errors.Is(err, upstream.ErrInvalidIDToken) {
		t.Errorf("payload swapped under a valid signature: %v", err)
	}
}

// TestKeyAlgorithmIsBinding: a JWKS key that names its algorithm verifies
// only that algorithm, even one the upstream also advertises (RFC 7517
// §4.4): an RS256 key does not verify a PS256 signature.
func TestKeyAlgorithmIsBinding(t *testing.T) {
	x := newIDTokenFixture(t)
	x.f.set(func(f *fakeOP) { f.meta["id_token_signing_alg_values_supported"] = []string{"RS256", "PS256"} })
	token := sign(t, x.rsa.Key, jose.PS256, map[jose.HeaderKey]any{"kid": "k1"}, x.claims())
	if _, err := x.exchange(t, token); !errors.Is(err, upstream.ErrInvalidIDToken) {
		t.Errorf("PS256 with a key for RS256: %v, want ErrInvalidIDToken", err)
	}
}

// TestLogsHoldNoSecrets: the reasons logged for refused tokens and failed
// calls carry no token, code, verifier or client secret (GEN-04).
func TestLogsHoldNoSecrets(t *testing.T) {
	x := newIDTokenFixture(t)
	var logs logtest.Buffer
	p, err := upstream.New(upstream.Config{ID: "fake", Issuer: x.f.issuer, ClientID: "grantd", ClientSecret: "client-secret-value"},
		upstream.Options{Now: x.clock.Now, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	good := x.signRS(t, x.claims())
	bad := x.signRS(t, x.with(map[string]any{"nonce": "another"}))
	for _, body := range []any{tokenResponse(good), tokenResponse(bad), map[string]string{"error": "invalid_grant"}} {
		x.f.set(func(f *fakeOP) { f.tokenStatus, f.tokenBody = 200, body })
		p.Exchange(t.Context(), callback, "code-value", x.req)
		p.Refresh(t.Context(), "refresh-value", "user-1")
	}
	if logs.Writes() == 0 {
		t.Fatal("nothing was logged; the test proves nothing")
	}
	for _, secret := range []string{good, bad, "upstream-access", "upstream-refresh", "refresh-value", "code-value",
		"client-secret-value", x.req.CodeVerifier, x.req.Nonce} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %.20q…", secret)
		}
	}
}
