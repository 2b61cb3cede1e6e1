package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// PurgeExpired deletes what the SQL store purges at now, and reports how
// many records it removed: device grants, sessions, authorization codes,
// grants, access token revocations, passthrough token records and
// single-use marks whose lifetime ended at or before now; signing keys
// retired by then; attempt budgets full again; and refresh tokens whose
// family can no longer be used — past its absolute lifetime, or past every
// generation's idle lifetime. A rotated generation of a live family stays,
// since presenting it again is how reuse is detected (RFC 9700 §4.14.2),
// as does a redeemed code until it expires (RFC 6749 §4.1.2).
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) (int64, error) {
	if err := s.lock(ctx); err != nil {
		return 0, fmt.Errorf("purge expired: %w", err)
	}
	defer s.mu.Unlock()
	var n int64
	for hash, g := range s.devices {
		if ended(g.ExpiresAt, now) {
			s.deleteDevice(hash)
			n++
		}
	}
	n += purge(s.sessions, now, func(v store.Session) time.Time { return v.ExpiresAt })
	n += s.purgeRefresh(now)
	n += purge(s.codes, now, func(v store.AuthorizationCode) time.Time { return v.ExpiresAt })
	n += purge(s.grants, now, func(v store.Grant) time.Time { return v.ExpiresAt })
	n += purge(s.revoked, now, func(expires time.Time) time.Time { return expires })
	for id, k := range s.keys {
		if !k.RetiresAt.IsZero() && ended(k.RetiresAt, now) {
			delete(s.keys, id)
			n++
		}
	}
	for key, tat := range s.attempts {
		if tat <= nanos(now) {
			delete(s.attempts, key)
			n++
		}
	}
	n += purge(s.passthrough, now, func(v store.PassthroughToken) time.Time { return v.ExpiresAt })
	n += purge(s.usedOnce, now, func(expires time.Time) time.Time { return expires })
	return n, nil
}

// purge deletes the records of m whose lifetime, as expiry says, ended at
// or before now, and returns how many it deleted.
func purge[V any](m map[string]V, now time.Time, expiry func(V) time.Time) int64 {
	var n int64
	for k, v := range m {
		if ended(expiry(v), now) {
			delete(m, k)
			n++
		}
	}
	return n
}

// purgeRefresh deletes the refresh tokens whose family can no longer be
// used at now, and returns how many it deleted.
func (s *Store) purgeRefresh(now time.Time) int64 {
	// usable is by grant id: a generation within the family's lifetime
	// whose idle lifetime runs.
	usable := make(map[string]bool)
	for _, gen := range s.refresh {
		if alive(gen.t.FamilyExpiresAt, now) && alive(gen.t.ExpiresAt, now) {
			usable[gen.t.GrantID] = true
		}
	}
	var n int64
	for hash, gen := range s.refresh {
		if ended(gen.t.FamilyExpiresAt, now) || !usable[gen.t.GrantID] {
			delete(s.refresh, hash)
			n++
		}
	}
	return n
}
