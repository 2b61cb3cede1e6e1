package sqlstore

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// TestWriterContention is docs/SECURITY.md REL-08: 200 concurrent writers split
// over two Stores on one file (two pools, as two processes would have) must
// all succeed. Writers of one Store join its group commit; the two Stores
// meet at SQLite's lock, where busy_timeout and BEGIN IMMEDIATE make them
// wait instead of failing with "database is locked". Attempts on one budget,
// a read and a write in one statement, and polls of one code, a read and a
// write in one transaction, check that no update is lost across the two
// pools.
func TestWriterContention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grantd.db")
	testWriterContention(t, []*Store{openTemp(t, path), openTemp(t, path)})
}

// testWriterContention runs 200 writers spread over stores that share one
// database, as instances would.
func testWriterContention(t *testing.T, stores []*Store) {
	ctx := t.Context()
	polled := grant(-1)
	if err := stores[0].CreateDeviceGrant(ctx, polled); err != nil {
		t.Fatal(err)
	}
	const (
		writers = 200
		budget  = 25
	)
	errs := make([]error, writers)
	slow := make([]bool, writers)
	allowed := make([]bool, writers)
	isPoll := func(i int) bool { return i%5 == 3 }
	isAttempt := func(i int) bool { return i%5 == 4 }
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			s := stores[i%len(stores)]
			switch {
			case isPoll(i):
				var p store.PollResult
				p, errs[i] = s.PollDeviceGrant(ctx, polled.DeviceCodeHash, polled.ClientID, t0.Add(time.Minute))
				slow[i] = p.SlowDown
			case isAttempt(i):
				allowed[i], _, errs[i] = s.TakeAttempt(ctx, "global", budget, time.Minute, t0)
			case i%5 == 0:
				errs[i] = s.CreateDeviceGrant(ctx, grant(i))
			case i%5 == 1:
				errs[i] = s.CreateRefreshToken(ctx, store.RefreshToken{
					Hash: fmt.Sprintf("rt-%d", i), GrantID: fmt.Sprintf("g-%d", i), ClientID: "tv", UserID: "u",
					CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), FamilyExpiresAt: t0.Add(time.Hour),
				})
			default:
				_, errs[i] = s.PurgeExpired(ctx, t0)
			}
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
			if strings.Contains(err.Error(), "locked") {
				t.Fatal("database is locked reached a caller")
			}
		}
	}
	if passed := countTrue(allowed); passed != budget {
		t.Errorf("%d attempts passed a budget of %d (a lost update)", passed, budget)
	}

	polls, onTime := 0, 0
	for i := range writers {
		if isPoll(i) {
			polls++
			if !slow[i] {
				onTime++
			}
		}
	}
	g, err := stores[len(stores)-1].DeviceGrantByDeviceCode(ctx, polled.DeviceCodeHash)
	if err != nil {
		t.Fatal(err)
	}
	if want := polled.Interval + time.Duration(polls-1)*5*time.Second; onTime != 1 || g.Interval != want {
		t.Errorf("%d of %d polls on time, interval %v; want 1 and %v (a lost update)", onTime, polls, g.Interval, want)
	}
	for i := 0; i < writers; i += 5 {
		if _, err := stores[1].DeviceGrantByDeviceCode(ctx, grant(i).DeviceCodeHash); err != nil {
			t.Errorf("grant %d, written through either store: %v", i, err)
		}
	}
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
