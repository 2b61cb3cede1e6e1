package pollrecord

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/storetest"
)

// failing is a Versioner's answer when the database cannot be read.
func failing() (int64, error) { return 0, errors.New("disk on fire") }

// unsupported is a Versioner's answer for a database with no version.
func unsupported() (int64, error) { return 0, fmt.Errorf("no data version: %w", errors.ErrUnsupported) }

// TestPollsRecordedInMemory: polls are recorded in memory, with slow_down
// and the interval's growth (RFC 8628 §3.5), and another client's polls
// not at all (DEV-16); the inner store sees no write, and its row stays as
// created. With a Versioner whose checks succeed, only polls that run a
// check (once a second at most) read the grant; otherwise every poll
// does, and a failing check runs once a second, an unsupported one once.
func TestPollsRecordedInMemory(t *testing.T) {
	ms := time.Millisecond
	steps := []struct {
		at           time.Duration
		client       string
		wantSlow     bool
		wantInterval time.Duration // after the poll; 0 for another client's
	}{
		{0, "tv", false, 5 * time.Second}, // the first poll is never slow, even at once
		{100 * ms, "other", false, 0},
		{5 * time.Second, "tv", false, 5 * time.Second}, // on time: the other client's poll did not count
		{5100 * ms, "other", false, 0},
		{7 * time.Second, "tv", true, 10 * time.Second}, // 2s < 5s - 1s
		{7100 * ms, "other", false, 0},
		{7200 * ms, "tv", true, 15 * time.Second}, // 200ms < 10s - 1s
		{28 * time.Second, "tv", false, 15 * time.Second},
		{28100 * ms, "tv", true, 20 * time.Second},
	}
	for _, tc := range []struct {
		name    string
		version func() (int64, error)
		want    map[string]int // calls to the inner store, by verb
	}{
		{"not a Versioner", nil, map[string]int{"read": 9}},
		// Checks at creation, 5s, 7s and 28s; the creation's lets the poll at
		// 0 be answered from memory, and a poll that runs a check reads.
		{"Versioner", fixed, map[string]int{"read": 3, "check": 4}},
		{"Versioner failing", failing, map[string]int{"read": 9, "check": 4}},
		{"Versioner unsupported", unsupported, map[string]int{"read": 9, "check": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newCounted(t, tc.version)
			g := grant(1)
			mustCreate(t, s, g)
			for i, st := range steps {
				p := mustPoll(t, s, g, st.client, t0.Add(st.at))
				want := store.PollResult{ClientID: "tv", State: store.DevicePending, ExpiresAt: g.ExpiresAt,
					SlowDown: st.wantSlow, Interval: st.wantInterval}
				if !reflect.DeepEqual(p, want) {
					t.Errorf("poll %d at +%v by %s:\n got %+v\nwant %+v", i, st.at, st.client, p, want)
				}
			}
			if got := c.took(); !maps.Equal(got, tc.want) {
				t.Errorf("calls to the inner store: %v, want %v", got, tc.want)
			}
			got, err := s.DeviceGrantByDeviceCode(t.Context(), g.DeviceCodeHash)
			if err != nil || got.Interval != 20*time.Second || !got.LastPolledAt.Equal(t0.Add(28100*ms)) {
				t.Errorf("grant after the polls: interval %v, last poll %v, %v; want 20s, %v", got.Interval, got.LastPolledAt, err, t0.Add(28100*ms))
			}
			row, err := c.Store.DeviceGrantByDeviceCode(t.Context(), g.DeviceCodeHash)
			if err != nil || row.Interval != g.Interval || !row.LastPolledAt.IsZero() {
				t.Errorf("inner store's grant: interval %v, last poll %v, %v; want it as created", row.Interval, row.LastPolledAt, err)
			}
		})
	}
}

// TestPollOfUnknownCode: a poll of a code that does not exist is the inner
// store's ErrNotFound, and enters nothing in the record.
func TestPollOfUnknownCode(t *testing.T) {
	for _, version := range []func() (int64, error){nil, fixed} {
		s, _ := newCounted(t, version)
		for i := range 100 {
			_, err := s.PollDeviceGrant(t.Context(), grant(i).DeviceCodeHash, "tv", t0)
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("poll of an unknown code: %v, want ErrNotFound", err)
			}
		}
		if n := s.book.len(); n != 0 {
			t.Errorf("record holds %d entries after polls of unknown codes, want 0", n)
		}
	}
}

