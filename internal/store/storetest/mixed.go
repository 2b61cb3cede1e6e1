package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// testConcurrentPollsOfManyCodes is REL-04 (a) across codes: 10 polls of
// each of 20 codes, all at one instant and all at once. Each code has
// exactly one poll on time and its interval raised by 5 seconds per slow
// poll; polls of one code never count against another.
func testConcurrentPollsOfManyCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	const codes, polls = 20, 10
	for c := range codes {
		mustOK(t, s.CreateDeviceGrant(ctx, newGrant(c, at(0))), "create")
	}
	now := at(time.Minute)
	var (
		mu     sync.Mutex
		onTime = make([]int, codes)
	)
	errs := race(codes*polls, func(i int) error {
		c := i % codes
		p, err := s.PollDeviceGrant(ctx, newGrant(c, at(0)).DeviceCodeHash, tvClient, now)
		if err == nil && !p.SlowDown {
			mu.Lock()
			onTime[c]++
			mu.Unlock()
		}
		return err
	})
	if wins, _ := tally(t, errs, nil); wins != codes*polls {
		t.Fatalf("%d of %d polls failed", codes*polls-wins, codes*polls)
	}
	for c := range codes {
		g, err := s.DeviceGrantByDeviceCode(ctx, newGrant(c, at(0)).DeviceCodeHash)
		mustOK(t, err, "lookup")
		if want := pollInterval + (polls-1)*5*time.Second; onTime[c] != 1 || g.Interval != want {
			t.Errorf("code %d: %d polls on time, interval %v; want 1 and %v", c, onTime[c], g.Interval, want)
		}
	}
}

// testConcurrentMixedWrites is REL-20 with mixed outcomes: new grants,
// duplicates of a stored one, redemptions of a pending grant, decisions of
// one grant and rotations of one refresh token, all at once. Each caller
// gets its own answer — a loser's error does not spread to a winner, nor a
// winner's success to a loser — and the stored state is the winners'.
func testConcurrentMixedWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	ensureParties(t, s, "user-1", tvClient)
	const each = 10
	pending, undecided := newGrant(0, at(0)), newGrant(1, at(0))
	mustOK(t, s.CreateDeviceGrant(ctx, pending), "create pending grant")
	mustOK(t, s.CreateDeviceGrant(ctx, undecided), "create grant to decide")
	gen1 := newRefresh("gen-1", "grant", at(0))
	mustOK(t, s.CreateRefreshToken(ctx, gen1), "create refresh token")
	now := at(time.Minute)

	const (
		kindCreate = iota
		kindDuplicate
		kindRedeem
		kindDecide
		kindRotate
		kinds
	)
	errs := race(kinds*each, func(i int) error {
		n := i / kinds
		switch i % kinds {
		case kindCreate:
			return s.CreateDeviceGrant(ctx, newGrant(100+n, at(0)))
		case kindDuplicate:
			g := newGrant(200+n, at(0))
			g.UserCode = pending.UserCode
			return s.CreateDeviceGrant(ctx, g)
		case kindRedeem:
			gr := newGrantRecord(fmt.Sprintf("redeemed-%d", n), now)
			_, err := s.RedeemDeviceGrant(ctx, pending.DeviceCodeHash, tvClient, now, Issue[store.DeviceGrant](&gr, nil))
			return err
		case kindDecide:
			_, err := s.DecideDeviceGrant(ctx, undecided.UserCode,
				store.Decision{Approve: true, UserID: fmt.Sprintf("user-%d", n), AuthTime: now}, now)
			return err
		default:
			return Rotate(ctx, s, gen1.Hash, nextGen(gen1, fmt.Sprintf("gen-2-%d", n), now), now)
		}
	})
	wins := make([]int, kinds)
	for i, err := range errs {
		want := map[int]error{kindDuplicate: store.ErrAlreadyExists, kindRedeem: store.ErrConflict,
			kindDecide: store.ErrConflict, kindRotate: store.ErrConflict}[i%kinds]
		switch {
		case err == nil:
			wins[i%kinds]++
		case want == nil || !errors.Is(err, want):
			t.Errorf("caller %d (kind %d): unexpected error %v", i, i%kinds, err)
		}
	}
	for kind, want := range []int{each, 0, 0, 1, 1} {
		if wins[kind] != want {
			t.Errorf("kind %d: %d of %d callers succeeded, want %d", kind, wins[kind], each, want)
		}
	}
	for n := range each {
		_, err := s.DeviceGrantByDeviceCode(ctx, newGrant(100+n, at(0)).DeviceCodeHash)
		wantErr(t, err, nil, "new grant")
		_, err = s.DeviceGrantByDeviceCode(ctx, newGrant(200+n, at(0)).DeviceCodeHash)
		wantErr(t, err, store.ErrNotFound, "duplicate grant")
		_, err = s.Grant(ctx, fmt.Sprintf("redeemed-%d", n))
		wantErr(t, err, store.ErrNotFound, "grant of a refused redemption")
	}
	got, err := s.DeviceGrantByDeviceCode(ctx, pending.DeviceCodeHash)
	mustOK(t, err, "lookup pending grant")
	if got.State != store.DevicePending {
		t.Errorf("pending grant after refused redemptions: %s, want pending", got.State)
	}
	got, err = s.DeviceGrantByUserCode(ctx, undecided.UserCode)
	mustOK(t, err, "lookup decided grant")
	if got.State != store.DeviceApproved {
		t.Errorf("decided grant: %s, want approved", got.State)
	}
	_, err = s.RefreshSuccessor(ctx, gen1.Hash)
	wantErr(t, err, nil, "successor of the rotated token")
}
