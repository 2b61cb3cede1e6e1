package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// Poll book bounds. An entry costs some 150 bytes of heap, so the limit
// holds the book under about 160 MB however many grants are polled; below
// it, entries go only when they no longer decide anything (see makeRoom).
const (
	pollBookLimit    = 1 << 20
	pollBookMinSweep = 4096
	// pollFlushChunk is how many entries one transaction writes back when
	// the Store closes.
	pollFlushChunk = 1000
)

// otherWritersCheck is how often, at most, the book makes sure that no
// other process has written to the database (see checkOtherWriters) while
// it answers polls of pending grants without reading their rows: a decision
// made by another process serving the same file, as in a rolling restart,
// reaches this process's polls within it.
const otherWritersCheck = time.Second

// pollBook is SQLite's soft poll bookkeeping (see doc.go): for each polled
// device grant, the time of its last poll and its current interval, kept in
// memory and never written at a poll. The grant's row holds the values the
// book started from (and those a graceful Close wrote back).
//
// The book also knows which grants are pending, with their client and
// expiry, so that a poll of a pending code — the answer most polls get — is
// answered without reading the row (pollPending). It learns it from the
// grants this process creates and from the rows polls read, and forgets it
// when this process decides a grant (decided) or another process may have
// (checked). A grant's state is read from its row in every other case.
type pollBook struct {
	mu sync.Mutex
	// entries is keyed by the device code hash: its 32 bytes when it is
	// hex SHA-256, as grantd's are, and otherwise the SHA-256 of the
	// string, whose text names keeps. The map holds no pointers, so the
	// garbage collector never scans it.
	entries map[[32]byte]pollEntry
	names   map[[32]byte]string
	// clients interns the client ids of the grants in entries: an entry
	// holds its client's index in clientIDs, plus one, and so no pointer.
	// They are ids of registered clients, so the table stays small.
	clients   map[string]uint32
	clientIDs []string
	// An entry whose epoch is the book's knows its grant pending. The book
	// starts a new epoch, forgetting every grant's state, when another
	// process may have written. gen counts new epochs and this process's
	// decisions: a grant read pending is known pending only if gen did not
	// move while it was read, since the decision may be of that very grant,
	// and only once a first check has succeeded (versioned).
	epoch uint32
	gen   uint64
	// checkedAt is when the last check for other writers began (Unix ns),
	// and alone tells whether it succeeded: the book knows no grant pending
	// unless a check has succeeded within otherWritersCheck. dataVersion is
	// what the last successful check found (versioned: there was one).
	checkedAt   int64
	checking    bool
	alone       bool
	versioned   bool
	dataVersion int64
	// newest is the latest poll or creation time seen (Unix ns); entries
	// of grants expired by then are pruned once the map reaches sweepAt
	// entries.
	newest  int64
	sweepAt int
	limit   int // pollBookLimit, but for tests
}

// pollEntry is one grant's poll bookkeeping, in Unix nanoseconds.
type pollEntry struct {
	last, interval, expires int64
	epoch                   uint32 // the book's epoch while the grant is known pending, else 0
	client                  uint32 // index in clientIDs, plus one
	polled                  bool   // last is set
	raised                  bool   // interval is above the row's
	dirty                   bool   // differs from the grant's row
}

func newPollBook() *pollBook {
	return &pollBook{
		entries: make(map[[32]byte]pollEntry),
		names:   make(map[[32]byte]string),
		clients: make(map[string]uint32),
		epoch:   1,
		sweepAt: pollBookMinSweep,
		limit:   pollBookLimit,
	}
}

