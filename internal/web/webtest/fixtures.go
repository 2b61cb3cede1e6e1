package webtest

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
)

// Clock is a settable clock for a Site's Now, so tests never sleep.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// OpenStore opens a SQLite store in a file under t.TempDir(), closed when
// the test ends.
func OpenStore(t testing.TB) *sqlstore.Store {
	t.Helper()
	return OpenStoreAt(t, filepath.Join(t.TempDir(), "grantd.db"))
}

// OpenStoreAt opens the SQLite store at path, closed when the test ends.
func OpenStoreAt(t testing.TB, path string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// CreateUser stores a local account with an argon2id hash of password.
func CreateUser(t testing.TB, users store.Users, u store.User, password string) {
	t.Helper()
	hash, err := secret.HashPassword(rand.Reader, password)
	if err != nil {
		t.Fatal(err)
	}
	u.PasswordHash = hash
	if err := users.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("create user %s: %v", u.Username, err)
	}
}
