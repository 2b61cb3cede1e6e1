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

// pollBook is SQLite's soft poll bookkeeping (see doc.go): for each polled
// device grant, the time of its last poll and its current interval, kept in
// memory and never written at a poll. The grant's row holds the values the
// book started from (and those a graceful Close wrote back).
type pollBook struct {
	mu sync.Mutex
	// entries is keyed by the device code hash: its 32 bytes when it is
	// hex SHA-256, as grantd's are, and otherwise the SHA-256 of the
	// string, whose text names keeps. The map holds no pointers, so the
	// garbage collector never scans it.
	entries map[[32]byte]pollEntry
	names   map[[32]byte]string
	// newest is the latest poll time seen (Unix ns); entries of grants
	// expired by then are pruned once the map reaches sweepAt entries.
	newest  int64
	sweepAt int
	limit   int // pollBookLimit, but for tests
}

// pollEntry is one grant's poll bookkeeping, in Unix nanoseconds.
type pollEntry struct {
	last, interval, expires int64
	polled                  bool // last is set
	raised                  bool // interval is above the row's
	dirty                   bool // differs from the grant's row
}

func newPollBook() *pollBook {
	return &pollBook{
		entries: make(map[[32]byte]pollEntry),
		names:   make(map[[32]byte]string),
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
	k, canonical := pollKey(g.DeviceCodeHash)
	t := nanos(now)
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[k]
	if !ok {
		e = pollEntry{interval: int64(g.Interval), expires: nanos(g.ExpiresAt)}
		if !g.LastPolledAt.IsZero() {
			e.last, e.polled = nanos(g.LastPolledAt), true
		}
		b.makeRoom()
		if !canonical {
			b.names[k] = g.DeviceCodeHash
		}
	}
	e.apply(g)
	if e.polled && t-e.last < e.interval {
		slowDown = true
		e.interval += int64(slowDownStep)
		e.raised = true
	}
	e.last, e.polled, e.dirty = t, true, true
	b.entries[k] = e
	b.newest = max(b.newest, t)
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
// interval and whose interval has passed since their last poll — the next
// poll is on time with or without them, and without them the interval is
// the row's, the same. Then, at the limit, arbitrary ones go (map order is
// random): losing an entry is what a crash does to all of them (see
// doc.go). The next sweep waits until the book has doubled, so pruning
// costs O(1) per poll amortised, and the book holds about the grants
// polled within an interval, plus those slowed down.
func (b *pollBook) makeRoom() {
	if len(b.entries) < b.sweepAt {
		return
	}
	for k, e := range b.entries {
		if e.expires <= b.newest || (!e.raised && b.newest-e.last >= e.interval) {
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