// pollKey returns the book's key for a device code hash.
func pollKey(hash string) (k [32]byte, canonical bool) {
	if len(hash) == 2*len(k) && isLowerHex(hash) {
		if _, err := hex.Decode(k[:], []byte(hash)); err == nil {
			return k, true
		}
	}
	return sha256.Sum256([]byte(hash)), false
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// record records a poll of g at now. g is the grant as its row stands; it
// is changed to the grant as it was before this poll: the book's interval
// and last poll when it has an entry for g. record reports whether the poll
// came sooner than the interval after the one before, in which case the
// interval grows by slowDownStep (RFC 8628 §3.5). Polls of one grant are
// serialised by the book's lock, so of concurrent polls at one instant at
// most one is on time, and each slow one sees the raise of the one before.
func (b *pollBook) record(g *store.DeviceGrant, now time.Time) (slowDown bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.recordLocked(g, now, false)
}

// recordRead is record for a grant whose row was read when the book's
// generation was seen (see generation). If the grant was pending and the
// generation has not moved since, the book knows it pending from then on.
func (b *pollBook) recordRead(g *store.DeviceGrant, now time.Time, seen uint64) (slowDown bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.recordLocked(g, now, g.State == store.DevicePending && seen == b.gen && b.versioned)
}

func (b *pollBook) recordLocked(g *store.DeviceGrant, now time.Time, pending bool) (slowDown bool) {
	k, canonical := pollKey(g.DeviceCodeHash)
	t := nanos(now)
	e, ok := b.entries[k]
	if !ok {
		e = pollEntry{interval: int64(g.Interval)}
		if !g.LastPolledAt.IsZero() {
			e.last, e.polled = nanos(g.LastPolledAt), true
		}
		b.add(k, canonical, g.DeviceCodeHash)
	}
	e.expires, e.client, e.epoch = nanos(g.ExpiresAt), b.intern(g.ClientID), 0
	if pending {
		e.epoch = b.epoch
	}
	e.apply(g)
	slowDown = e.poll(t, g.State == store.DevicePending && t < e.expires)
	b.entries[k] = e
	b.newest = max(b.newest, t)
	return slowDown
}

// created enters g, a grant this process has just created pending and
// never polled, as known pending, unless the generation has moved since
// seen (before g was stored) or the book already has an entry for it.
func (b *pollBook) created(g store.DeviceGrant, seen uint64) {
	k, canonical := pollKey(g.DeviceCodeHash)
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.entries[k]; ok || seen != b.gen || !b.versioned {
		return
	}
	b.add(k, canonical, g.DeviceCodeHash)
	b.entries[k] = pollEntry{interval: int64(g.Interval), expires: nanos(g.ExpiresAt),
		epoch: b.epoch, client: b.intern(g.ClientID)}
	b.newest = max(b.newest, nanos(g.CreatedAt))
}

// add makes room for a new entry under key k, of the given hash.
func (b *pollBook) add(k [32]byte, canonical bool, hash string) {
	b.makeRoom()
	if !canonical {
		b.names[k] = hash
	}
}

// pollPending answers a poll at now by clientID of a grant the book knows
// to be pending, without its row; known reports whether it could. It
// cannot when it has no entry for the hash or does not know the grant
// pending, when the grant has expired at now (the row decides the answer:
// expired, or unknown once purged), or when the last check for other
// writers is older than otherWritersCheck; then check tells one caller at a
// time to run the check (Store.checkOtherWriters). The poll is recorded as
// record does when clientID owns the grant, and not otherwise (DEV-16).
func (b *pollBook) pollPending(deviceCodeHash, clientID string, now time.Time) (p store.PollResult, known, check bool) {
	k, _ := pollKey(deviceCodeHash)
	t := nanos(now)
	b.mu.Lock()
	defer b.mu.Unlock()
	if t-b.checkedAt >= int64(otherWritersCheck) {
		return store.PollResult{}, false, b.checkDueLocked(t)
	}
	e, ok := b.entries[k]
	if !ok || !b.alone || e.epoch != b.epoch || t >= e.expires {
		return store.PollResult{}, false, false
	}
	p = store.PollResult{ClientID: b.clientIDs[e.client-1], State: store.DevicePending, ExpiresAt: time.Unix(0, e.expires).UTC()}
	if p.ClientID != clientID {
		return p, true, false
	}
	p.SlowDown = e.poll(t, true)
	p.Interval = time.Duration(e.interval)
	b.entries[k] = e
	b.newest = max(b.newest, t)
	return p, true, false
}

// checkDue reports whether the caller is to run a check for other writers
// now: none has run for otherWritersCheck, and no other caller is running
// one.
func (b *pollBook) checkDue(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.checkDueLocked(nanos(now))
}

func (b *pollBook) checkDueLocked(t int64) bool {
	if b.checking || t-b.checkedAt < int64(otherWritersCheck) {
		return false
	}
	b.checking = true
	return true
}

// generation returns the book's generation, to hand to recordRead or
// created after reading or storing a grant.
func (b *pollBook) generation() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gen
}

// decided tells the book that this process has just decided the grant with
// the given hash, which is therefore no longer pending. It moves the
// generation, so that a poll that read the row before the decision does not
// make the book know the grant pending afterwards (see recordRead).
func (b *pollBook) decided(deviceCodeHash string) {
	k, _ := pollKey(deviceCodeHash)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	if e, ok := b.entries[k]; ok {
		e.epoch = 0
		b.entries[k] = e
	}
}

// checked records the outcome of a check for other writers that began at
// start: the database's data version, or the error that prevented reading
// it, after which the book knows no grant pending until a check succeeds
// (the next is due otherWritersCheck later). A version other than the last
// one seen starts a new epoch.
func (b *pollBook) checked(start time.Time, dataVersion int64, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checking = false
	b.checkedAt = max(b.checkedAt, nanos(start))
	b.alone = err == nil
	if err != nil {
		return
	}
	if !b.versioned || dataVersion != b.dataVersion {
		b.epoch++
		b.gen++
		b.versioned, b.dataVersion = true, dataVersion
	}
}

