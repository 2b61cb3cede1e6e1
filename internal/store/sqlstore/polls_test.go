package sqlstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// hexGrant is grant n with a device code hash in grantd's format, hex
// SHA-256.
func hexGrant(n int) store.DeviceGrant {
	g := grant(n)
	sum := sha256.Sum256([]byte(g.DeviceCodeHash))
	g.DeviceCodeHash = hex.EncodeToString(sum[:])
	return g
}

// TestPollsSurviveGracefulRestart: Close writes the poll book back, so a
// reopened store goes on from the raised interval and the last poll, for
// hashes in grantd's format and any other.
func TestPollsSurviveGracefulRestart(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "grantd.db")
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	grants := []store.DeviceGrant{hexGrant(1), grant(2)}
	for _, g := range grants {
		if err := s.CreateDeviceGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Duration{0, time.Second} { // the second is slow: 10s from now on
			if _, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, g.ClientID, t0.Add(at)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTemp(t, path)
	for _, g := range grants {
		got, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
		if err != nil {
			t.Fatal(err)
		}
		if got.Interval != 10*time.Second || !got.LastPolledAt.Equal(t0.Add(time.Second)) {
			t.Errorf("%s after restart: interval %v, last poll %v; want 10s, %v",
				g.DeviceCodeHash, got.Interval, got.LastPolledAt, t0.Add(time.Second))
		}
		p, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, g.ClientID, t0.Add(6*time.Second))
		if err != nil || !p.SlowDown {
			t.Errorf("%s: poll 5s after the last, interval 10s: slowDown %t, %v; want true", g.DeviceCodeHash, p.SlowDown, err)
		}
	}
}

// TestPollsLostInCrash shows what a crash costs: a store that never closed
// leaves the rows as they were, so a new one sees the base interval and
// takes the next poll as the first. The grant itself is intact.
func TestPollsLostInCrash(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "grantd.db")
	crashed := openTemp(t, path)
	g := hexGrant(1)
	if err := crashed.CreateDeviceGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if _, err := crashed.DecideDeviceGrant(ctx, g.UserCode, store.Decision{Approve: true, UserID: "u1"}, t0); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{0, time.Second} {
		if _, err := crashed.PollDeviceGrant(ctx, g.DeviceCodeHash, g.ClientID, t0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}

	restarted := openTemp(t, path) // as after kill -9: crashed never wrote its book back
	before, err := restarted.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
	if err != nil {
		t.Fatal(err)
	}
	p, err := restarted.PollDeviceGrant(ctx, g.DeviceCodeHash, g.ClientID, t0.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if p.SlowDown || before.Interval != g.Interval || !before.LastPolledAt.IsZero() || p.State != store.DeviceApproved {
		t.Errorf("first poll after a crash: slowDown %t, grant %+v; want on time, base interval, approved", p.SlowDown, before)
	}
}

// TestPollOfUnknownCode: a poll of a code that does not exist enters
// nothing in the book.
func TestPollOfUnknownCode(t *testing.T) {
	s := openTemp(t, filepath.Join(t.TempDir(), "grantd.db"))
	for i := range 100 {
		_, err := s.PollDeviceGrant(t.Context(), hexGrant(i).DeviceCodeHash, "tv", t0)
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("poll of an unknown code: %v, want ErrNotFound", err)
		}
	}
	if n := s.polls.len(); n != 0 {
		t.Errorf("book holds %d entries after polls of unknown codes, want 0", n)
	}
}

// bookGrant is a grant for the poll book alone, expiring at expires.
func bookGrant(n int, expires time.Time) store.DeviceGrant {
	return store.DeviceGrant{DeviceCodeHash: fmt.Sprintf("dc-%d", n), State: store.DevicePending, Interval: 5 * time.Second, ExpiresAt: expires}
}

// TestPollBookPrunesExpired: once the book has grown to its next sweep,
// entries of grants expired at the newest poll go.
func TestPollBookPrunesExpired(t *testing.T) {
	b := newPollBook()
	const early, late = 5000, 4000
	for i := range early {
		g := bookGrant(i, t0.Add(time.Minute))
		b.record(&g, t0)
	}
	if n := b.len(); n != early {
		t.Fatalf("%d entries, want %d: none has expired yet", n, early)
	}
	for i := range late {
		g := bookGrant(early+i, t0.Add(time.Hour))
		b.record(&g, t0.Add(2*time.Minute))
	}
	if n := b.len(); n != late {
		t.Errorf("%d entries, want %d: the %d expired ones pruned", n, late, early)
	}
}

// TestPollBookPrunesIdle: entries that never raised the interval go once
// their interval has passed; those that raised it stay.
func TestPollBookPrunesIdle(t *testing.T) {
	b := newPollBook()
	const polite, slowed = 3000, 1000
	for i := range polite + slowed {
		g := bookGrant(i, t0.Add(time.Hour))
		b.record(&g, t0)
		if i >= polite {
			b.record(&g, t0) // at once: slow_down, interval 10s
		}
	}
	for i := range pollBookMinSweep {
		g := bookGrant(polite+slowed+i, t0.Add(time.Hour))
		b.record(&g, t0.Add(6*time.Second)) // 6s after the others: 5s intervals have passed, 10s not
	}
	if n, want := b.len(), slowed+pollBookMinSweep; n != want {
		t.Errorf("%d entries, want %d: the %d polite ones pruned", n, want, polite)
	}
	g := bookGrant(polite, t0.Add(time.Hour))
	if slow := b.record(&g, t0.Add(7*time.Second)); !slow || g.Interval != 10*time.Second {
		t.Errorf("slowed grant after the sweep: slowDown %t, interval %v; want true, 10s", slow, g.Interval)
	}
}

// TestPollBookLimit: at its limit the book drops entries to make room.
func TestPollBookLimit(t *testing.T) {
	b := newPollBook()
	b.limit, b.sweepAt = 1000, 1000
	for i := range 3000 {
		g := bookGrant(i, t0.Add(time.Hour))
		b.record(&g, t0)
		if n := b.len(); n > b.limit {
			t.Fatalf("%d entries, above the limit of %d", n, b.limit)
		}
	}
	last := bookGrant(2999, t0.Add(time.Hour))
	if slow := b.record(&last, t0); !slow {
		t.Error("the newest entry was dropped")
	}
}

func TestPollKey(t *testing.T) {
	g := hexGrant(1)
	k, canonical := pollKey(g.DeviceCodeHash)
	if !canonical || hex.EncodeToString(k[:]) != g.DeviceCodeHash {
		t.Errorf("pollKey(%s) = %x, %t; want the hash's bytes", g.DeviceCodeHash, k, canonical)
	}
	for _, h := range []string{"dc-1", "", g.DeviceCodeHash[:62], "AB" + g.DeviceCodeHash[2:]} {
		if _, canonical := pollKey(h); canonical {
			t.Errorf("pollKey(%q) is canonical, want a digest of the text", h)
		}
	}
}
