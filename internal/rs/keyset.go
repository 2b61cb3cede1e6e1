package rs

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Defaults of KeySet.
const (
	// DefaultMinRefetch is how often, at most, an unknown kid makes a KeySet
	// fetch the JWKS again: tokens with made-up kids cannot make a resource
	// server hammer the authorization server.
	DefaultMinRefetch = 10 * time.Second
	// DefaultMaxAge is how long a JWKS is used without a Cache-Control
	// max-age.
	DefaultMaxAge = 5 * time.Minute
)

// KeySet is the issuer's JWKS, found through its metadata and cached. It is
// safe for concurrent use; the zero value of every field but Issuer is a
// working default.
type KeySet struct {
	// Issuer is the authorization server's issuer identifier.
	Issuer     string
	HTTPClient *http.Client
	Now        func() time.Time
	// MinRefetch bounds fetches caused by unknown kids (DefaultMinRefetch).
	MinRefetch time.Duration

	mu        sync.Mutex
	jwksURI   string
	keys      map[string]jose.JSONWebKey
	fetchedAt time.Time // zero before the first successful fetch
	expires   time.Time
}

// Key returns the public key with id kid. When the cached set has expired,
// or lacks kid and was fetched at least MinRefetch ago, it fetches the JWKS
// first (REL-12: a key published after the last fetch is found). An
// unknown kid gives ErrInvalidToken; a failed fetch gives ErrUnavailable,
// unless the stale set already holds kid.
func (k *KeySet) Key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	key, known := k.keys[kid]
	fresh := !k.fetchedAt.IsZero() && now.Before(k.expires)
	switch {
	case known && fresh:
		return key, nil
	case !known && fresh && now.Sub(k.fetchedAt) < k.minRefetch():
		return jose.JSONWebKey{}, invalid("The access token's signing key is unknown.")
	}
	if err := k.fetch(ctx, now); err != nil {
		if known { // serve the stale key rather than fail every request
			return key, nil
		}
		return jose.JSONWebKey{}, err
	}
	if key, ok := k.keys[kid]; ok {
		return key, nil
	}
	return jose.JSONWebKey{}, invalid("The access token's signing key is unknown.")
}

// fetch reads the JWKS (and, the first time, the metadata naming it). The
// caller holds k.mu.
func (k *KeySet) fetch(ctx context.Context, now time.Time) error {
	if k.jwksURI == "" {
		m, err := Discover(ctx, k.HTTPClient, k.Issuer)
		if err != nil {
			return err
		}
		if m.JWKSURI == "" {
			return fmt.Errorf("metadata of %q has no jwks_uri: %w", k.Issuer, ErrUnavailable)
		}
		k.jwksURI = m.JWKSURI
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.jwksURI, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	resp, err := httpClient(k.HTTPClient).Do(req)
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch JWKS: status %d: %w", resp.StatusCode, ErrUnavailable)
	}
	if err := decodeLimited(resp.Body, &set); err != nil {
		return fmt.Errorf("decode JWKS: %w: %v", ErrUnavailable, err)
	}
	keys := make(map[string]jose.JSONWebKey, len(set.Keys))
	for _, key := range set.Keys {
		// Only public signing keys with an id count.
		if key.KeyID != "" && key.IsPublic() && (key.Use == "" || key.Use == "sig") {
			keys[key.KeyID] = key
		}
	}
	k.keys, k.fetchedAt, k.expires = keys, now, now.Add(maxAge(resp.Header.Get("Cache-Control")))
	return nil
}

// maxAge reads max-age from a Cache-Control header, or DefaultMaxAge.
func maxAge(cacheControl string) time.Duration {
	for _, d := range strings.Split(cacheControl, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(d), "max-age=")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
	}
	return DefaultMaxAge
}

func (k *KeySet) now() time.Time {
	if k.Now == nil {
		return time.Now()
	}
	return k.Now()
}

func (k *KeySet) minRefetch() time.Duration {
	if k.MinRefetch <= 0 {
		return DefaultMinRefetch
	}
	return k.MinRefetch
}