// intern returns the index of clientID in b.clientIDs, plus one, adding it
// when it is new.
func (b *pollBook) intern(clientID string) uint32 {
	if i, ok := b.clients[clientID]; ok {
		return i
	}
	b.clientIDs = append(b.clientIDs, clientID)
	i := uint32(len(b.clientIDs))
	b.clients[clientID] = i
	return i
}

// poll records a poll at t (Unix ns). When judge is set (the grant is
// pending and unexpired) it reports whether the poll came too soon after
// the one before (store.PollTooSoon), raising the interval by slowDownStep
// if so (RFC 8628 §3.5).
func (e *pollEntry) poll(t int64, judge bool) (slowDown bool) {
	if judge && e.polled && store.PollTooSoon(time.Duration(t-e.last), time.Duration(e.interval)) {
		slowDown = true
		e.interval += int64(slowDownStep)
		e.raised = true
	}
	e.last, e.polled, e.dirty = t, true, true
	return slowDown
}

// apply sets g's interval and last poll to the entry's.
func (e pollEntry) apply(g *store.DeviceGrant) {
	g.Interval = time.Duration(e.interval)
	g.LastPolledAt = time.Time{}
	if e.polled {
		g.LastPolledAt = time.Unix(0, e.last).UTC()
	}
}

// overlay sets g's interval and last poll to the book's, when it has an
// entry for g.
func (b *pollBook) overlay(g *store.DeviceGrant) {
	k, _ := pollKey(g.DeviceCodeHash)
	b.mu.Lock()
	e, ok := b.entries[k]
	b.mu.Unlock()
	if ok {
		e.apply(g)
	}
}

// makeRoom prunes the book before an entry is added, when it has grown to
// sweepAt entries. First go the entries that decide nothing: those of
// grants expired at the newest poll, and those that never raised the
// interval, whose interval has passed since their last poll — the next
// poll is on time with or without them, and without them the interval is
// the row's, the same — and that no longer know their grant pending (the
// next poll reads the row either way). Then, at the limit, arbitrary ones
// go (map order is random): losing an entry is what a crash does to all of
// them (see doc.go). The next sweep waits until the book has doubled, so
// pruning costs O(1) per poll amortised, and the book holds about the
// grants known pending, plus those polled within an interval or slowed
// down.
func (b *pollBook) makeRoom() {
	if len(b.entries) < b.sweepAt {
		return
	}
	for k, e := range b.entries {
		idle := !e.raised && b.newest-e.last >= e.interval && e.epoch != b.epoch
		if e.expires <= b.newest || idle {
			b.remove(k)
		}
	}
	for k := range b.entries {
		if len(b.entries) < b.limit*7/8 {
			break
		}
		b.remove(k)
	}
	b.sweepAt = min(max(2*len(b.entries), pollBookMinSweep), b.limit)
}

func (b *pollBook) remove(k [32]byte) {
	delete(b.entries, k)
	delete(b.names, k)
}

// len returns how many grants the book holds.
func (b *pollBook) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.entries)
}

// polledGrant is a dirty entry to write back.
type polledGrant struct {
	hash           string
	last, interval int64
}

// dirty returns the entries that differ from their rows, except those of
// grants expired at the newest poll, and marks them clean.
func (b *pollBook) dirty() []polledGrant {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []polledGrant
	for k, e := range b.entries {
		if !e.dirty || e.expires <= b.newest {
			continue
		}
		name, ok := b.names[k]
		if !ok {
			name = hex.EncodeToString(k[:])
		}
		out = append(out, polledGrant{hash: name, last: e.last, interval: e.interval})
		e.dirty = false
		b.entries[k] = e
	}
	return out
}

// updateDevicePoll writes a grant's poll bookkeeping.
const updateDevicePoll = `UPDATE device_grants SET poll_interval_ns = $1, last_polled_at = $2
	WHERE device_code_hash = $3`

// flushPolls writes the book back to the grants' rows, pollFlushChunk
// grants per transaction, so that a graceful restart keeps every device's
// interval and last poll. It is best effort: what it cannot write is lost as
// in a crash.
func (s *Store) flushPolls(ctx context.Context) error {
	polled := s.polls.dirty()
	for len(polled) > 0 {
		chunk := polled[:min(len(polled), pollFlushChunk)]
		polled = polled[len(chunk):]
		err := s.inTx(ctx, fmt.Sprintf("write back %d device polls", len(chunk)), func(ctx context.Context, tx *sql.Tx) error {
			update := tx.StmtContext(ctx, s.st.recordPoll)
			for _, p := range chunk {
				if _, err := update.ExecContext(ctx, p.interval, p.last, p.hash); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
