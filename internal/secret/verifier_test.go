package secret

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func mustHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := HashPassword(rand.Reader, pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestVerifierCheck: Check answers as CheckPassword does, for every stored
// form of a secret.
func TestVerifierCheck(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("imported pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := HashClientSecret(rand.Reader, "generated-256-bit-secret", true)
	if err != nil {
		t.Fatal(err)
	}
	argon := mustHash(t, "right horse")
	tests := []struct {
		name, hash, pw string
		want           error
	}{
		{"argon2id, right", argon, "right horse", nil},
		{"argon2id, wrong", argon, "wrong horse", ErrMismatch},
		{"bcrypt, right", string(bc), "imported pw", nil},
		{"bcrypt, wrong", string(bc), "imported px", ErrMismatch},
		{"sha256, right", gen, "generated-256-bit-secret", nil},
		{"sha256, wrong", gen, "generated-256-bit-secreT", ErrMismatch},
	}
	v := NewVerifier(2, time.Second)
	for _, tt := range tests {
		if err := v.Check(t.Context(), tt.hash, tt.pw); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := v.Check(t.Context(), "$argon2id$garbage", "x"); err == nil || errors.Is(err, ErrMismatch) {
		t.Errorf("malformed hash: %v, want an error other than ErrMismatch", err)
	}
}

// TestVerifierBounded is issue 16's bound: a slow check starts only in a
// free slot. One that finds none waits up to the Verifier's wait — and
// starts if a slot frees in time — and then gets ErrBusy, as does Pretend;
// a caller that gives up first gets its context's error.
func TestVerifierBounded(t *testing.T) {
	hash := mustHash(t, "pw")
	tests := []struct {
		name    string
		freeIn  time.Duration // when the held slot frees; 0: never
		cancel  time.Duration // when the caller gives up; 0: never
		pretend bool
		want    error
		took    time.Duration
	}{
		{"no slot within the wait", 0, 0, false, ErrBusy, 2 * time.Second},
		{"a slot frees in time", 1500 * time.Millisecond, 0, false, nil, 1500 * time.Millisecond},
		{"a slot frees too late", 2*time.Second + time.Millisecond, 0, false, ErrBusy, 2 * time.Second},
		{"the caller gives up", 0, 500 * time.Millisecond, false, context.Canceled, 500 * time.Millisecond},
		{"Pretend with no slot", 0, 0, true, ErrBusy, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				v := NewVerifier(1, 2*time.Second)
				v.sleep = func(context.Context, time.Duration) error { return nil }
				v.record(time.Millisecond) // Pretend knows the cost: no check to learn it
				v.slots <- struct{}{}      // a check under way
				if tt.freeIn > 0 {
					time.AfterFunc(tt.freeIn, func() { <-v.slots })
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if tt.cancel > 0 {
					time.AfterFunc(tt.cancel, cancel)
				}
				start := time.Now()
				var err error
				if tt.pretend {
					err = v.Pretend(ctx)
				} else {
					err = v.Check(ctx, hash, "pw")
				}
				if !errors.Is(err, tt.want) || time.Since(start) != tt.took {
					t.Errorf("%v after %v, want %v after %v", err, time.Since(start), tt.want, tt.took)
				}
				time.Sleep(time.Minute) // on the bubble's clock: the check its caller gave up on ends too
			})
		})
	}
}

// TestVerifierCheapHashesTakeNoSlot: a generated secret's SHA-256 is
// checked at once, even when every slot is taken.
func TestVerifierCheapHashesTakeNoSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := NewVerifier(1, time.Second)
		v.slots <- struct{}{}
		gen, _ := HashClientSecret(rand.Reader, "generated", true)
		start := time.Now()
		if err := v.Check(t.Context(), gen, "generated"); err != nil || time.Since(start) != 0 {
			t.Errorf("SHA-256 check with every slot taken: %v after %v, want nil at once", err, time.Since(start))
		}
		if v.Checks() != 0 {
			t.Errorf("%d slow checks, want none", v.Checks())
		}
	})
}

// TestVerifierSlotsRun: more concurrent checks of different secrets than
// there are slots all run, one slot each, and each gets its own answer.
func TestVerifierSlotsRun(t *testing.T) {
	v := NewVerifier(2, time.Minute)
	hashes := make([]string, 3)
	for i := range hashes {
		hashes[i] = mustHash(t, fmt.Sprint("secret ", i))
	}
	errs := make([]error, 2*len(hashes))
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			pw := fmt.Sprint("secret ", i/2)
			if i%2 == 1 {
				pw += "!"
			}
			errs[i] = v.Check(context.Background(), hashes[i/2], pw)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if want := []error{nil, ErrMismatch}[i%2]; !errors.Is(err, want) {
			t.Errorf("check %d: %v, want %v", i, err, want)
		}
	}
	if v.Checks() != int64(len(errs)) || len(v.slots) != 0 {
		t.Errorf("%d checks, %d slots held after; want %d and none", v.Checks(), len(v.slots), len(errs))
	}
}

