package pollrecord

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// Bounds of the book. minSweep is the size at which pruning starts; at
// limit entries the book refuses new ones (the inner store records those
// polls) and sweeps again only after limit/refusalsPerSweep refusals, so
// that a full book costs O(1) per poll amortised.
const (
	defaultLimit     = 1 << 20
	minSweep         = 4096
	refusalsPerSweep = 8
)

// trustFor is how long a successful check for other writers lets the book
// answer polls of grants it knows pending.
const trustFor = int64(time.Second)

// book is the poll record: for each polled device grant, the time of its
// last poll and its current interval, and, for the grants it knows to be
// pending, their client and expiry. Times are Unix nanoseconds.
type book struct {
	mu sync.Mutex
	// entries is keyed by the device code hash: its 32 bytes when it is hex
	// SHA-256, as grantd's are, and otherwise the SHA-256 of the string.
	// Neither keys nor values hold pointers, so the garbage collector never
	// scans the map.
	entries map[[32]byte]entry
	// clients interns the client ids of the grants in entries: an entry
	// holds its client's index in clientIDs, plus one. They are ids of
	// registered clients, so the table stays small.
	clients   map[string]uint32
	clientIDs []string
	// An entry whose epoch is the book's knows its grant pending. A new
	// epoch forgets every grant's state. gen counts new epochs and
	// decisions: a grant read pending becomes known pending only if gen
	// did not move while it was read (the decision may be of that very
	// grant), and only once a check for other writers has succeeded
	// (versioned).
	epoch uint64
	gen   uint64
	// checkedAt is when the last check for other writers began, and alone
	// whether it succeeded: the book answers no poll from what it knows
	// unless a check succeeded within trustFor. dataVersion is what the
	// last successful check read. unversioned: the inner store cannot be
	// checked, so the book never answers from what it knows.
	checkedAt   int64
	checking    bool
	alone       bool
	versioned   bool
	unversioned bool
	dataVersion int64
	// newest is the latest poll or creation time seen, recorded or not;
	// entries expired by then, or idle, are pruned once the map reaches
	// sweepAt entries.
	newest  int64
	sweepAt int
	refused int // polls refused an entry since the last sweep
	limit   int
}

// entry is one grant's record: 40 bytes, plus its 32-byte key (see the
// package comment for what the map costs per entry).
type entry struct {
	last, interval, expires int64
	epoch                   uint64 // the book's epoch while the grant is known pending, else 0
	client                  uint32 // index in clientIDs, plus one
	polled                  bool   // last is set
	raised                  bool   // interval is above the row's
}

func newBook(limit int, versioned bool) *book {
	return &book{
		entries:     make(map[[32]byte]entry),
		clients:     make(map[string]uint32),
		epoch:       1,
		sweepAt:     min(minSweep, limit),
		limit:       limit,
		unversioned: !versioned,
	}
}