// TestForeignPollOfDecidedGrant is DEV-16 for grants read from the inner
// store: another client's poll reports the owner, is never slowed down
// and is not recorded, so the owner's next poll is its first.
func TestForeignPollOfDecidedGrant(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    store.Decision
		want store.DeviceState
	}{
		{"approved", store.Decision{Approve: true, UserID: "u1", AuthTime: t0}, store.DeviceApproved},
		{"denied", store.Decision{UserID: "u1"}, store.DeviceDenied},
	} {
		s, _ := newCounted(t, fixed)
		g := grant(1)
		mustCreate(t, s, g)
		if _, err := s.DecideDeviceGrant(t.Context(), g.UserCode, tc.d, t0); err != nil {
			t.Fatal(err)
		}
		entries := s.book.len() // the creation's
		for i := range 3 {
			p := mustPoll(t, s, g, "other", t0.Add(time.Duration(i)*time.Millisecond))
			if p.ClientID != "tv" || p.State != tc.want || p.SlowDown || p.Interval != 0 {
				t.Errorf("%s: another client's poll %d: %+v; want tv's grant, not recorded", tc.name, i, p)
			}
		}
		if got, err := s.DeviceGrantByDeviceCode(t.Context(), g.DeviceCodeHash); err != nil || !got.LastPolledAt.IsZero() {
			t.Errorf("%s: last poll %v, %v after another client's polls; want none", tc.name, got.LastPolledAt, err)
		}
		if n := s.book.len(); n != entries {
			t.Errorf("%s: record holds %d entries after another client's polls, want %d as before them", tc.name, n, entries)
		}
	}
}

// TestKnowsPending: a grant created through the record is answered from
// memory without a read; a decision through the record reaches the very
// next poll, which reads the grant and reports the decision.
// TestKnowsPendingFromTheStart: grants created before any poll, as on a
// server that has just started, are known pending at their first polls,
// which read nothing; the creation ran the first check.
func TestKnowsPendingFromTheStart(t *testing.T) {
	s, c := newCounted(t, fixed)
	var gs []store.DeviceGrant
	for n := range 50 {
		gs = append(gs, grant(n))
		mustCreate(t, s, gs[n])
	}
	if got := c.took(); got["check"] != 1 {
		t.Errorf("creating 50 grants within a second checked for other writers %d times, want once", got["check"])
	}
	for _, g := range gs {
		if p := mustPoll(t, s, g, "tv", t0.Add(100*time.Millisecond)); p.State != store.DevicePending || p.SlowDown {
			t.Fatalf("first poll of %s: %+v, want pending and on time", g.UserCode, p)
		}
	}
	if got := c.took(); len(got) != 0 {
		t.Errorf("first polls of grants created pending called the inner store: %v", got)
	}
}

func TestKnowsPending(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    store.Decision
		want store.PollResult
	}{
		{"approved", store.Decision{Approve: true, UserID: "u1", AuthTime: t0},
			store.PollResult{ClientID: "tv", State: store.DeviceApproved}},
		{"denied", store.Decision{UserID: "u1", AuthTime: t0}, store.PollResult{ClientID: "tv", State: store.DeviceDenied}},
	} {
		s, c := newCounted(t, fixed)
		warm := grant(0)
		mustCreate(t, s, warm)
		mustPoll(t, s, warm, "tv", t0) // the first check
		g := grant(1)
		mustCreate(t, s, g)
		c.took()
		for _, at := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
			if p := mustPoll(t, s, g, "tv", t0.Add(at)); p.State != store.DevicePending {
				t.Fatalf("%s: poll at +%v: %s, want pending", tc.name, at, p.State)
			}
		}
		if got := c.took(); len(got) != 0 {
			t.Errorf("%s: polls of a grant created pending called the inner store: %v", tc.name, got)
		}
		decided, err := s.DecideDeviceGrant(t.Context(), g.UserCode, tc.d, t0.Add(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if !decided.LastPolledAt.Equal(t0.Add(200 * time.Millisecond)) {
			t.Errorf("%s: decided grant's last poll %v, want the record's", tc.name, decided.LastPolledAt)
		}
		p := mustPoll(t, s, g, "tv", t0.Add(400*time.Millisecond))
		want := tc.want
		want.ExpiresAt, want.Interval = g.ExpiresAt, g.Interval+store.SlowDownStep // the poll at 200ms was slowed down
		if !reflect.DeepEqual(p, want) {
			t.Errorf("%s: poll after the decision:\n got %+v\nwant %+v", tc.name, p, want)
		}
		if got := c.took(); got["read"] != 1 {
			t.Errorf("%s: the poll after the decision read the grant %d times, want once", tc.name, got["read"])
		}
	}
}