// TestNewVerifierDefaults: zero values mean GOMAXPROCS slots and
// DefaultWait.
func TestNewVerifierDefaults(t *testing.T) {
	v := NewVerifier(0, 0)
	if cap(v.slots) != runtime.GOMAXPROCS(0) || v.wait != DefaultWait {
		t.Errorf("NewVerifier(0, 0): %d slots, wait %v; want %d and %v", cap(v.slots), v.wait, runtime.GOMAXPROCS(0), DefaultWait)
	}
	if v := NewVerifier(3, time.Second); cap(v.slots) != 3 || v.wait != time.Second {
		t.Errorf("NewVerifier(3, 1s): %d slots, wait %v", cap(v.slots), v.wait)
	}
}

// TestVerifierCollapses: concurrent checks of one hash and password make
// one slow check and share its answer; other passwords get checks of
// their own.
func TestVerifierCollapses(t *testing.T) {
	hash := mustHash(t, "fleet secret")
	synctest.Test(t, func(t *testing.T) {
		v := NewVerifier(1, 10*time.Second)
		v.slots <- struct{}{} // hold the slot so that every caller queues
		var wg sync.WaitGroup
		errs := make([]error, 32)
		for i := range errs {
			wg.Go(func() { errs[i] = v.Check(context.Background(), hash, "fleet secret") })
		}
		wrong := make(chan error, 1)
		go func() { wrong <- v.Check(context.Background(), hash, "not it") }()
		synctest.Wait() // every caller is waiting
		<-v.slots
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
		}
		if err := <-wrong; !errors.Is(err, ErrMismatch) {
			t.Errorf("another password: %v, want ErrMismatch", err)
		}
		if n := v.Checks(); n != 2 {
			t.Errorf("%d slow checks for 32 callers of one secret and one of another, want 2", n)
		}
	})
}

// TestVerifierPretend is UI-06's cost side: Pretend waits, in a slot, as
// long as a real check takes on average, and makes none once it knows.
func TestVerifierPretend(t *testing.T) {
	v := NewVerifier(1, time.Second)
	var slept []time.Duration
	v.sleep = func(_ context.Context, d time.Duration) error {
		if len(v.slots) != 1 {
			t.Error("Pretend slept outside a slot")
		}
		slept = append(slept, d)
		return nil
	}
	if err := v.Pretend(t.Context()); err != nil { // learns the cost with one real check
		t.Fatal(err)
	}
	learnt := v.average()
	if learnt <= 0 || len(slept) != 0 {
		t.Fatalf("first Pretend: cost %v, slept %v; want a real check measured", learnt, slept)
	}
	for range 3 {
		if err := v.Pretend(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if len(slept) != 3 || slept[2] != learnt || v.Checks() != 0 {
		t.Errorf("slept %v with %d checks; want three sleeps of %v and no check", slept, v.Checks(), learnt)
	}
}

// TestVerifierCollapseSurvivesCancel: concurrent checks of one secret
// share one check, and a caller that gives up neither fails the others nor
// stops the check they wait for (issue 16: a fleet behind one NAT after a
// restart); another hash of the same password is checked apart.
func TestVerifierCollapseSurvivesCancel(t *testing.T) {
	hash, other := mustHash(t, "fleet secret"), mustHash(t, "fleet secret")
	synctest.Test(t, func(t *testing.T) {
		v := NewVerifier(2, 10*time.Second)
		v.slots <- struct{}{}
		v.slots <- struct{}{} // every caller queues
		impatient, cancel := context.WithCancel(context.Background())
		results := make(chan error, 3)
		go func() { results <- v.Check(impatient, hash, "fleet secret") }()
		go func() { results <- v.Check(context.Background(), hash, "fleet secret") }()
		go func() { results <- v.Check(context.Background(), other, "fleet secret") }()
		synctest.Wait()
		cancel()
		if err := <-results; !errors.Is(err, context.Canceled) {
			t.Fatalf("the caller that gave up: %v, want context.Canceled", err)
		}
		<-v.slots
		<-v.slots
		for range 2 {
			if err := <-results; err != nil {
				t.Errorf("a caller that waited: %v, want the match", err)
			}
		}
		if n := v.Checks(); n != 2 {
			t.Errorf("%d slow checks for one secret under two hashes, want 2", n)
		}
	})
}