// key returns the book's key for a device code hash.
func key(hash string) [32]byte {
	var k [32]byte
	if len(hash) == 2*len(k) && isLowerHex(hash) {
		if _, err := hex.Decode(k[:], []byte(hash)); err == nil {
			return k
		}
	}
	return sha256.Sum256([]byte(hash))
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// nanos returns t in Unix nanoseconds, clamped to the int64 range (the
// zero time is far before it).
func nanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func timeOf(n int64) time.Time { return time.Unix(0, n).UTC() }

// verdict is what the book can do for a poll.
type verdict int

const (
	read     verdict = iota // read the grant, then record the poll
	answered                // answered from the book
	full                    // no entry and no room: the inner store polls
)

// poll answers a poll at t by clientID of a grant the book knows pending,
// without reading it. It cannot when the last check for other writers
// failed or is not fresh — it began trustFor or more before t, or more
// than trustFor after it (the clock went back; a poll whose time was read
// a little before the check began may trust it) — when the book has no
// entry for the hash or does not know the grant pending, or when the
// grant has expired at t (the row decides: expired, or unknown once
// purged). check tells one caller at a time to run a check that is due,
// and then report it (checked). The poll is recorded when clientID owns
// the grant, and not otherwise (DEV-16).
func (b *book) poll(hash, clientID string, t int64) (p store.PollResult, v verdict, check bool) {
	k := key(hash)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.newest = max(b.newest, t)
	due := t-b.checkedAt >= trustFor || b.checkedAt-t > trustFor
	check = b.claimCheckLocked(t)
	fresh := b.alone && !due
	e, ok := b.entries[k]
	if !ok {
		if !b.roomLocked() {
			return store.PollResult{}, full, check
		}
		return store.PollResult{}, read, check
	}
	if !fresh || e.epoch != b.epoch || t >= e.expires {
		return store.PollResult{}, read, check
	}
	p = store.PollResult{ClientID: b.clientIDs[e.client-1], State: store.DevicePending, ExpiresAt: timeOf(e.expires)}
	if p.ClientID != clientID {
		return p, answered, check
	}
	p.SlowDown = e.poll(t, true)
	p.Interval = time.Duration(e.interval)
	b.entries[k] = e
	return p, answered, check
}

// checkDue reports whether the caller is to run a check for other writers
// that is due at t, as poll does: one caller at a time, which reports it
// (checked).
func (b *book) checkDue(t int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.claimCheckLocked(t)
}

func (b *book) claimCheckLocked(t int64) bool {
	due := t-b.checkedAt >= trustFor || b.checkedAt-t > trustFor
	if due && !b.checking && !b.unversioned {
		b.checking = true
		return true
	}
	return false
}

// record records a poll at t of g, read from the inner store when the
// book's generation was seen, by g's own client; it reports whether the
// poll came too soon (RFC 8628 §3.5, store.PollTooSoon) and the interval
// after it. A book without an entry for g starts one from g's interval
// and last poll. Polls of one grant are serialised by the book's lock, so
// of concurrent polls at one instant at most one is on time, and each slow
// one sees the raise of the one before. ok is false when the book has no
// room for g: the poll is not recorded.
func (b *book) record(g store.DeviceGrant, t int64, seen uint64) (slowDown bool, interval time.Duration, ok bool) {
	k := key(g.DeviceCodeHash)
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[k]
	if !ok {
		if !b.roomLocked() {
			return false, 0, false
		}
		e = entry{interval: int64(g.Interval)}
		if !g.LastPolledAt.IsZero() {
			e.last, e.polled = nanos(g.LastPolledAt), true
		}
	}
	e.expires, e.client, e.epoch = nanos(g.ExpiresAt), b.intern(g.ClientID), 0
	pending := g.State == store.DevicePending
	if pending && seen == b.gen && b.versioned {
		e.epoch = b.epoch
	}
	slowDown = e.poll(t, pending && t < e.expires)
	b.entries[k] = e
	b.newest = max(b.newest, t)
	return slowDown, time.Duration(e.interval), true
}

// created enters g, a grant just created pending and never polled, as
// known pending, unless the generation has moved since seen (before g was
// stored), the book already has an entry for it, or has no room.
func (b *book) created(g store.DeviceGrant, seen uint64) {
	k := key(g.DeviceCodeHash)
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.entries[k]; ok || seen != b.gen || !b.versioned || !b.roomLocked() {
		return
	}
	b.entries[k] = entry{interval: int64(g.Interval), expires: nanos(g.ExpiresAt), epoch: b.epoch,
		client: b.intern(g.ClientID)}
	b.newest = max(b.newest, nanos(g.CreatedAt))
}

// generation returns the book's generation, to hand to record or created
// after reading or storing a grant.
func (b *book) generation() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gen
}

// decided tells the book that the grant with the given hash is no longer
// pending. It moves the generation, so that a poll that read the grant
// before it was decided does not make the book know it pending afterwards.
func (b *book) decided(hash string) {
	k := key(hash)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	if e, ok := b.entries[k]; ok {
		e.epoch = 0
		b.entries[k] = e
	}
}