// TestExpiryReadFromRow: a grant known pending is answered from memory up
// to its expiry, and from its row at it.
func TestExpiryReadFromRow(t *testing.T) {
	s, c := newCounted(t, fixed)
	g := grant(1)
	mustCreate(t, s, g)
	for _, tc := range []struct {
		at        time.Time
		wantReads int
	}{
		{g.ExpiresAt.Add(-time.Second), 1}, // runs the check, and reads
		{g.ExpiresAt.Add(-time.Nanosecond), 0},
		{g.ExpiresAt, 1},
	} {
		p := mustPoll(t, s, g, "tv", tc.at)
		if got := c.took()["read"]; got != tc.wantReads {
			t.Errorf("poll at %v read the grant %d times, want %d", tc.at, got, tc.wantReads)
		}
		if p.Expired(tc.at) != !tc.at.Before(g.ExpiresAt) || !p.ExpiresAt.Equal(g.ExpiresAt) {
			t.Errorf("poll at %v: expires %v, want %v", tc.at, p.ExpiresAt, g.ExpiresAt)
		}
	}
}

// TestOtherWriter: a change made by another writer to the same SQLite file
// (another Store, as another process in a rolling restart) reaches the
// record's polls once its next check has run, within a second.
func TestOtherWriter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(there store.Store, g store.DeviceGrant) error
		want    store.DeviceState // "" for ErrNotFound
		wantErr error
	}{
		{"approved there", func(there store.Store, g store.DeviceGrant) error {
			_, err := there.DecideDeviceGrant(t.Context(), g.UserCode, store.Decision{Approve: true, UserID: "u1"}, t0)
			return err
		}, store.DeviceApproved, nil},
		{"client deleted there", func(there store.Store, g store.DeviceGrant) error {
			return there.DeleteClient(t.Context(), "tv", t0)
		}, "", store.ErrNotFound},
	} {
		path := filepath.Join(t.TempDir(), "grantd.db")
		here, there := New(openSQLite(t, path)), openSQLite(t, path)
		if err := there.CreateClient(t.Context(), store.Client{ID: "tv", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		changed, other := grant(1), grant(2)
		other.ClientID = "kept"
		for _, g := range []store.DeviceGrant{changed, other} {
			mustCreate(t, here, g)
			mustPoll(t, here, g, g.ClientID, t0)
		}
		if err := tc.change(there, changed); err != nil {
			t.Fatal(err)
		}
		// Within a second of the last check the record answers from memory.
		if p := mustPoll(t, here, changed, "tv", t0.Add(500*time.Millisecond)); p.State != store.DevicePending {
			t.Errorf("%s: poll within the second: %s, want pending, from memory", tc.name, p.State)
		}
		next := t0.Add(time.Second)
		mustPoll(t, here, other, other.ClientID, next) // runs the check
		p, err := here.PollDeviceGrant(t.Context(), changed.DeviceCodeHash, "tv", next.Add(time.Millisecond))
		if !errors.Is(err, tc.wantErr) || p.State != tc.want {
			t.Errorf("%s: poll after the check: %s, %v; want %q, %v", tc.name, p.State, err, tc.want, tc.wantErr)
		}
	}
}

// TestConflictForgetsPending: a decision through the record that finds
// the grant decided by another writer forgets at once which grants are
// pending, so the next poll reads the grant.
func TestConflictForgetsPending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grantd.db")
	here, there := New(openSQLite(t, path)), openSQLite(t, path)
	g := grant(1)
	mustCreate(t, here, g)
	mustPoll(t, here, g, "tv", t0)
	if _, err := there.DecideDeviceGrant(t.Context(), g.UserCode, store.Decision{Approve: true, UserID: "u1"}, t0); err != nil {
		t.Fatal(err)
	}
	_, err := here.DecideDeviceGrant(t.Context(), g.UserCode, store.Decision{UserID: "u2"}, t0.Add(time.Millisecond))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("decision of a grant decided elsewhere: %v, want ErrConflict", err)
	}
	if p := mustPoll(t, here, g, "tv", t0.Add(2*time.Millisecond)); p.State != store.DeviceApproved {
		t.Errorf("poll after the conflict: %s, want approved", p.State)
	}
}

