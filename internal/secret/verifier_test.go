package secret

import (
	"context"
	"crypto/rand"
	"errors"
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

// TestVerifierBounded: no more slow checks run at once than the slots; one
// that finds none free within the wait gets ErrBusy, and so does Pretend.
func TestVerifierBounded(t *testing.T) {
	v := NewVerifier(1, 50*time.Millisecond)
	hash := mustHash(t, "pw")
	v.slots <- struct{}{} // a check under way
	if err := v.Check(t.Context(), hash, "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("Check with no slot free: %v, want ErrBusy", err)
	}
	if err := v.Pretend(t.Context()); !errors.Is(err, ErrBusy) {
		t.Errorf("Pretend with no slot free: %v, want ErrBusy", err)
	}
	<-v.slots
	if err := v.Check(t.Context(), hash, "pw"); err != nil {
		t.Errorf("Check with a slot free: %v", err)
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
