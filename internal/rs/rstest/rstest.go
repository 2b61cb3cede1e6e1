// Package rstest is a stand-in authorization server for tests of resource
// servers: it publishes RFC 8414 metadata and a JWKS over real HTTP on
// loopback, signs access tokens the way grantd does (RFC 9068, RS256,
// typ at+jwt), and can sign forgeries.
package rstest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Server is the stand-in authorization server.
type Server struct {
	*httptest.Server
	// Issuer is the server's URL, which tokens carry as iss.
	Issuer string
	// JWKSFetches counts GETs of the JWKS.
	JWKSFetches atomic.Int64

	mu      sync.Mutex
	keys    []*rsa.PrivateKey // published; the last one signs
	kids    []string
	introsp func(token string) map[string]any
}

// New starts a Server with one signing key, stopped when t ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.metadata)
	mux.HandleFunc("GET /jwks", s.jwks)
	mux.HandleFunc("POST /introspect", s.introspect)
	s.Server = httptest.NewServer(mux)
	s.Issuer = s.URL
	t.Cleanup(s.Close)
	s.Rotate(t)
	return s
}

// Rotate publishes a new key, which signs from now on; older keys stay
// published.
func (s *Server) Rotate(t testing.TB) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k)
	kid := "k" + strconv.Itoa(len(s.keys))
	s.kids = append(s.kids, kid)
	return kid
}

// PublicKey returns the public key that signs now.
func (s *Server) PublicKey() *rsa.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &s.keys[len(s.keys)-1].PublicKey
}

// SetIntrospection makes POST /introspect answer with answer(token).
func (s *Server) SetIntrospection(answer func(token string) map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.introsp = answer
}

// Claims returns the claims of a valid access token for sub at audience,
// issued at now for an hour.
func (s *Server) Claims(sub, audience, scope string, now time.Time) map[string]any {
	return map[string]any{"iss": s.Issuer, "sub": sub, "aud": audience, "client_id": "test-client",
		"scope": scope, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "jti-" + sub + "-" + scope,
		"grant_id": "grant-" + sub}
}

// AccessToken signs a valid access token for sub at audience (RFC 9068).
func (s *Server) AccessToken(t testing.TB, sub, audience, scope string, now time.Time) string {
	t.Helper()
	return s.Sign(t, map[string]any{"typ": "at+jwt"}, s.Claims(sub, audience, scope, now))
}

// Sign signs claims with the current key, RS256, under header (alg and kid
// are set unless header has them).
func (s *Server) Sign(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	s.mu.Lock()
	key, kid := s.keys[len(s.keys)-1], s.kids[len(s.kids)-1]
	s.mu.Unlock()
	h := map[string]any{"alg": "RS256", "kid": kid}
	for k, v := range header {
		h[k] = v
	}
	signing := Encode(t, h) + "." + Encode(t, claims)
	sum := crypto.SHA256.New()
	sum.Write([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Encode returns v as base64url JSON, a JWS segment.
func Encode(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) metadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{"issuer": s.Issuer, "jwks_uri": s.URL + "/jwks",
		"introspection_endpoint": s.URL + "/introspect", "token_endpoint": s.URL + "/token"})
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	s.JWKSFetches.Add(1)
	s.mu.Lock()
	var set jose.JSONWebKeySet
	for i, k := range s.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: s.kids[i], Algorithm: "RS256", Use: "sig"})
	}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, set)
}

func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	answer := s.introsp
	s.mu.Unlock()
	if answer == nil || r.ParseForm() != nil {
		http.Error(w, "no introspection", http.StatusInternalServerError)
		return
	}
	writeJSON(w, answer(r.PostForm.Get("token")))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