// TestDeleteClientForgets: deleting a client through the record ends its
// grants' records, and their polls find no grant.
func TestDeleteClientForgets(t *testing.T) {
	s, _ := newCounted(t, fixed)
	if err := s.CreateClient(t.Context(), store.Client{ID: "tv", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	g := grant(1)
	mustCreate(t, s, g)
	mustPoll(t, s, g, "tv", t0)
	if err := s.DeleteClient(t.Context(), "tv", t0); err != nil {
		t.Fatal(err)
	}
	if n := s.book.len(); n != 0 {
		t.Errorf("record holds %d entries after its client was deleted, want 0", n)
	}
	_, err := s.PollDeviceGrant(t.Context(), g.DeviceCodeHash, "tv", t0.Add(time.Millisecond))
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("poll of a deleted client's grant: %v, want ErrNotFound", err)
	}
}

// TestRedeemForgets: a redeemed grant's record goes; its polls report it
// issued.
func TestRedeemForgets(t *testing.T) {
	s, _ := newCounted(t, fixed)
	if err := errors.Join(
		s.CreateUser(t.Context(), store.User{ID: "u1", Username: "alice", PasswordHash: "x", CreatedAt: t0}),
		s.CreateClient(t.Context(), store.Client{ID: "tv", CreatedAt: t0}),
	); err != nil {
		t.Fatal(err)
	}
	g := grant(1)
	mustCreate(t, s, g)
	mustPoll(t, s, g, "tv", t0)
	if _, err := s.DecideDeviceGrant(t.Context(), g.UserCode, store.Decision{Approve: true, UserID: "u1", AuthTime: t0}, t0); err != nil {
		t.Fatal(err)
	}
	gr := store.Grant{ID: "g1", ClientID: "tv", UserID: "u1", Kind: "urn:ietf:params:oauth:grant-type:device_code",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	redeemed, err := s.RedeemDeviceGrant(t.Context(), g.DeviceCodeHash, "tv", t0.Add(time.Second), storetest.Issue[store.DeviceGrant](&gr, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !redeemed.LastPolledAt.Equal(t0) {
		t.Errorf("redeemed grant's last poll %v, want the record's %v", redeemed.LastPolledAt, t0)
	}
	if n := s.book.len(); n != 0 {
		t.Errorf("record holds %d entries after the redemption, want 0", n)
	}
	if p := mustPoll(t, s, g, "tv", t0.Add(2*time.Second)); p.State != store.DeviceIssued {
		t.Errorf("poll after the redemption: %s, want issued", p.State)
	}
}

// TestRestartForgets shows what the record's softness costs: a new record
// over the same file starts from the row, so the first poll after a
// restart is on time however soon it comes, at the row's interval. The
// grant itself is intact.
func TestRestartForgets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grantd.db")
	before := New(openSQLite(t, path))
	g := grant(1)
	mustCreate(t, before, g)
	for _, at := range []time.Duration{0, time.Second} { // the second is slow: 10s from now on
		mustPoll(t, before, g, "tv", t0.Add(at))
	}
	after := New(openSQLite(t, path))
	got, err := after.DeviceGrantByDeviceCode(t.Context(), g.DeviceCodeHash)
	if err != nil || got.Interval != g.Interval || !got.LastPolledAt.IsZero() || got.State != store.DevicePending {
		t.Errorf("grant after a restart: %+v, %v; want pending, the base interval, never polled", got, err)
	}
	if p := mustPoll(t, after, g, "tv", t0.Add(2*time.Second)); p.SlowDown || p.Interval != g.Interval {
		t.Errorf("first poll after a restart: %+v; want on time at the base interval", p)
	}
}

// TestLimit: a full record takes no new entry; polls of grants it has none
// for are the inner store's, while those it has keep their record. Once
// entries have become idle, a sweep after limit/refusalsPerSweep refusals
// makes room.
func TestLimit(t *testing.T) {
	const limit, grants = 16, 40
	c := wrapped(t)
	s := newStore(c, limit)
	for i := range grants {
		mustCreate(t, s, grant(i))
	}
	for i := range grants {
		mustPoll(t, s, grant(i), "tv", t0)
		if n := s.book.len(); n > limit {
			t.Fatalf("%d entries, above the limit of %d", n, limit)
		}
	}
	if got, want := c.took(), map[string]int{"read": limit, "poll": grants - limit}; !maps.Equal(got, want) {
		t.Errorf("calls to the inner store: %v, want %v", got, want)
	}
	if p := mustPoll(t, s, grant(limit-1), "tv", t0); !p.SlowDown {
		t.Error("a grant recorded before the record filled up lost its record")
	}
	// 6s on, every entry is idle (5s intervals, never slowed down but the one).
	late := grant(grants - 1)
	for i := 0; s.book.len() == limit; i++ {
		if i > limit/refusalsPerSweep {
			t.Fatalf("still full after %d polls with idle entries", i)
		}
		mustPoll(t, s, late, "tv", t0.Add(6*time.Second))
	}
	if n := s.book.len(); n != 2 {
		t.Errorf("%d entries after the sweep, want 2: the slowed-down grant and the new one", n)
	}
}

// TestStartsFromInnerRecord: a grant the record has no entry for starts
// from the poll record the inner store reports (a PostgreSQL row's, or one
// a full record left to the inner store), so a poll the inner store
// recorded counts.
func TestStartsFromInnerRecord(t *testing.T) {
	s, c := newCounted(t, nil)
	g := grant(1)
	mustCreate(t, s, g)
	if _, err := c.Store.PollDeviceGrant(t.Context(), g.DeviceCodeHash, "tv", t0); err != nil {
		t.Fatal(err)
	}
	if p := mustPoll(t, s, g, "tv", t0.Add(time.Second)); !p.SlowDown || p.Interval != 10*time.Second {
		t.Errorf("poll 1s after the inner store's: %+v; want slowed down, interval 10s", p)
	}
}
