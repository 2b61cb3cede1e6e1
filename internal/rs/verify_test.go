package rs_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/grantd/grantd/internal/rs"
	"github.com/grantd/grantd/internal/rs/rstest"
)

const lightsAPI = "https://lights.example/v1"

// clock is a settable clock.
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

func newVerifier(as *rstest.Server, now *clock) *rs.Verifier {
	v := rs.NewVerifier(as.Issuer, lightsAPI)
	v.Now, v.Keys.Now = now.Now, now.Now
	return v
}

// with returns a copy of m with the changes; a nil value deletes the key.
func with(m map[string]any, changes map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// hs256 signs header.claims with HMAC-SHA256 under key.
func hs256(t *testing.T, header, claims map[string]any, key []byte) string {
	signing := rstest.Encode(t, header) + "." + rstest.Encode(t, claims)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestVerifierForgeries sends every forgery of JWT-08 (and JWT-09, JWT-10,
// JWT-13) to the verifier; each is refused with ErrInvalidToken, and the
// genuine token and its allowed variants are accepted.
func TestVerifierForgeries(t *testing.T) {
	as := rstest.New(t)
	now := &clock{t: time.Unix(1_800_000_000, 0)}
	v := newVerifier(as, now)
	good := as.Claims("alice", lightsAPI, "lights:read lights:write", now.Now())
	kid := "k1"
	pubDER, err := x509.MarshalPKIXPublicKey(as.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	attackerJWK := jose.JSONWebKey{Key: &attacker.PublicKey, KeyID: kid}
	at := map[string]any{"typ": "at+jwt"}
	genuine := as.Sign(t, at, good)
	parts := strings.Split(genuine, ".")

	cases := []struct {
		id, name string
		token    string
		ok       bool
	}{
		{"", "genuine", genuine, true},
		{"", "typ application/at+jwt", as.Sign(t, map[string]any{"typ": "application/at+jwt"}, good), true},
		{"JWT-13", "aud array holding ours", as.Sign(t, at, with(good, map[string]any{"aud": []string{"other", lightsAPI}})), true},
		{"", "expired within the leeway", as.Sign(t, at, with(good, map[string]any{"exp": now.Now().Add(-10 * time.Second).Unix()})), true},
		{"JWT-08", "alg none", rstest.Encode(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + ".", false},
		{"JWT-08", "alg none, signature kept", rstest.Encode(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + "." + parts[2], false},
		{"JWT-08", "HS256 keyed with the public key (PEM)", hs256(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}, good, pubPEM), false},
		{"JWT-08", "HS256 keyed with the public key (DER)", hs256(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}, good, pubDER), false},
		{"JWT-08", "unknown kid", as.Sign(t, map[string]any{"typ": "at+jwt", "kid": "no-such-key"}, good), false},
		{"JWT-08", "kid with a path", as.Sign(t, map[string]any{"typ": "at+jwt", "kid": "../../../../dev/null"}, good), false},
		{"JWT-08", "kid with SQL", as.Sign(t, map[string]any{"typ": "at+jwt", "kid": "' OR '1'='1"}, good), false},
		{"JWT-08", "no kid", as.Sign(t, map[string]any{"typ": "at+jwt", "kid": ""}, good), false},
		{"JWT-08", "jku header", as.Sign(t, map[string]any{"typ": "at+jwt", "jku": "https://evil.example/jwks"}, good), false},
		{"JWT-08", "x5u header", as.Sign(t, map[string]any{"typ": "at+jwt", "x5u": "https://evil.example/cert"}, good), false},
		{"JWT-08", "embedded jwk of the attacker", signES256(t, attacker, map[string]any{"typ": "at+jwt", "kid": kid, "jwk": attackerJWK}, good), false},
		{"JWT-08", "typ JWT", as.Sign(t, map[string]any{"typ": "JWT"}, good), false},
		{"JWT-08", "typ missing", as.Sign(t, nil, good), false},
		{"JWT-09", "ID token", as.Sign(t, map[string]any{"typ": "JWT"}, map[string]any{"iss": as.Issuer, "sub": "alice",
			"aud": "test-client", "iat": now.Now().Unix(), "exp": now.Now().Add(time.Hour).Unix(), "nonce": "n"}), false},
		{"JWT-09", "ID token with our audience", as.Sign(t, map[string]any{"typ": "JWT"}, with(good, map[string]any{"nonce": "n"})), false},
		{"JWT-08", "another issuer", as.Sign(t, at, with(good, map[string]any{"iss": "https://evil.example"})), false},
		{"JWT-08", "issuer with a trailing slash", as.Sign(t, at, with(good, map[string]any{"iss": as.Issuer + "/"})), false},
		{"JWT-13", "another audience", as.Sign(t, at, with(good, map[string]any{"aud": "https://other.example"})), false},
		{"JWT-13", "no audience", as.Sign(t, at, with(good, map[string]any{"aud": nil})), false},
		{"JWT-08", "expired beyond the leeway", as.Sign(t, at, with(good, map[string]any{"exp": now.Now().Add(-time.Minute).Unix()})), false},
		{"JWT-08", "no exp", as.Sign(t, at, with(good, map[string]any{"exp": nil})), false},
		{"JWT-08", "nbf in the future", as.Sign(t, at, with(good, map[string]any{"nbf": now.Now().Add(time.Hour).Unix()})), false},
		{"JWT-08", "iat in the future", as.Sign(t, at, with(good, map[string]any{"iat": now.Now().Add(time.Hour).Unix()})), false},
		{"JWT-08", "ES256 by a key not in the JWKS", signES256(t, attacker, map[string]any{"typ": "at+jwt", "kid": kid}, good), false},
		{"GEN-05", "payload swapped", parts[0] + "." + rstest.Encode(t, with(good, map[string]any{"sub": "bob"})) + "." + parts[2], false},
		{"GEN-05", "signature truncated", genuine[:len(genuine)-4], false},
		{"GEN-05", "two segments", parts[0] + "." + parts[1], false},
		{"JWT-10", "a megabyte of dots", strings.Repeat(".", 1<<20), false},
		{"JWT-10", "JWE-shaped", "a.b.c.d.e", false},
		{"", "empty", "", false},
	}
	for _, tc := range cases {
		c, err := v.Check(t.Context(), tc.token)
		if tc.ok {
			if err != nil || c.Subject != "alice" || !c.HasScope("lights:write") {
				t.Errorf("%s %s: got %+v, %v; want alice's claims", tc.id, tc.name, c, err)
			}
			continue
		}
		if !errors.Is(err, rs.ErrInvalidToken) {
			t.Errorf("%s %s: got %+v, %v; want ErrInvalidToken", tc.id, tc.name, c, err)
		}
	}
}

// signES256 signs claims with an attacker's key, under header.
func signES256(t *testing.T, key *ecdsa.PrivateKey, header, claims map[string]any) string {
	opts := &jose.SignerOptions{}
	for k, v := range header {
		opts.WithHeader(jose.HeaderKey(k), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestKeySetRefetch checks the JWKS cache: a key published after the last
// fetch is found on its first use (REL-12), made-up kids cause at most one
// fetch per MinRefetch, and the set is fetched again after its max-age.
func TestKeySetRefetch(t *testing.T) {
	as := rstest.New(t)
	now := &clock{t: time.Unix(1_800_000_000, 0)}
	v := newVerifier(as, now)
	tok := as.AccessToken(t, "alice", lightsAPI, "lights:read", now.Now())
	steps := []struct {
		name        string
		advance     time.Duration
		token       func() string
		wantOK      bool
		wantFetches int64
	}{
		{"first token fetches the JWKS", 0, func() string { return tok }, true, 1},
		{"second token uses the cache", time.Second, func() string { return tok }, true, 1},
		{"unknown kid within MinRefetch: no fetch", time.Second, func() string {
			return as.Sign(t, map[string]any{"typ": "at+jwt", "kid": "made-up"}, as.Claims("alice", lightsAPI, "", now.Now()))
		}, false, 1},
		{"many unknown kids: still none", 0, func() string {
			return as.Sign(t, map[string]any{"typ": "at+jwt", "kid": "made-up-2"}, as.Claims("alice", lightsAPI, "", now.Now()))
		}, false, 1},
		{"unknown kid after MinRefetch: one fetch", rs.DefaultMinRefetch, func() string {
			return as.Sign(t, map[string]any{"typ": "at+jwt", "kid": "made-up-3"}, as.Claims("alice", lightsAPI, "", now.Now()))
		}, false, 2},
		{"a rotated key is found on first use (REL-12)", rs.DefaultMinRefetch, func() string {
			as.Rotate(t)
			return as.AccessToken(t, "alice", lightsAPI, "lights:read", now.Now())
		}, true, 3},
		{"the old key still verifies its tokens", time.Second, func() string { return tok }, true, 3},
		{"after max-age the set is fetched again", 300 * time.Second, func() string {
			return as.AccessToken(t, "alice", lightsAPI, "lights:read", now.Now())
		}, true, 4},
	}
	for _, s := range steps {
		now.Add(s.advance)
		_, err := v.Check(t.Context(), s.token())
		if (err == nil) != s.wantOK || as.JWKSFetches.Load() != s.wantFetches {
			t.Errorf("%s: err %v, %d JWKS fetches; want ok %t, %d fetches", s.name, err, as.JWKSFetches.Load(), s.wantOK, s.wantFetches)
		}
	}
}

// TestKeySetUnavailable: when grantd cannot be reached the verifier says
// so (ErrUnavailable, a 503), never that the token is invalid.
func TestKeySetUnavailable(t *testing.T) {
	as := rstest.New(t)
	now := &clock{t: time.Unix(1_800_000_000, 0)}
	v := newVerifier(as, now)
	tok := as.AccessToken(t, "alice", lightsAPI, "lights:read", now.Now())
	as.Close()
	if _, err := v.Check(t.Context(), tok); !errors.Is(err, rs.ErrUnavailable) {
		t.Errorf("JWKS unreachable: %v, want ErrUnavailable", err)
	}
}
