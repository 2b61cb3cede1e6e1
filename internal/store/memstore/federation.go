package memstore

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// upstreamOut returns a stored upstream with a list and a map of its own.
func upstreamOut(u store.Upstream) store.Upstream {
	u.Scopes, u.ExtraParams = list(u.Scopes), maps.Clone(u.ExtraParams)
	return u
}

// CreateUpstream stores u. It returns store.ErrAlreadyExists when the id
// is taken.
func (s *Store) CreateUpstream(ctx context.Context, u store.Upstream) error {
	op := fmt.Sprintf("create upstream %q", u.ID)
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	if err := required(op, u.CreatedAt); err != nil {
		return err
	}
	if _, taken := s.upstreams[u.ID]; taken {
		return fmt.Errorf("%s: %w", op, store.ErrAlreadyExists)
	}
	u = upstreamOut(u)
	u.CreatedAt = stamp(u.CreatedAt)
	s.upstreams[u.ID] = u
	return nil
}

// Upstream returns the upstream with the given id, or store.ErrNotFound.
func (s *Store) Upstream(ctx context.Context, id string) (store.Upstream, error) {
	if err := s.lock(ctx); err != nil {
		return store.Upstream{}, fmt.Errorf("upstream %q: %w", id, err)
	}
	defer s.mu.Unlock()
	u, ok := s.upstreams[id]
	if !ok {
		return store.Upstream{}, fmt.Errorf("upstream %q: %w", id, store.ErrNotFound)
	}
	return upstreamOut(u), nil
}

// Upstreams returns every upstream, ordered by id.
func (s *Store) Upstreams(ctx context.Context) ([]store.Upstream, error) {
	if err := s.lock(ctx); err != nil {
		return nil, fmt.Errorf("upstreams: %w", err)
	}
	defer s.mu.Unlock()
	var us []store.Upstream
	for _, id := range sortedKeys(s.upstreams) {
		us = append(us, upstreamOut(s.upstreams[id]))
	}
	return us, nil
}

// DeleteUpstream deletes the upstream, or returns store.ErrNotFound.
func (s *Store) DeleteUpstream(ctx context.Context, id string) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("delete upstream %q: %w", id, err)
	}
	defer s.mu.Unlock()
	if _, ok := s.upstreams[id]; !ok {
		return fmt.Errorf("delete upstream %q: %w", id, store.ErrNotFound)
	}
	delete(s.upstreams, id)
	return nil
}

// passthroughIn returns t as the store keeps it.
func passthroughIn(t store.PassthroughToken) store.PassthroughToken {
	t.CreatedAt, t.ExpiresAt = stamp(t.CreatedAt), stamp(t.ExpiresAt)
	return t
}

// checkPassthrough returns an error, store.ErrAlreadyExists when the hash
// is taken, unless t can be stored.
func (s *Store) checkPassthrough(op string, t store.PassthroughToken) error {
	if err := required(op, t.CreatedAt, t.ExpiresAt); err != nil {
		return err
	}
	if _, taken := s.passthrough[t.Hash]; taken {
		return fmt.Errorf("%s: %w", op, store.ErrAlreadyExists)
	}
	return nil
}

// insertPassthrough stores t, unless it cannot be stored (checkPassthrough).
func (s *Store) insertPassthrough(op string, t store.PassthroughToken) error {
	if err := s.checkPassthrough(op, t); err != nil {
		return err
	}
	s.passthrough[t.Hash] = passthroughIn(t)
	return nil
}

// PassthroughToken returns the record with the given hash, or
// store.ErrNotFound.
func (s *Store) PassthroughToken(ctx context.Context, hash string) (store.PassthroughToken, error) {
	if err := s.lock(ctx); err != nil {
		return store.PassthroughToken{}, fmt.Errorf("passthrough token: %w", err)
	}
	defer s.mu.Unlock()
	t, ok := s.passthrough[hash]
	if !ok {
		return store.PassthroughToken{}, fmt.Errorf("passthrough token: %w", store.ErrNotFound)
	}
	return t, nil
}

// ReplacePassthroughToken deletes oldHash and stores next, at once;
// store.ErrNotFound, storing nothing, when oldHash is gone.
func (s *Store) ReplacePassthroughToken(ctx context.Context, oldHash string, next store.PassthroughToken) error {
	const op = "replace passthrough token"
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	old, ok := s.passthrough[oldHash]
	if !ok {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	delete(s.passthrough, oldHash)
	if err := s.insertPassthrough(op, next); err != nil {
		s.passthrough[oldHash] = old
		return err
	}
	return nil
}

// DeletePassthroughToken deletes the record. Idempotent.
func (s *Store) DeletePassthroughToken(ctx context.Context, hash string) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("delete passthrough token: %w", err)
	}
	defer s.mu.Unlock()
	delete(s.passthrough, hash)
	return nil
}

// UseOnce records key as used until expiresAt; a second use of the key,
// until it is purged, finds it taken (store.ErrAlreadyExists).
func (s *Store) UseOnce(ctx context.Context, key string, expiresAt time.Time) error {
	const op = "use once"
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer s.mu.Unlock()
	if err := required(op, expiresAt); err != nil {
		return err
	}
	if _, used := s.usedOnce[key]; used {
		return fmt.Errorf("%s: %w", op, store.ErrAlreadyExists)
	}
	s.usedOnce[key] = stamp(expiresAt)
	return nil
}

// ResealAll replaces every sealed value with reseal's, at once: an error
// from reseal changes nothing. Values come by kind — upstream secrets,
// session tokens, device grant tokens — and by key within a kind.
func (s *Store) ResealAll(ctx context.Context, reseal func(store.SealedValue) (string, error)) (int, error) {
	if err := s.lock(ctx); err != nil {
		return 0, fmt.Errorf("reseal: %w", err)
	}
	defer s.mu.Unlock()
	var values []store.SealedValue
	for _, id := range sortedKeys(s.upstreams) {
		values = appendSealed(values, store.SealedUpstreamSecret, id, s.upstreams[id].ClientSecret)
	}
	for _, hash := range sortedKeys(s.sessions) {
		values = appendSealed(values, store.SealedSessionTokens, hash, s.sessions[hash].UpstreamTokens)
	}
	for _, hash := range sortedKeys(s.devices) {
		values = appendSealed(values, store.SealedDeviceTokens, hash, s.devices[hash].UpstreamTokens)
	}
	next := make([]string, len(values))
	for i, v := range values {
		var err error
		if next[i], err = reseal(v); err != nil {
			return 0, fmt.Errorf("reseal: %s %q: %w", v.Kind, v.Key, err)
		}
	}
	for i, v := range values {
		switch v.Kind {
		case store.SealedUpstreamSecret:
			u := s.upstreams[v.Key]
			u.ClientSecret = next[i]
			s.upstreams[v.Key] = u
		case store.SealedSessionTokens:
			sess := s.sessions[v.Key]
			sess.UpstreamTokens = next[i]
			s.sessions[v.Key] = sess
		default:
			g := s.devices[v.Key]
			g.UpstreamTokens = next[i]
			s.devices[v.Key] = g
		}
	}
	return len(values), nil
}

// appendSealed appends the sealed value of kind under key to values,
// unless it is empty (nothing sealed there).
func appendSealed(values []store.SealedValue, kind, key, value string) []store.SealedValue {
	if value == "" {
		return values
	}
	return append(values, store.SealedValue{Kind: kind, Key: key, Value: value})
}
