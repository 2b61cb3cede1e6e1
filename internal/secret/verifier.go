package secret

import (
	"context"
	"crypto/sha256"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// ErrBusy reports that no password check could start within the
// Verifier's wait: the server is checking as many as it may at once. Answer
// it with 503 and Retry-After, never as a wrong password.
var ErrBusy = errors.New("secret: too many password checks under way")

// DefaultWait is how long a check waits for a slot by default.
const DefaultWait = 2 * time.Second

// Verifier runs CheckPassword with bounded cost. An argon2id check takes
// some 19 MiB and tens of milliseconds of a core; without a bound, 256
// concurrent wrong client secrets took a server to 5 GB. So at most Slots
// slow checks run at once (others wait up to Wait, then get ErrBusy);
// concurrent checks of the same hash and password run once and share the
// answer (a fleet of devices with one client secret, after a restart); and
// a check that must cost the time of a real one without one to make (an
// unknown user name, UI-06) waits that long in a slot instead of hashing.
// Cheap hashes (SHA-256 of generated secrets) are checked at once. The
// zero Verifier is not usable; make one with NewVerifier.
type Verifier struct {
	slots chan struct{}
	wait  time.Duration
	// sleep waits for d or until ctx ends; a field for tests.
	sleep func(ctx context.Context, d time.Duration) error

	flight singleflight.Group
	checks atomic.Int64 // slow checks made

	mu   sync.Mutex
	cost time.Duration // moving average of a slow check's duration; 0 until one ran
}

// NewVerifier returns a Verifier of slots slow checks at once (0:
// GOMAXPROCS) that waits at most wait for a slot (0: DefaultWait).
func NewVerifier(slots int, wait time.Duration) *Verifier {
	if slots <= 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	if wait <= 0 {
		wait = DefaultWait
	}
	return &Verifier{slots: make(chan struct{}, slots), wait: wait, sleep: sleepCtx}
}

// Check reports whether pw matches hash, as CheckPassword does: nil, or
// ErrMismatch, or another error for a malformed hash; or ErrBusy, or ctx's
// error, when the check could not start.
func (v *Verifier) Check(ctx context.Context, hash, pw string) error {
	if strings.HasPrefix(hash, sha256Prefix) {
		return CheckPassword(hash, pw)
	}
	sum := sha256.Sum256([]byte(pw))
	key := hash + "\x00" + string(sum[:])
	ch := v.flight.DoChan(key, func() (any, error) {
		// The shared check runs under no caller's context: one caller
		// giving up must not fail the others.
		if err := v.acquire(context.WithoutCancel(ctx)); err != nil {
			return nil, err
		}
		defer v.release()
		start := time.Now()
		err := CheckPassword(hash, pw)
		v.record(time.Since(start))
		v.checks.Add(1)
		return nil, err
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Checks returns how many slow checks the Verifier has made.
func (v *Verifier) Checks() int64 { return v.checks.Load() }

// Pretend takes as long as a slow check, in a slot like one, without
// making one: for a user name that does not exist, so that it costs the
// time of one that does (UI-06) but neither the memory nor the core. Until
// a real check has run, it runs one on dummyHash to learn the cost.
func (v *Verifier) Pretend(ctx context.Context) error {
	if err := v.acquire(ctx); err != nil {
		return err
	}
	defer v.release()
	d := v.average()
	if d == 0 {
		start := time.Now()
		_ = CheckPassword(dummyHash, "")
		v.record(time.Since(start))
		return nil
	}
	return v.sleep(ctx, d)
}

// acquire takes a slot, waiting at most v.wait: ErrBusy when none frees,
// ctx's error when ctx ends first.
func (v *Verifier) acquire(ctx context.Context) error {
	select {
	case v.slots <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(v.wait)
	defer timer.Stop()
	select {
	case v.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (v *Verifier) release() { <-v.slots }

// record adds one slow check's duration to the moving average.
func (v *Verifier) record(d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cost == 0 {
		v.cost = d
		return
	}
	v.cost += (d - v.cost) / 8
}

func (v *Verifier) average() time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.cost
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dummyHash has the parameters of HashPassword; no password matches it in
// practice. Pretend checks against it once, to learn what a check costs.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$Z3JhbnRkLWR1bW15LXNhbA$IEvD7CauDrOq+Kk3YdR/6gzFke68w2+fr7J/NyhEFzc"
