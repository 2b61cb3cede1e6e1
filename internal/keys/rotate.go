package keys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// Rotation is how a successor key is scheduled (REL-12). A verifier caches
// the JWKS, so a new kid must be published before anything signs with it;
// and a token outlives the moment its key stops signing, so the old key
// stays published until the last such token has expired.
type Rotation struct {
	// PublishAhead is how long a successor is published before it signs:
	// at least the JWKS cache lifetime plus every instance's reload period.
	PublishAhead time.Duration
	// RetireAfter is how long the key it succeeds stays published once the
	// successor signs: the longest token lifetime plus the reload period,
	// during which an instance may still sign with the old key.
	RetireAfter time.Duration
}

// Rotate stores a successor to alg's newest key, published at now and
// signing from now+r.PublishAhead, and schedules the old key's retirement
// r.RetireAfter later. Every instance sees it at its next Reload. With a
// zero Rotation the successor signs at once and the old key is withdrawn at
// once: the answer to a leaked key, which also ends the tokens it signed.
// Where alg has no key yet, Rotate stores a first one. It returns
// store.ErrConflict when another rotation of the same key won the race.
func Rotate(ctx context.Context, ks store.Keys, rand io.Reader, now time.Time, alg string, r Rotation) (store.SigningKey, error) {
	stored, err := ks.SigningKeys(ctx)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("rotate %s key: %w", alg, err)
	}
	current, ok := newest(stored, alg)
	if !ok {
		return ensure(ctx, ks, rand, now, alg)
	}
	next, err := newKey(rand, now, alg)
	if err != nil {
		return store.SigningKey{}, err
	}
	next.ActivatesAt = now.Add(r.PublishAhead)
	if err := ks.RotateSigningKey(ctx, current.ID, next, next.ActivatesAt.Add(r.RetireAfter)); err != nil {
		return store.SigningKey{}, fmt.Errorf("rotate %s key %q: %w", alg, current.ID, err)
	}
	return next, nil
}

// newest returns the last stored key of alg in store.Keys order: the one
// that signs last.
func newest(keys []store.SigningKey, alg string) (store.SigningKey, bool) {
	var (
		k     store.SigningKey
		found bool
	)
	for _, c := range keys {
		if c.Algorithm == alg && (!found || c.ActivatesAt.Compare(k.ActivatesAt) >= 0) {
			k, found = c, true
		}
	}
	return k, found
}

// Keeper keeps a Set current: every Every it rotates the keys that are due,
// if automatic rotation is on, then reloads the Set, so that a rotation by
// any instance or by `grantd keys rotate` reaches this one within Every.
type Keeper struct {
	Set   *Set
	Store store.Keys
	Rand  io.Reader
	Now   func() time.Time
	// Algs are the algorithms in use; only their keys rotate automatically.
	Algs  []string
	Every time.Duration
	// RotateEvery is how long a key signs before a successor is scheduled;
	// zero turns automatic rotation off.
	RotateEvery time.Duration
	Rotation    Rotation
	Logger      *slog.Logger
}

// Run ticks until ctx ends.
func (k *Keeper) Run(ctx context.Context) {
	t := time.NewTicker(k.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			k.Tick(ctx)
		}
	}
}

// Tick rotates what is due and reloads the Set once. Failures are logged:
// the Set keeps its keys, and the next tick tries again.
func (k *Keeper) Tick(ctx context.Context) {
	now := k.Now()
	if k.RotateEvery > 0 {
		k.rotateDue(ctx, now)
	}
	changed, err := k.Set.Reload(ctx, k.Store, now)
	if err != nil {
		k.Logger.WarnContext(ctx, "reload signing keys", "error", err)
	}
	if changed {
		k.Logger.InfoContext(ctx, "signing keys changed", "published", k.Set.cur.Load().fingerprint)
	}
}

// rotateDue schedules a successor for each algorithm whose newest key has
// signed for RotateEvery. Instances ticking together race in the store, and
// exactly one rotation wins (store.Keys.RotateSigningKey).
func (k *Keeper) rotateDue(ctx context.Context, now time.Time) {
	stored, err := k.Store.SigningKeys(ctx)
	if err != nil {
		k.Logger.WarnContext(ctx, "check signing key rotation", "error", err)
		return
	}
	for _, alg := range k.Algs {
		cur, ok := newest(stored, alg)
		if !ok || now.Before(cur.ActivatesAt.Add(k.RotateEvery)) {
			continue
		}
		next, err := Rotate(ctx, k.Store, k.Rand, now, alg, k.Rotation)
		switch {
		case errors.Is(err, store.ErrConflict):
			k.Logger.DebugContext(ctx, "signing key rotated by another instance", "alg", alg)
		case err != nil:
			k.Logger.WarnContext(ctx, "rotate signing key", "alg", alg, "error", err)
		default:
			k.Logger.InfoContext(ctx, "signing key rotated", "alg", alg, "retiring", cur.ID, "next", next.ID,
				"signs_from", next.ActivatesAt)
		}
	}
}

// States of a stored key at a given time, as Describe reports them.
const (
	StateNext     = "next"     // published, not yet signing
	StateSigning  = "signing"  // the key that signs for its algorithm
	StatePrevious = "previous" // published, superseded: its tokens may be valid
	StateRetired  = "retired"  // withdrawn; purged soon
)

// Status is a stored key's state at a given time, for operators.
type Status struct {
	ID          string    `json:"kid"`
	Algorithm   string    `json:"alg"`
	State       string    `json:"state"`
	CreatedAt   time.Time `json:"created_at"`
	ActivatesAt time.Time `json:"activates_at"`
	RetiresAt   time.Time `json:"retires_at,omitzero"`
}

// Describe reports the state of each key of stored (in store.Keys order) at
// now, by the rule a Set signs by.
func Describe(stored []store.SigningKey, now time.Time) []Status {
	signers := signing(stored, now)
	out := make([]Status, 0, len(stored))
	for i, k := range stored {
		st := Status{ID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, ActivatesAt: k.ActivatesAt, RetiresAt: k.RetiresAt}
		switch {
		case k.Retired(now):
			st.State = StateRetired
		case signers[k.Algorithm] == i:
			st.State = StateSigning
		case k.ActivatesAt.After(now):
			st.State = StateNext
		default:
			st.State = StatePrevious
		}
		out = append(out, st)
	}
	return out
}
