package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// racers is how many goroutines contend for one record.
const racers = 50

// testConcurrentRedeem is docs/SECURITY.md REL-02 at the store: of 50 concurrent
// redemptions of one approved device code exactly one wins, the others get
// ErrConflict, and only the winner's grant and refresh token are stored (INV-02
// and INV-03).
func testConcurrentRedeem(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := approvedGrant(t, s, 1)
	now := at(2 * time.Minute)
	rts := make([]store.RefreshToken, racers)
	for i := range rts {
		rts[i] = newRefresh(fmt.Sprintf("rt-%d", i), fmt.Sprintf("grant-%d", i), now)
	}
	grants := make([]store.Grant, racers)
	for i := range grants {
		grants[i] = newGrantRecord(rts[i].GrantID, now)
	}
	errs := race(racers, func(i int) error {
		_, err := s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, tvClient, now, Issue[store.DeviceGrant](&grants[i], &rts[i]))
		return err
	})
	wins, losses := tally(t, errs, store.ErrConflict)
	if wins != 1 || losses != racers-1 {
		t.Fatalf("got %d wins and %d conflicts, want 1 and %d", wins, losses, racers-1)
	}
	for i, err := range errs {
		_, rtErr := s.RefreshToken(ctx, rts[i].Hash)
		_, grantErr := s.Grant(ctx, rts[i].GrantID)
		if err == nil {
			wantErr(t, rtErr, nil, "winner's refresh token")
			wantErr(t, grantErr, nil, "winner's grant")
		} else {
			wantErr(t, rtErr, store.ErrNotFound, "loser's refresh token")
			wantErr(t, grantErr, store.ErrNotFound, "loser's grant")
		}
	}
	got, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
	mustOK(t, err, "lookup")
	if got.State != store.DeviceIssued {
		t.Errorf("state after the race = %s, want issued", got.State)
	}
}

// testConcurrentRotate is docs/SECURITY.md REL-03 at the store: of 50 concurrent
// rotations of one generation exactly one mints a successor.
func testConcurrentRotate(t *testing.T, s store.Store) {
	ctx := t.Context()
	ensureParties(t, s, "user-1", tvClient)
	gen1 := newRefresh("gen-1", "grant", at(0))
	mustOK(t, s.CreateRefreshToken(ctx, gen1), "create")
	now := at(time.Hour)
	next := make([]store.RefreshToken, racers)
	for i := range next {
		next[i] = nextGen(gen1, fmt.Sprintf("gen-2-%d", i), now)
	}
	errs := race(racers, func(i int) error {
		return Rotate(ctx, s, gen1.Hash, next[i], now)
	})
	wins, losses := tally(t, errs, store.ErrConflict)
	if wins != 1 || losses != racers-1 {
		t.Fatalf("got %d wins and %d conflicts, want 1 and %d", wins, losses, racers-1)
	}
	stored := 0
	for i := range next {
		_, err := s.RefreshToken(ctx, next[i].Hash)
		switch {
		case err == nil:
			stored++
			if errs[i] != nil {
				t.Errorf("loser %d's successor was stored", i)
			}
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("lookup successor %d: %v", i, err)
		}
	}
	if stored != 1 {
		t.Errorf("%d successors stored, want 1", stored)
	}
	winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
	succ, err := s.RefreshSuccessor(ctx, gen1.Hash)
	mustOK(t, err, "successor")
	wantEqual(t, "successor", succ, next[winner])
}

// testConcurrentPolls is docs/SECURITY.md REL-04 (a) and REL-20's "no lost
// updates": 50 polls of one device code at one instant by its client.
// Exactly one is on time; every other raises the interval by 5 seconds,
// none lost. Another client's polls at the same instant count for nothing
// (DEV-16).
func testConcurrentPolls(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := newGrant(2, at(0))
	mustOK(t, s.CreateDeviceGrant(ctx, g), "create")
	now := at(time.Minute)
	const others = 10
	results := make([]store.PollResult, racers+others)
	errs := race(racers+others, func(i int) error {
		client := tvClient
		if i >= racers {
			client = "other"
		}
		var err error
		results[i], err = s.PollDeviceGrant(ctx, g.DeviceCodeHash, client, now)
		return err
	})
	if wins, _ := tally(t, errs, nil); wins != racers+others {
		t.Fatalf("%d of %d polls failed", racers+others-wins, racers+others)
	}
	onTime := 0
	for i, p := range results {
		if p.ClientID != tvClient || p.State != store.DevicePending {
			t.Errorf("poll %d: %+v, want the pending grant of %s", i, p, tvClient)
		}
		if i < racers && !p.SlowDown {
			onTime++
		}
		if i >= racers && p.SlowDown {
			t.Errorf("another client's poll %d was slowed down", i)
		}
	}
	if onTime != 1 {
		t.Errorf("%d polls were on time, want exactly 1", onTime)
	}
	// Each slow poll raised the interval once: a lost update would show here.
	got, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
	mustOK(t, err, "lookup")
	if want := pollInterval + (racers-1)*5*time.Second; got.Interval != want || !got.LastPolledAt.Equal(now) {
		t.Errorf("interval %v, last poll %v; want %v, %v", got.Interval, got.LastPolledAt, want, now)
	}
	t.Run("PollsAndDecision", func(t *testing.T) { testConcurrentPollsAndDecision(t, s) })
}

