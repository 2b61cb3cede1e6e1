package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// testConcurrentCodeRedeem is docs/SECURITY.md REL-02 at the store: of 50
// concurrent redemptions of one authorization code exactly one wins. Every
// other gets ErrConflict with the code as the winner left it, naming the
// winner's grant so that the caller can revoke it (RFC 6749 §4.1.2), and
// only the winner's grant and refresh token are stored.
func testConcurrentCodeRedeem(t *testing.T, s store.Store) {
	ctx := t.Context()
	ensureParties(t, s, "user-1", "platform")
	c := newCode(1, at(0))
	mustOK(t, s.CreateAuthorizationCode(ctx, c), "create")
	now := at(10 * time.Second)
	grants := make([]store.Grant, racers)
	rts := make([]store.RefreshToken, racers)
	for i := range grants {
		grants[i] = platformGrant(fmt.Sprintf("grant-%d", i), now)
		rts[i] = platformRefresh(fmt.Sprintf("rt-%d", i), grants[i])
	}
	got := make([]store.AuthorizationCode, racers)
	errs := race(racers, func(i int) error {
		var err error
		got[i], err = s.RedeemAuthorizationCode(ctx, c.Hash, c.ClientID, now, Issue[store.AuthorizationCode](&grants[i], &rts[i]))
		return err
	})
	wins, losses := tally(t, errs, store.ErrConflict)
	if wins != 1 || losses != racers-1 {
		t.Fatalf("got %d wins and %d conflicts, want 1 and %d", wins, losses, racers-1)
	}
	winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
	want := c
	want.RedeemedAt, want.GrantID = now, grants[winner].ID
	for i := range got {
		wantEqual(t, fmt.Sprintf("code returned to caller %d", i), got[i], want)
		wantStored(t, s, fmt.Sprintf("caller %d", i), grants[i], rts[i], i == winner, i == winner)
	}
}

// testConcurrentAttempts is docs/SECURITY.md REL-05 at the store: 200 attempts
// at one instant against a budget of 25 pass exactly 25 times, and every
// refused one is told to wait one emission interval.
func testConcurrentAttempts(t *testing.T, s store.Store) {
	ctx := t.Context()
	const (
		attempts = 200
		budget   = 25
		window   = time.Minute
	)
	now := at(0)
	retries := make([]time.Duration, attempts)
	ok := make([]bool, attempts)
	errs := race(attempts, func(i int) error {
		var err error
		ok[i], retries[i], err = s.TakeAttempt(ctx, "verify:global", budget, window, now)
		return err
	})
	if wins, _ := tally(t, errs, nil); wins != attempts {
		t.Fatalf("%d of %d attempts failed", attempts-wins, attempts)
	}
	passed := 0
	for i := range ok {
		switch {
		case ok[i]:
			passed++
		case retries[i] != window/budget:
			t.Errorf("refused attempt %d: retry after %v, want %v", i, retries[i], window/budget)
		}
	}
	if passed != budget {
		t.Errorf("%d of %d attempts passed, want exactly %d", passed, attempts, budget)
	}
}

// testConcurrentRevokeRotate: a grant revoked while its refresh token is
// being rotated never keeps a live generation, whichever commits first.
func testConcurrentRevokeRotate(t *testing.T, s store.Store) {
	raceRevokeRotate(t, s, func(user string, gr store.Grant, now time.Time) error {
		return s.RevokeGrant(t.Context(), gr.ID, now)
	})
}

// testConcurrentRevokeUserRotate: the same when every grant of the user is
// revoked (`grantd grant revoke --user`, `grantd user disable`).
func testConcurrentRevokeUserRotate(t *testing.T, s store.Store) {
	raceRevokeRotate(t, s, func(user string, _ store.Grant, now time.Time) error {
		_, err := s.RevokeUserGrants(t.Context(), user, now)
		return err
	})
}

// testConcurrentDeleteUserRotate: the same when the user is deleted.
func testConcurrentDeleteUserRotate(t *testing.T, s store.Store) {
	raceRevokeRotate(t, s, func(user string, _ store.Grant, now time.Time) error {
		return s.DeleteUser(t.Context(), user, now)
	})
}

// raceRevokeRotate races revoke, which must end the grant gr of user, with
// a chain of rotations of its refresh token, and checks that no generation
// is left live. Odd trials race on a family older than grants, which has
// no grants row to lock (see RevokeGrant).
func raceRevokeRotate(t *testing.T, s store.Store, revoke func(user string, gr store.Grant, now time.Time) error) {
	ctx := t.Context()
	const trials, chain = 20, 20
	now := at(time.Hour)
	for trial := range 2 * trials {
		legacy := trial%2 == 1
		user := fmt.Sprintf("user-t%d", trial)
		ensureParties(t, s, user, tvClient)
		gr := newGrantRecord(fmt.Sprintf("grant-%d", trial), at(0))
		gr.UserID = user
		gen1 := newRefresh(fmt.Sprintf("t%d-gen-1", trial), gr.ID, at(0))
		gen1.UserID = user
		if legacy {
			mustOK(t, s.CreateRefreshToken(ctx, gen1), "create a family without a grant")
		} else {
			storeGrant(t, s, gr, &gen1)
		}
		var (
			mu     sync.Mutex
			hashes = []string{gen1.Hash}
		)
		errs := race(2, func(i int) error {
			if i == 0 {
				return revoke(user, gr, now)
			}
			prev := gen1
			for k := 2; k <= chain; k++ {
				next := nextGen(prev, fmt.Sprintf("t%d-gen-%d", trial, k), now)
				next.UserID = user
				err := Rotate(ctx, s, prev.Hash, next, now)
				if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrUserInactive) {
					return nil // the revocation, or the deletion, came first
				} else if err != nil {
					return err
				}
				mu.Lock()
				hashes = append(hashes, next.Hash)
				mu.Unlock()
				prev = next
			}
			return nil
		})
		tally(t, errs, nil)
		for _, h := range hashes {
			rt, err := s.RefreshToken(ctx, h)
			mustOK(t, err, "lookup "+h)
			if rt.Active(now) {
				t.Fatalf("trial %d (without a grants row: %t): generation %s of the revoked grant is live: %+v",
					trial, legacy, h, rt)
			}
		}
	}
}

// testConcurrentEnsureSecret: instances starting together, each with its
// own new value, agree on one secret.
func testConcurrentEnsureSecret(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 20
	got := make([][]byte, n)
	errs := race(n, func(i int) error {
		var err error
		got[i], err = s.EnsureSecret(ctx, "refresh-successor", []byte(fmt.Sprintf("value-%d", i)))
		return err
	})
	if wins, _ := tally(t, errs, nil); wins != n {
		t.Fatalf("%d of %d calls failed", n-wins, n)
	}
	for i := range got {
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("caller %d got %q, caller 0 %q", i, got[i], got[0])
		}
	}
	again, err := s.EnsureSecret(ctx, "refresh-successor", []byte("late"))
	mustOK(t, err, "ensure after the race")
	if !bytes.Equal(again, got[0]) {
		t.Errorf("after the race: %q, want %q", again, got[0])
	}
}
