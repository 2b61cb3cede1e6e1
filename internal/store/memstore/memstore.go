// Package memstore is a store.Store kept in the memory of one process, for
// tests and for `grantd serve --database memory:` demos only. Everything
// it holds is lost when the process exits, and no other process sees it:
// it is no store for anything that must outlive a restart, nor for several
// instances.
//
// It passes the conformance suite (package storetest) in full, and answers
// as the SQL store does in everything the suite and the handlers can
// observe: the same sentinel errors, the same orders, expiry on read and
// purge, cascades on delete, refresh families and reuse, soft poll
// records. One mutex serialises every verb, so each is atomic and exactly
// one of concurrent redeemers wins, as the contracts require; it is made
// to be simple to trust, not fast, and its lists and cascades scan.
//
// Values are copied in and out: no slice, map or byte slice of a caller's
// is kept, and none that is stored is handed out. Times are kept as the
// SQL store keeps them, to the nanosecond in UTC.
//
// The callbacks some verbs take (the store.IssueFunc of the three
// redemptions, and ResealAll's reseal) run under the store's lock: as
// their contracts say, they must only compute, never call the store.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// Store is an in-memory store.Store. The zero value is not usable; call
// New. It is safe for concurrent use.
type Store struct {
	mu     sync.Mutex
	closed bool

	clients   map[string]store.Client
	users     map[string]store.User
	usernames map[string]string   // user name → user id
	deleted   map[string]struct{} // ids of deleted users, never given out again

	devices   map[string]store.DeviceGrant // by device code hash, UpstreamTokens included
	userCodes map[string]string            // user code → device code hash

	codes    map[string]store.AuthorizationCode
	grants   map[string]store.Grant
	refresh  map[string]generation
	revoked  map[string]time.Time // revoked access token ids → their expiry
	consents map[consentKey]store.Consent

	scopes   map[string]store.Scope
	sessions map[string]store.Session
	keys     map[string]store.SigningKey
	secrets  map[string][]byte
	attempts map[string]int64 // GCRA theoretical arrival times, Unix ns

	upstreams   map[string]store.Upstream
	passthrough map[string]store.PassthroughToken
	usedOnce    map[string]time.Time
}

var _ store.Store = (*Store)(nil)

// generation is a stored refresh token generation and the hash of the one
// that replaced it ("" until rotated).
type generation struct {
	t         store.RefreshToken
	successor string
}

type consentKey struct{ user, client string }

// New returns an empty store.
func New() *Store {
	return &Store{
		clients:     make(map[string]store.Client),
		users:       make(map[string]store.User),
		usernames:   make(map[string]string),
		deleted:     make(map[string]struct{}),
		devices:     make(map[string]store.DeviceGrant),
		userCodes:   make(map[string]string),
		codes:       make(map[string]store.AuthorizationCode),
		grants:      make(map[string]store.Grant),
		refresh:     make(map[string]generation),
		revoked:     make(map[string]time.Time),
		consents:    make(map[consentKey]store.Consent),
		scopes:      make(map[string]store.Scope),
		sessions:    make(map[string]store.Session),
		keys:        make(map[string]store.SigningKey),
		secrets:     make(map[string][]byte),
		attempts:    make(map[string]int64),
		upstreams:   make(map[string]store.Upstream),
		passthrough: make(map[string]store.PassthroughToken),
		usedOnce:    make(map[string]time.Time),
	}
}

// errClosed is what every verb returns once the store is closed.
var errClosed = errors.New("memstore: store is closed")

// lock takes the store's lock for a verb, unless ctx has ended or the
// store is closed: a cancelled request gets its context's error, as from a
// database. The caller unlocks.
func (s *Store) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	return nil
}

// Ping reports whether the store answers: it does until it is closed.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("ping memory store: %w", err)
	}
	s.mu.Unlock()
	return nil
}

// Health is always nil: memory has no fault that a restart would mend.
func (s *Store) Health() error { return nil }

// Close ends the store: every verb fails afterwards, as on a closed
// database. Closing again is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// stamp returns t as the store keeps it, and as the SQL store reads it
// back: in UTC, without a monotonic reading, clamped to the int64
// nanoseconds since 1970 (before 1678 and after 2262 keep their order
// against any real clock). The zero time stays zero.
func stamp(t time.Time) time.Time {
	switch {
	case t.IsZero():
		return time.Time{}
	case t.Before(time.Unix(0, math.MinInt64)):
		return time.Unix(0, math.MinInt64).UTC()
	case t.After(time.Unix(0, math.MaxInt64)):
		return time.Unix(0, math.MaxInt64).UTC()
	}
	return time.Unix(0, t.UnixNano()).UTC()
}

// stampNumber is stamp for the few times the SQL store keeps as a plain
// number, never NULL (a consent's GrantedAt, a scope's UpdatedAt): a zero
// time reads back as the Unix epoch.
func stampNumber(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return stamp(t)
}

// nanos returns t in Unix nanoseconds, as stamp clamps it; 0 for the zero
// time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return stamp(t).UnixNano()
}

// list returns a copy of l, nil when l is empty: lists are copied in and
// out, and an empty one reads back as nil, as from the SQL store.
func list(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return slices.Clone(l)
}

// required returns an error naming what when any of ts is the zero time:
// the SQL store's columns for these times are NOT NULL, and a caller that
// leaves one out must fail here as it would there.
func required(what string, ts ...time.Time) error {
	for _, t := range ts {
		if t.IsZero() {
			return fmt.Errorf("memstore: %s: a required time is zero", what)
		}
	}
	return nil
}

// alive reports whether a lifetime that ends at expires is still running
// at now: the SQL store's expires_at > now.
func alive(expires, now time.Time) bool { return nanos(expires) > nanos(now) }

// ended reports whether a lifetime that ends at expires is over at now,
// for the purge: the SQL store's expires_at <= now.
func ended(expires, now time.Time) bool { return !alive(expires, now) }

// sortedKeys returns m's keys in byte order, the order in which the SQL
// store lists by id.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