// testConcurrentPollsAndDecision: polls that race a decision find the
// grant pending or decided, and every poll after the decision has returned
// finds it decided.
func testConcurrentPollsAndDecision(t *testing.T, s store.Store) {
	ctx := t.Context()
	const trials = 10
	now := at(time.Minute)
	for trial := range trials {
		g := newGrant(100+trial, at(0))
		mustOK(t, s.CreateDeviceGrant(ctx, g), "create")
		_, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, tvClient, now)
		mustOK(t, err, "poll before")
		errs := race(racers, func(i int) error {
			if i == 0 {
				_, err := s.DecideDeviceGrant(ctx, g.UserCode, store.Decision{Approve: true, UserID: "user-1", AuthTime: now}, now)
				return err
			}
			p, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, tvClient, now.Add(time.Millisecond))
			if err == nil && p.State != store.DevicePending && p.State != store.DeviceApproved {
				err = fmt.Errorf("state %s during the decision", p.State)
			}
			return err
		})
		if wins, _ := tally(t, errs, nil); wins != racers {
			t.Fatalf("trial %d: %d of %d calls failed", trial, racers-wins, racers)
		}
		p, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, tvClient, now.Add(2*time.Millisecond))
		mustOK(t, err, "poll after")
		if p.State != store.DeviceApproved {
			t.Errorf("trial %d: poll after the decision found the grant %s, want approved", trial, p.State)
		}
	}
}

// testConcurrentDecisions is docs/SECURITY.md REL-04 (b): approvals and denials
// of one user code posted together. Exactly one wins, and the stored state is
// the winner's.
func testConcurrentDecisions(t *testing.T, s store.Store) {
	ctx := t.Context()
	const trials = 10
	for trial := range trials {
		g := newGrant(trial, at(0))
		mustOK(t, s.CreateDeviceGrant(ctx, g), "create")
		now := at(time.Minute)
		decisions := make([]store.Decision, racers)
		results := make([]store.DeviceGrant, racers)
		for i := range decisions {
			decisions[i] = store.Decision{Approve: i%2 == 0, UserID: fmt.Sprintf("user-%d", i), AuthTime: now}
		}
		errs := race(racers, func(i int) error {
			var err error
			results[i], err = s.DecideDeviceGrant(ctx, g.UserCode, decisions[i], now)
			return err
		})
		wins, losses := tally(t, errs, store.ErrConflict)
		if wins != 1 || losses != racers-1 {
			t.Fatalf("trial %d: got %d wins and %d conflicts, want 1 and %d", trial, wins, losses, racers-1)
		}
		winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		wantState := store.DeviceDenied
		if decisions[winner].Approve {
			wantState = store.DeviceApproved
		}
		stored, err := s.DeviceGrantByUserCode(ctx, g.UserCode)
		mustOK(t, err, "lookup")
		if stored.State != wantState || stored.UserID != decisions[winner].UserID {
			t.Errorf("trial %d: stored %s by %q, winner decided %s by %q",
				trial, stored.State, stored.UserID, wantState, decisions[winner].UserID)
		}
		wantEqual(t, "winner's grant", results[winner], stored)
	}
}

// testConcurrentEnsureKey is REL-20's atomic claim for signing keys:
// instances starting together, each with its own new key, agree on one.
func testConcurrentEnsureKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 20
	got := make([]store.SigningKey, n)
	errs := race(n, func(i int) error {
		var err error
		got[i], err = s.EnsureSigningKey(ctx, store.SigningKey{
			ID: fmt.Sprintf("key-%d", i), Algorithm: "ES256", PrivateKey: []byte{byte(i)}, CreatedAt: at(0),
		})
		return err
	})
	if wins, _ := tally(t, errs, nil); wins != n {
		t.Fatalf("%d of %d calls failed", n-wins, n)
	}
	for i := range got {
		wantEqual(t, fmt.Sprintf("key returned to caller %d", i), got[i], got[0])
	}
	keys, err := s.SigningKeys(ctx)
	mustOK(t, err, "keys")
	if len(keys) != 1 || keys[0].ID != got[0].ID {
		t.Errorf("stored keys %+v, want only %s", keys, got[0].ID)
	}
}
