// Package ratelimit keeps attempt budgets: how many tries of something (user
// code entries, sign-ins) a key (an account, a client IP, everyone) may make
// in a window. RFC 8628 §5.1 asks that user-code attempts be rate-limited;
// RFC 6819 §5.1.4.2.3 asks the same of passwords.
//
// A budget is spent before the attempt is evaluated, so concurrent attempts
// can never overshoot it (REL-05), and a success never refunds (DEV-07).
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// Budget allows N attempts per window Per, refilled continuously.
type Budget struct {
	N   int
	Per time.Duration
}

// String formats b as ParseBudget reads it, e.g. "10/10m0s".
func (b Budget) String() string { return strconv.Itoa(b.N) + "/" + b.Per.String() }

// ParseBudget reads "N/DURATION", e.g. "10/10m" or "1000/1m".
func ParseBudget(s string) (Budget, error) {
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Budget{}, fmt.Errorf("%q: want N/DURATION, e.g. 10/10m", s)
	}
	count, err := strconv.Atoi(n)
	if err != nil || count <= 0 {
		return Budget{}, fmt.Errorf("%q: count must be a positive integer", s)
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return Budget{}, fmt.Errorf("%q: window must be a positive duration", s)
	}
	return Budget{N: count, Per: d}, nil
}

// Limiter spends attempts from per-key budgets.
type Limiter interface {
	// Take spends one attempt of key's budget at now. When the budget is
	// spent it returns ok false and how long until an attempt is available.
	Take(ctx context.Context, key string, b Budget, now time.Time) (ok bool, retryAfter time.Duration, err error)
	// Refund gives back one attempt Take took from key's budget, for an
	// attempt that turned out not to count, such as a sign-in with the
	// right password: budgets that count failures only take before the
	// attempt (so that concurrent ones never overshoot) and give back after.
	// A budget is never fuller than full.
	Refund(ctx context.Context, key string, b Budget) error
}

// Memory is an in-process Limiter: a token bucket per key. It suits one
// instance; several instances need a shared Limiter.
type Memory struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
	per    time.Duration // the window after which an idle bucket is full again
}

// sweepEvery is how often Take drops idle buckets.
const sweepEvery = time.Minute

// NewMemory returns an empty in-process limiter.
func NewMemory() *Memory { return &Memory{buckets: make(map[string]*bucket)} }

// Take implements Limiter.
func (m *Memory) Take(_ context.Context, key string, b Budget, now time.Time) (bool, time.Duration, error) {
	rate := float64(b.N) / float64(b.Per) // tokens per nanosecond
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	bk, found := m.buckets[key]
	if !found {
		bk = &bucket{tokens: float64(b.N), at: now, per: b.Per}
		m.buckets[key] = bk
	}
	if elapsed := now.Sub(bk.at); elapsed > 0 {
		bk.tokens = min(float64(b.N), bk.tokens+float64(elapsed)*rate)
		bk.at = now
	}
	if bk.tokens >= 1 {
		bk.tokens--
		return true, 0, nil
	}
	wait := time.Duration((1 - bk.tokens) / rate)
	return false, max(wait, time.Second), nil
}

// Refund implements Limiter.
func (m *Memory) Refund(_ context.Context, key string, b Budget) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if bk, ok := m.buckets[key]; ok {
		bk.tokens = min(float64(b.N), bk.tokens+1)
	}
	return nil
}

// sweepLocked drops buckets that have been idle for a whole window, and so
// are full again (dropping one changes nothing), so the map stays bounded by
// the keys seen recently.
func (m *Memory) sweepLocked(now time.Time) {
	if now.Sub(m.sweep) < sweepEvery {
		return
	}
	m.sweep = now
	for k, bk := range m.buckets {
		if now.Sub(bk.at) > bk.per {
			delete(m.buckets, k)
		}
	}
}

// Shared is a Limiter whose budgets live in the store, so that several
// instances on one database spend from one budget (RFC 8628 §5.1, REL-10).
type Shared struct{ Attempts store.Attempts }

// Take implements Limiter.
func (s Shared) Take(ctx context.Context, key string, b Budget, now time.Time) (bool, time.Duration, error) {
	ok, retry, err := s.Attempts.TakeAttempt(ctx, key, b.N, b.Per, now)
	if err != nil {
		return false, 0, fmt.Errorf("take attempt: %w", err)
	}
	if !ok {
		retry = max(retry, time.Second)
	}
	return ok, retry, nil
}

// Refund implements Limiter.
func (s Shared) Refund(ctx context.Context, key string, b Budget) error {
	if err := s.Attempts.ReturnAttempt(ctx, key, b.N, b.Per); err != nil {
		return fmt.Errorf("refund attempt: %w", err)
	}
	return nil
}
