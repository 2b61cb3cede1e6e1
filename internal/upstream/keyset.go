package upstream

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// keySet is the upstream's JWKS, cached. go-oidc's RemoteKeySet refetches
// on every unknown key id without a limit (it only merges concurrent
// fetches); this one refetches on an unknown key id at most once per
// JWKSRefetchInterval, so tokens with made-up key ids cannot make grantd
// hammer the upstream.
//
// Fetching happens in prepare, before verification; VerifySignature (the
// go-oidc KeySet interface) only reads the cache. That keeps an unreachable
// JWKS (ErrUnavailable) apart from a bad signature (ErrInvalidIDToken).
type keySet struct {
	url     string
	client  *http.Client
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetchedAt time.Time // of the keys held; zero before the first success
	lastFetch time.Time // of the last fetch attempt
	flight    flight[[]jose.JSONWebKey]
}

// prepare makes sure the cache may verify a token signed with kid. It
// fetches the JWKS when it holds no keys; otherwise at most once per
// JWKSRefetchInterval, when kid is unknown or the keys are JWKSMaxAge old.
// It fails only when it had to fetch and has no keys to fall back on.
func (s *keySet) prepare(ctx context.Context, kid string) error {
	now := s.now()
	s.mu.Lock()
	have := len(s.keys) > 0
	known := have && s.hasLocked(kid)
	may := now.Sub(s.lastFetch) >= JWKSRefetchInterval
	var reason string
	switch {
	case !have:
		reason = "no keys yet"
	case may && !known:
		reason = "unknown key id"
	case may && now.Sub(s.fetchedAt) >= JWKSMaxAge:
		reason = "keys are stale"
	}
	var c *flightCall[[]jose.JSONWebKey]
	if reason != "" {
		s.lastFetch = now
		c = s.flight.start(ctx, s.fetch)
	} else if !known {
		c = s.flight.running() // a refetch another caller started may bring kid
	}
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	if reason != "" {
		s.log.Info("upstream JWKS: fetching", "reason", reason, "kid", kid)
	}
	_, err := c.wait(ctx)
	if err != nil && have {
		s.log.Warn("upstream JWKS: refetch failed; keeping the cached keys", "err", err)
		return nil
	}
	return err
}

// count is the number of keys held.
func (s *keySet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

func (s *keySet) hasLocked(kid string) bool {
	for _, k := range s.keys {
		if kid == "" || k.KeyID == kid {
			return true
		}
	}
	return false
}

// fetch loads the JWKS and replaces the cache on success.
func (s *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(withCall(ctx, CallKeys), s.client, s.url, &raw); err != nil {
		return nil, err
	}
	var keys []jose.JSONWebKey
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			continue // RFC 7517 §5: ignore keys we do not understand
		}
		if usable(k) {
			keys = append(keys, k.Public())
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("GET %s: no usable signing key", s.url)
	}
	s.mu.Lock()
	s.keys, s.fetchedAt = keys, s.now()
	s.mu.Unlock()
	return keys, nil
}

// usable reports whether k can verify signatures for us: an RSA, EC or
// Ed25519 public key, for signing, with an allowed algorithm if it names
// one.
func usable(k jose.JSONWebKey) bool {
	if k.Use != "" && k.Use != "sig" {
		return false
	}
	if k.Algorithm != "" && len(signingAlgs([]string{k.Algorithm})) == 0 {
		return false
	}
	switch k.Public().Key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}

// errUnknownKey is a token signed with a key id the JWKS does not hold.
var errUnknownKey = errors.New("signed with a key the upstream's JWKS does not hold")

// VerifySignature verifies jwt's signature with a cached key whose id (and
// algorithm, when the key names one) match its header. It implements
// go-oidc's KeySet; go-oidc has already refused algorithms off the list.
func (s *keySet) VerifySignature(_ context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, signingAlgs(nil))
	if err != nil {
		return nil, err
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("not exactly one signature")
	}
	h := jws.Signatures[0].Protected
	s.mu.Lock()
	keys := s.keys
	s.mu.Unlock()
	found := false
	for _, k := range keys {
		if h.KeyID != "" && k.KeyID != h.KeyID || k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		found = true
		if payload, err := jws.Verify(k); err == nil {
			return payload, nil
		}
	}
	if !found {
		return nil, fmt.Errorf("%w (kid %q, alg %s)", errUnknownKey, h.KeyID, h.Algorithm)
	}
	return nil, errors.New("signature does not verify")
}
