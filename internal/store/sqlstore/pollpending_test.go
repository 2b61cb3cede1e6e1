package sqlstore

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// pendingGrant is hexGrant n, pending, expiring an hour after t0.
func pendingGrant(n int) store.DeviceGrant {
	g := hexGrant(n)
	g.State, g.ExpiresAt = store.DevicePending, t0.Add(time.Hour)
	return g
}

// checkedBook returns a book whose check for other writers has just
// succeeded at t0.
func checkedBook(t *testing.T) *pollBook {
	b := newPollBook()
	if _, known, check := b.pollPending("any", "tv", t0); known || !check {
		t.Fatalf("new book: known %t, check %t; want a check first", known, check)
	}
	b.checked(t0, 1, nil)
	return b
}

// TestPollBookKnowsPending: a grant read pending is answered from the book
// until this process decides it, and a read that raced a decision does not
// make the book know it pending.
func TestPollBookKnowsPending(t *testing.T) {
	b := checkedBook(t)
	g := pendingGrant(1)
	b.recordRead(&g, t0, b.generation())
	p, known, _ := b.pollPending(g.DeviceCodeHash, "tv", t0.Add(100*time.Millisecond))
	if !known || p.State != store.DevicePending || !p.SlowDown || p.ClientID != "tv" || !p.ExpiresAt.Equal(g.ExpiresAt) {
		t.Fatalf("poll 100ms after the first: %+v, known %t; want pending, slowed down", p, known)
	}
	if p, known, _ := b.pollPending(g.DeviceCodeHash, "other", t0.Add(200*time.Millisecond)); !known || p.ClientID != "tv" || p.SlowDown {
		t.Errorf("another client's poll: %+v, known %t; want the owner, not slowed down", p, known)
	}

	b.decided(g.DeviceCodeHash)
	if _, known, _ := b.pollPending(g.DeviceCodeHash, "tv", t0.Add(300*time.Millisecond)); known {
		t.Error("a decided grant is still known pending")
	}

	// A read that began before a decision and ends after it.
	g2 := pendingGrant(2)
	seen := b.generation()
	b.decided(g2.DeviceCodeHash)
	b.recordRead(&g2, t0, seen)
	if _, known, _ := b.pollPending(g2.DeviceCodeHash, "tv", t0.Add(100*time.Millisecond)); known {
		t.Error("a grant read before a decision and entered after it is known pending")
	}
	g3 := pendingGrant(3)
	b.created(g3, seen)
	if _, known, _ := b.pollPending(g3.DeviceCodeHash, "tv", t0); known {
		t.Error("a grant created before a decision and entered after it is known pending")
	}
}

// TestPollBookExpired: at expiry the book leaves the answer to the row.
func TestPollBookExpired(t *testing.T) {
	b := checkedBook(t)
	g := pendingGrant(1)
	b.created(g, b.generation())
	near := g.ExpiresAt.Add(-time.Millisecond)
	b.pollPending(g.DeviceCodeHash, "tv", near) // the check is due
	b.checked(near, 1, nil)
	if _, known, _ := b.pollPending(g.DeviceCodeHash, "tv", g.ExpiresAt.Add(-time.Nanosecond)); !known {
		t.Error("not known pending just before expiry")
	}
	if _, known, _ := b.pollPending(g.DeviceCodeHash, "tv", g.ExpiresAt); known {
		t.Error("known pending at expiry")
	}
}

// TestPollBookChecks: polls answered from the book need a successful check
// for other writers within otherWritersCheck, run by one caller at a time;
// a changed data version makes the book forget every grant's state.
func TestPollBookChecks(t *testing.T) {
	b := checkedBook(t)
	g := pendingGrant(1)
	b.created(g, b.generation())
	due := t0.Add(otherWritersCheck)
	if _, known, _ := b.pollPending(g.DeviceCodeHash, "tv", due.Add(-time.Nanosecond)); !known {
		t.Fatal("not known pending within otherWritersCheck of the check")
	}
	if _, known, check := b.pollPending(g.DeviceCodeHash, "tv", due); known || !check {
		t.Fatalf("at the next check: known %t, check %t; want a check", known, check)
	}
	if _, known, check := b.pollPending(g.DeviceCodeHash, "tv", due); known || check {
		t.Fatalf("while another caller checks: known %t, check %t; want neither", known, check)
	}
	b.checked(due, 0, errors.New("disk on fire"))
	if _, known, check := b.pollPending(g.DeviceCodeHash, "tv", due.Add(time.Millisecond)); known || check {
		t.Fatalf("after a failed check: known %t, check %t; want neither until the next is due", known, check)
	}
	next := due.Add(otherWritersCheck)
	b.pollPending(g.DeviceCodeHash, "tv", next)
	b.checked(next, 1, nil) // the version of the first check: nobody else wrote
	if _, known, _ := b.pollPending(g.DeviceCodeHash, "tv", next); !known {
		t.Fatal("not known pending after a check that found no other writer")
	}
	last := next.Add(otherWritersCheck)
	b.pollPending(g.DeviceCodeHash, "tv", last)
	b.checked(last, 2, nil)
	if _, known, _ := b.pollPending(g.DeviceCodeHash, "tv", last); known {
		t.Error("still known pending after another process wrote")
	}
}

// TestPollsSeeOtherProcess: a decision made by another process on the same
// file (two Stores, as in a rolling restart) reaches this one's polls once
// its next check for other writers has run, within otherWritersCheck.
func TestPollsSeeOtherProcess(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "grantd.db")
	here, there := openTemp(t, path), openTemp(t, path)
	decided, other := hexGrant(1), hexGrant(2)
	poll := func(g store.DeviceGrant, at time.Time, want store.DeviceState) {
		t.Helper()
		p, err := here.PollDeviceGrant(ctx, g.DeviceCodeHash, "tv", at)
		if err != nil {
			t.Fatal(err)
		}
		if p.State != want {
			t.Errorf("poll of %s at %v: %s, want %s", g.UserCode, at, p.State, want)
		}
	}
	for _, g := range []store.DeviceGrant{decided, other} {
		if err := here.CreateDeviceGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		poll(g, t0, store.DevicePending)
	}
	if _, err := there.DecideDeviceGrant(ctx, decided.UserCode, store.Decision{Approve: true, UserID: "u1"}, t0); err != nil {
		t.Fatal(err)
	}
	next := t0.Add(otherWritersCheck)
	poll(other, next, store.DevicePending) // runs the check
	poll(decided, next.Add(time.Millisecond), store.DeviceApproved)
}