// forget drops the entry of the grant with the given hash, which was
// redeemed: its polls are answered by its state from now on.
func (b *book) forget(hash string) {
	k := key(hash)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	delete(b.entries, k)
}

// forgetClient drops the entries of clientID's grants and starts a new
// epoch: the client and its grants were deleted.
func (b *book) forgetClient(clientID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.newEpochLocked()
	i, ok := b.clients[clientID]
	if !ok {
		return
	}
	for k, e := range b.entries {
		if e.client == i {
			delete(b.entries, k)
		}
	}
}

// newEpoch forgets which grants are pending.
func (b *book) newEpoch() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.newEpochLocked()
}

func (b *book) newEpochLocked() {
	b.epoch++
	b.gen++
}

// checked records the outcome of a check for other writers that began at
// start: the inner store's data version, or the error that prevented
// reading it, after which the book answers no poll from what it knows until
// a check succeeds. errors.ErrUnsupported ends the checks for good. A
// version other than the last one seen starts a new epoch.
func (b *book) checked(start int64, dataVersion int64, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checking = false
	b.checkedAt = start
	b.alone = err == nil
	if errors.Is(err, errors.ErrUnsupported) {
		b.unversioned = true
	}
	if err != nil {
		return
	}
	if !b.versioned || dataVersion != b.dataVersion {
		b.newEpochLocked()
		b.versioned, b.dataVersion = true, dataVersion
	}
}

// intern returns the index of clientID in b.clientIDs, plus one, adding it
// when it is new.
func (b *book) intern(clientID string) uint32 {
	if i, ok := b.clients[clientID]; ok {
		return i
	}
	b.clientIDs = append(b.clientIDs, clientID)
	i := uint32(len(b.clientIDs))
	b.clients[clientID] = i
	return i
}

// poll records a poll at t. When judge is set (the grant is pending and
// unexpired) it reports whether the poll came too soon after the one
// before (store.PollTooSoon), raising the interval by store.SlowDownStep
// if so (RFC 8628 §3.5). The first poll is never too soon.
func (e *entry) poll(t int64, judge bool) (slowDown bool) {
	if judge && e.polled && store.PollTooSoon(time.Duration(t-e.last), time.Duration(e.interval)) {
		slowDown = true
		e.interval += int64(store.SlowDownStep)
		e.raised = true
	}
	e.last, e.polled = t, true
	return slowDown
}

// overlay sets g's interval and last poll to the book's, when it has an
// entry for g.
func (b *book) overlay(g *store.DeviceGrant) {
	k := key(g.DeviceCodeHash)
	b.mu.Lock()
	e, ok := b.entries[k]
	b.mu.Unlock()
	if !ok {
		return
	}
	g.Interval = time.Duration(e.interval)
	g.LastPolledAt = time.Time{}
	if e.polled {
		g.LastPolledAt = timeOf(e.last)
	}
}

// roomLocked reports whether the book may take a new entry. Once the map
// has grown to sweepAt entries it is pruned of those that decide nothing:
// entries of grants expired at the newest time seen, and entries that
// never raised the interval, whose interval has passed since their last
// poll — the next poll is on time with or without them, and without them
// the interval is the row's, the same — and that do not know their grant
// pending. The next sweep waits until the map has doubled, so pruning
// costs O(1) per entry amortised; at the limit it waits for
// limit/refusalsPerSweep refusals.
func (b *book) roomLocked() bool {
	n := len(b.entries)
	if n < b.sweepAt {
		return true
	}
	if n >= b.limit && b.refused < b.limit/refusalsPerSweep {
		b.refused++
		return false
	}
	for k, e := range b.entries {
		idle := !e.raised && b.newest-e.last >= e.interval && e.epoch != b.epoch
		if e.expires <= b.newest || idle {
			delete(b.entries, k)
		}
	}
	b.refused = 0
	b.sweepAt = min(max(2*len(b.entries), minSweep), b.limit)
	return len(b.entries) < b.limit
}

// len returns how many grants the book holds.
func (b *book) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.entries)
}
