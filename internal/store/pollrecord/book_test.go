package pollrecord

import (
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// at is t0 + d in Unix nanoseconds, the book's time.
func at(d time.Duration) int64 { return nanos(t0.Add(d)) }

// bookGrant is a grant for the book alone, with a hash not in grantd's
// format, expiring at expires.
func bookGrant(n int, expires time.Time) store.DeviceGrant {
	return store.DeviceGrant{DeviceCodeHash: fmt.Sprintf("dc-%d", n), ClientID: "tv", State: store.DevicePending,
		Interval: 5 * time.Second, ExpiresAt: expires}
}

// checkedBook returns a book whose check for other writers has just
// succeeded at t0, having read data version 1.
func checkedBook(t *testing.T) *book {
	t.Helper()
	b := newBook(defaultLimit, true)
	if _, v, check := b.poll("any", "tv", at(0)); v != read || !check {
		t.Fatalf("new book: verdict %d, check %t; want a read and a check first", v, check)
	}
	b.checked(at(0), 1, nil)
	return b
}

func TestKey(t *testing.T) {
	g := grant(1)
	if k := key(g.DeviceCodeHash); hex.EncodeToString(k[:]) != g.DeviceCodeHash {
		t.Errorf("key(%s) = %x; want the hash's bytes", g.DeviceCodeHash, k)
	}
	seen := map[[32]byte]string{}
	for _, h := range []string{g.DeviceCodeHash, "dc-1", "", g.DeviceCodeHash[:62], "AB" + g.DeviceCodeHash[2:]} {
		k := key(h)
		if other, ok := seen[k]; ok {
			t.Errorf("key(%q) = key(%q)", h, other)
		}
		seen[k] = h
	}
}

// TestBookKnowsPending: a grant read pending is answered from the book
// until it is decided; a read or a creation that raced a decision does not
// make the book know the grant pending.
func TestBookKnowsPending(t *testing.T) {
	b := checkedBook(t)
	g := grant(1)
	b.record(g, at(0), b.generation())
	p, v, _ := b.poll(g.DeviceCodeHash, "tv", at(100*time.Millisecond))
	if v != answered || p.State != store.DevicePending || !p.SlowDown || p.ClientID != "tv" || !p.ExpiresAt.Equal(g.ExpiresAt) {
		t.Fatalf("poll 100ms after the first: %+v, verdict %d; want pending, slowed down, answered", p, v)
	}
	if p, v, _ := b.poll(g.DeviceCodeHash, "other", at(200*time.Millisecond)); v != answered || p.ClientID != "tv" || p.SlowDown || p.Interval != 0 {
		t.Errorf("another client's poll: %+v, verdict %d; want the owner, not slowed down, not recorded", p, v)
	}

	b.decided(g.DeviceCodeHash)
	if _, v, _ := b.poll(g.DeviceCodeHash, "tv", at(300*time.Millisecond)); v != read {
		t.Error("a decided grant is still known pending")
	}

	// A read that began before a decision and ends after it.
	g2 := grant(2)
	seen := b.generation()
	b.decided(g2.DeviceCodeHash)
	b.record(g2, at(0), seen)
	if _, v, _ := b.poll(g2.DeviceCodeHash, "tv", at(100*time.Millisecond)); v != read {
		t.Error("a grant read before a decision and entered after it is known pending")
	}
	g3 := grant(3)
	b.created(g3, seen)
	if _, v, _ := b.poll(g3.DeviceCodeHash, "tv", at(0)); v != read {
		t.Error("a grant created before a decision and entered after it is known pending")
	}
	g4 := grant(4)
	b.created(g4, b.generation())
	if _, v, _ := b.poll(g4.DeviceCodeHash, "tv", at(0)); v != answered {
		t.Error("a grant created with no decision meanwhile is not known pending")
	}
}

// TestBookExpired: at expiry the book leaves the answer to the row.
func TestBookExpired(t *testing.T) {
	b := checkedBook(t)
	g := grant(1)
	b.created(g, b.generation())
	near := nanos(g.ExpiresAt.Add(-time.Millisecond))
	b.poll(g.DeviceCodeHash, "tv", near) // the check is due
	b.checked(near, 1, nil)
	if _, v, _ := b.poll(g.DeviceCodeHash, "tv", nanos(g.ExpiresAt)-1); v != answered {
		t.Error("not known pending just before expiry")
	}
	if _, v, _ := b.poll(g.DeviceCodeHash, "tv", nanos(g.ExpiresAt)); v != read {
		t.Error("known pending at expiry")
	}
}

// TestBookChecks: polls answered from the book need a successful check for
// other writers that began less than trustFor before them (and not more
// than trustFor after them), run by one caller at a time; a changed data version makes the
// book forget every grant's state, and errors.ErrUnsupported ends the
// checks.
func TestBookChecks(t *testing.T) {
	b := checkedBook(t)
	g := grant(1)
	b.created(g, b.generation())
	due := time.Duration(trustFor)
	if _, v, _ := b.poll(g.DeviceCodeHash, "tv", at(due-1)); v != answered {
		t.Fatal("not known pending within trustFor of the check")
	}
	if _, v, _ := b.poll(g.DeviceCodeHash, "tv", at(-time.Millisecond)); v != answered {
		t.Fatal("not known pending for a poll whose time was read just before the check began")
	}
	if _, v, check := b.poll(g.DeviceCodeHash, "tv", at(-due-time.Millisecond)); v != read || !check {
		t.Fatalf("long before the check (the clock went back): verdict %d, check %t; want a read and a check", v, check)
	}
	b.checked(at(0), 1, nil)
	if _, v, check := b.poll(g.DeviceCodeHash, "tv", at(due)); v != read || !check {
		t.Fatalf("at the next check: verdict %d, check %t; want a read and a check", v, check)
	}
	if _, v, check := b.poll(g.DeviceCodeHash, "tv", at(due)); v != read || check {
		t.Fatalf("while another caller checks: verdict %d, check %t; want a read and no check", v, check)
	}
	b.checked(at(due), 0, errors.New("disk on fire"))
	if _, v, check := b.poll(g.DeviceCodeHash, "tv", at(due+time.Millisecond)); v != read || check {
		t.Fatalf("after a failed check: verdict %d, check %t; want a read and no check until the next is due", v, check)
	}
	next := 2 * due
	b.poll(g.DeviceCodeHash, "tv", at(next))
	b.checked(at(next), 1, nil) // the version of the first check: nobody else wrote
	if _, v, _ := b.poll(g.DeviceCodeHash, "tv", at(next)); v != answered {
		t.Fatal("not known pending after a check that found no other writer")
	}
	last := 3 * due
	b.poll(g.DeviceCodeHash, "tv", at(last))
	b.checked(at(last), 2, nil)
	if _, v, _ := b.poll(g.DeviceCodeHash, "tv", at(last)); v != read {
		t.Error("still known pending after another process wrote")
	}

	b.record(g, at(last), b.generation())
	b.poll(g.DeviceCodeHash, "tv", at(4*due))
	b.checked(at(4*due), 0, fmt.Errorf("no data version: %w", errors.ErrUnsupported))
	for _, d := range []time.Duration{4*due + 1, 6 * due} {
		if _, v, check := b.poll(g.DeviceCodeHash, "tv", at(d)); v != read || check {
			t.Errorf("after ErrUnsupported, at +%v: verdict %d, check %t; want a read, never a check", d, v, check)
		}
	}
}

// TestBookPrunesExpired: once the book has grown to its next sweep,
// entries of grants expired at the newest poll go.
func TestBookPrunesExpired(t *testing.T) {
	b := newBook(defaultLimit, false)
	const early, late = 5000, 4000
	for i := range early {
		b.record(bookGrant(i, t0.Add(time.Minute)), at(0), b.generation())
	}
	if n := b.len(); n != early {
		t.Fatalf("%d entries, want %d: none has expired yet", n, early)
	}
	for i := range late {
		b.record(bookGrant(early+i, t0.Add(time.Hour)), at(2*time.Minute), b.generation())
	}
	if n := b.len(); n != late {
		t.Errorf("%d entries, want %d: the %d expired ones pruned", n, late, early)
	}
}

// TestBookPrunesIdle: entries that never raised the interval go once their
// interval has passed; those that raised it, or know their grant pending,
// stay.
func TestBookPrunesIdle(t *testing.T) {
	b := checkedBook(t)
	const polite, slowed, pending = 2000, 1000, 1000
	for i := range polite + slowed {
		b.record(bookGrant(i, t0.Add(time.Hour)), at(0), 0) // read with a stale generation: not known pending
		if i >= polite {
			b.record(bookGrant(i, t0.Add(time.Hour)), at(0), 0) // at once: slow_down, interval 10s
		}
	}
	for i := range pending {
		b.created(bookGrant(polite+slowed+i, t0.Add(time.Hour)), b.generation())
	}
	for i := range minSweep {
		b.record(bookGrant(polite+slowed+pending+i, t0.Add(time.Hour)), at(6*time.Second), 0) // 5s intervals have passed, 10s not
	}
	if n, want := b.len(), slowed+pending+minSweep; n != want {
		t.Errorf("%d entries, want %d: the %d polite ones pruned", n, want, polite)
	}
	slow, interval, _ := b.record(bookGrant(polite, t0.Add(time.Hour)), at(7*time.Second), 0)
	if !slow || interval != 15*time.Second {
		t.Errorf("slowed grant after the sweep: slowDown %t, interval %v; want true, 15s", slow, interval)
	}
}

// TestBookLimit: a full book refuses new entries, keeping the ones it has,
// and never grows past its limit.
func TestBookLimit(t *testing.T) {
	const limit = 1000
	b := newBook(limit, false)
	for i := range 3000 {
		_, _, ok := b.record(bookGrant(i, t0.Add(time.Hour)), at(0), 0)
		if want := i < limit; ok != want {
			t.Fatalf("entry %d recorded: %t, want %t", i, ok, want)
		}
		if n := b.len(); n > limit {
			t.Fatalf("%d entries, above the limit of %d", n, limit)
		}
	}
	if slow, _, ok := b.record(bookGrant(limit-1, t0.Add(time.Hour)), at(0), 0); !ok || !slow {
		t.Error("the newest entry the book took was dropped")
	}
	if _, v, _ := b.poll(bookGrant(limit, t0.Add(time.Hour)).DeviceCodeHash, "tv", at(0)); v != full {
		t.Errorf("poll of a grant the full book has no entry for: verdict %d, want full", v)
	}
}
