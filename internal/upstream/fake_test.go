package upstream_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grantd/grantd/internal/upstream"
)

// fakeOP is a small OpenID provider on 127.0.0.1 for the cases a real one
// will not produce: its token endpoint answers whatever the test set, in
// particular crafted ID tokens. Its JWKS publishes the keys in jwks.
type fakeOP struct {
	t      *testing.T
	srv    *httptest.Server
	issuer string

	mu          sync.Mutex
	meta        map[string]any // the discovery document; tests may change it
	metaStatus  int            // when not 0, discovery answers this status
	jwks        []jose.JSONWebKey
	tokenStatus int
	tokenBody   any // JSON-encoded; a string is sent as it is
	tokenForms  []url.Values
	revokeForms []url.Values
	authHeaders []string
	revokeCode  int

	discoveryHits, jwksHits atomic.Int32
}

func newFakeOP(t *testing.T) *fakeOP {
	f := &fakeOP{t: t, tokenStatus: http.StatusOK, revokeCode: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.discovery)
	mux.HandleFunc("GET /jwks", f.keys)
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("POST /revoke", f.revoke)
	f.srv = httptest.NewServer(mux) // on 127.0.0.1
	t.Cleanup(f.srv.Close)
	f.issuer = f.srv.URL
	f.meta = map[string]any{
		"issuer":                                f.issuer,
		"authorization_endpoint":                f.issuer + "/authorize",
		"token_endpoint":                        f.issuer + "/token",
		"jwks_uri":                              f.issuer + "/jwks",
		"revocation_endpoint":                   f.issuer + "/revoke",
		"response_types_supported":              []string{"code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		"scopes_supported":                      []string{"openid", "email"},
	}
	return f
}

func (f *fakeOP) set(fn func(f *fakeOP)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeOP) discovery(w http.ResponseWriter, r *http.Request) {
	f.discoveryHits.Add(1)
	f.mu.Lock()
	status, meta := f.metaStatus, maps.Clone(f.meta)
	f.mu.Unlock()
	if status != 0 {
		http.Error(w, "unavailable", status)
		return
	}
	writeJSON(w, http.StatusOK, meta)
}

func (f *fakeOP) keys(w http.ResponseWriter, r *http.Request) {
	f.jwksHits.Add(1)
	f.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range f.jwks {
		set.Keys = append(set.Keys, k.Public())
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

func (f *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	f.tokenForms = append(f.tokenForms, r.PostForm)
	f.authHeaders = append(f.authHeaders, r.Header.Get("Authorization"))
	status, body := f.tokenStatus, f.tokenBody
	f.mu.Unlock()
	if s, ok := body.(string); ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(s))
		return
	}
	writeJSON(w, status, body)
}

func (f *fakeOP) revoke(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	f.revokeForms = append(f.revokeForms, r.PostForm)
	f.authHeaders = append(f.authHeaders, r.Header.Get("Authorization"))
	code := f.revokeCode
	f.mu.Unlock()
	if code != http.StatusOK {
		writeJSON(w, code, map[string]string{"error": "unsupported_token_type"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// tokenResponse is a token endpoint answer carrying idToken.
func tokenResponse(idToken string) map[string]any {
	return map[string]any{
		"access_token": "upstream-access", "token_type": "Bearer", "expires_in": 3600,
		"refresh_token": "upstream-refresh", "id_token": idToken, "scope": "openid email",
	}
}

// rsaKey makes an RS256 signing key with the given kid.
func rsaKey(t *testing.T, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: "RS256", Use: "sig"}
}

// sign makes a compact JWS of claims with key, alg and extra header fields.
func sign(t *testing.T, key any, alg jose.SignatureAlgorithm, header map[jose.HeaderKey]any, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: header}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// clock is a settable clock for the Provider under test.
type clock struct{ now atomic.Pointer[time.Time] }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}

func (c *clock) Now() time.Time          { return *c.now.Load() }
func (c *clock) set(t time.Time)         { c.now.Store(&t) }
func (c *clock) advance(d time.Duration) { c.set(c.Now().Add(d)) }

// provider is a Provider for f with client "grantd" and the clock c.
func (f *fakeOP) provider(t *testing.T, c *clock, edit ...func(*upstream.Config)) *upstream.Provider {
	t.Helper()
	cfg := upstream.Config{ID: "fake", Issuer: f.issuer, ClientID: "grantd", ClientSecret: "s3cret", Scopes: []string{"email"}}
	for _, e := range edit {
		e(&cfg)
	}
	p, err := upstream.New(cfg, upstream.Options{Now: c.Now, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
