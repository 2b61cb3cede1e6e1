package pollrecord

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

var t0 = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

// grant is device grant n of the tv client, created at t0, with a device
// code hash in grantd's format (hex SHA-256).
func grant(n int) store.DeviceGrant {
	sum := sha256.Sum256(fmt.Appendf(nil, "device-code-%d", n))
	return store.DeviceGrant{
		DeviceCodeHash: hex.EncodeToString(sum[:]), UserCode: fmt.Sprintf("UC%06d", n), ClientID: "tv",
		Scopes: []string{"openid"}, State: store.DevicePending, Interval: 5 * time.Second,
		CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
	}
}

// counting is a store.Store that counts the calls of the device grant
// verbs made to it, and is not a Versioner.
type counting struct {
	store.Store
	mu    sync.Mutex
	calls map[string]int
}

func (c *counting) count(verb string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[verb]++
}

// took returns how many times each verb was called since the last call,
// by verb.
func (c *counting) took() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.calls
	c.calls = map[string]int{}
	return n
}

func (c *counting) DeviceGrantByDeviceCode(ctx context.Context, hash string) (store.DeviceGrant, error) {
	c.count("read")
	return c.Store.DeviceGrantByDeviceCode(ctx, hash)
}

func (c *counting) PollDeviceGrant(ctx context.Context, hash, clientID string, now time.Time) (store.PollResult, error) {
	c.count("poll")
	return c.Store.PollDeviceGrant(ctx, hash, clientID, now)
}

// The inner store's writes to device grants, counted together.
func (c *counting) DecideDeviceGrant(ctx context.Context, userCode string, d store.Decision, now time.Time) (store.DeviceGrant, error) {
	c.count("write")
	return c.Store.DecideDeviceGrant(ctx, userCode, d, now)
}

func (c *counting) RedeemDeviceGrant(ctx context.Context, hash, clientID string, now time.Time, issue store.IssueFunc[store.DeviceGrant]) (store.DeviceGrant, error) {
	c.count("write")
	return c.Store.RedeemDeviceGrant(ctx, hash, clientID, now, issue)
}

// versioned is counting with a Versioner whose answers the test decides.
type versioned struct {
	*counting
	version func() (int64, error)
}

func (v versioned) DataVersion(ctx context.Context) (int64, error) {
	v.count("check")
	return v.version()
}

// fixed is a data version that never changes: no other writer.
func fixed() (int64, error) { return 7, nil }

// wrapped returns a counting store over a fresh SQLite file.
func wrapped(t *testing.T) *counting {
	t.Helper()
	return &counting{Store: openSQLite(t, filepath.Join(t.TempDir(), "grantd.db")), calls: map[string]int{}}
}

// newCounted returns a record over a fresh SQLite file, counted, that
// checks for other writers with version, or is not a Versioner when
// version is nil.
func newCounted(t *testing.T, version func() (int64, error)) (*Store, *counting) {
	t.Helper()
	c := wrapped(t)
	if version == nil {
		return New(c), c
	}
	return New(versioned{c, version}), c
}

// mustCreate stores g through s.
func mustCreate(t *testing.T, s store.Store, g store.DeviceGrant) {
	t.Helper()
	if err := s.CreateDeviceGrant(t.Context(), g); err != nil {
		t.Fatalf("create %s: %v", g.UserCode, err)
	}
}

// mustPoll polls g at now by clientID through s.
func mustPoll(t *testing.T, s store.Store, g store.DeviceGrant, clientID string, now time.Time) store.PollResult {
	t.Helper()
	p, err := s.PollDeviceGrant(t.Context(), g.DeviceCodeHash, clientID, now)
	if err != nil {
		t.Fatalf("poll %s at %v: %v", g.UserCode, now, err)
	}
	return p
}
