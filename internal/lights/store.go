// Package lights is the Lights Incorporated device cloud, lightsd: a
// resource server that keeps users' smart bulbs in its own SQLite file,
// serves the REST API of package lightsapi to holders of grantd access
// tokens, and tells registered webhooks when a bulb changes.
//
// Ownership is the token's sub: every read and write names the owner, so a
// token for one user never reaches another user's bulb (AZ-27).
//
// A state change and the webhook deliveries it causes are written in one
// transaction (a transactional outbox): the Dispatcher sends what is due,
// retries failures with exponential backoff, and finds deliveries that
// another process wrote (`lightsd set`) by polling.
package lights

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/grantd/grantd/internal/lightsapi"
)

// ErrNotFound reports an unknown bulb or webhook, or one of another owner.
var ErrNotFound = errors.New("not found")

// Store keeps bulbs, webhooks and pending deliveries in a SQLite file.
type Store struct {
	db   *sql.DB
	rand io.Reader
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS bulbs (
		id         TEXT PRIMARY KEY,
		owner      TEXT NOT NULL,
		name       TEXT NOT NULL,
		is_on      BOOLEAN NOT NULL,
		brightness INTEGER NOT NULL CHECK (brightness BETWEEN 0 AND 100),
		updated_at INTEGER NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS bulbs_owner ON bulbs (owner)`,
	`CREATE TABLE IF NOT EXISTS webhooks (
		id         TEXT PRIMARY KEY,
		owner      TEXT NOT NULL,
		url        TEXT NOT NULL,
		secret     TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		UNIQUE (owner, url)
	)`,
	`CREATE TABLE IF NOT EXISTS deliveries (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		webhook_id TEXT NOT NULL,
		body       BLOB NOT NULL,
		attempts   INTEGER NOT NULL DEFAULT 0,
		next_at    INTEGER NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS deliveries_next_at ON deliveries (next_at)`,
}

// Open opens (creating when needed) the store at path. Several processes
// may open one file: writes wait for each other (busy timeout).
func Open(ctx context.Context, path string) (*Store, error) {
	// Write transactions begin IMMEDIATE: a deferred one that reads first
	// would fail at once (SQLITE_BUSY, no waiting) when another process
	// wrote in between, as `lightsd set` does beside `lightsd serve`.
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer; SQLite serialises writes anyway
	for _, stmt := range schema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("create schema in %s: %w", path, err)
		}
	}
	return &Store{db: db, rand: rand.Reader}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns prefix followed by 80 random bits.
func (s *Store) newID(prefix string) (string, error) {
	b := make([]byte, 10)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return prefix + idEncoding.EncodeToString(b), nil
}

// bulbNames name seeded bulbs, in turn.
var bulbNames = []string{"Kitchen", "Living room", "Bedroom", "Hall", "Porch", "Study", "Bathroom", "Garage"}

// Seed gives owner n new bulbs, off at full brightness, and returns them.
func (s *Store) Seed(ctx context.Context, owner string, n int, now time.Time) ([]lightsapi.Bulb, error) {
	if owner == "" || n < 1 || n > 100 {
		return nil, fmt.Errorf("seed %q: want an owner and 1-100 bulbs, got %d", owner, n)
	}
	var out []lightsapi.Bulb
	for i := range n {
		id, err := s.newID("bulb-")
		if err != nil {
			return nil, err
		}
		b := lightsapi.Bulb{ID: id, Name: bulbNames[i%len(bulbNames)], Brightness: 100, UpdatedAt: now.UTC()}
		_, err = s.db.ExecContext(ctx, `INSERT INTO bulbs (id, owner, name, is_on, brightness, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, b.ID, owner, b.Name, b.On, b.Brightness, now.UnixNano())
		if err != nil {
			return nil, fmt.Errorf("seed bulb for %q: %w", owner, err)
		}
		out = append(out, b)
	}
	return out, nil
}

const bulbColumns = `id, owner, name, is_on, brightness, updated_at`

type rowScanner interface{ Scan(...any) error }

func scanBulb(r rowScanner) (lightsapi.Bulb, string, error) {
	var (
		b       lightsapi.Bulb
		owner   string
		updated int64
	)
	if err := r.Scan(&b.ID, &owner, &b.Name, &b.On, &b.Brightness, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return lightsapi.Bulb{}, "", ErrNotFound
		}
		return lightsapi.Bulb{}, "", err
	}
	b.UpdatedAt = time.Unix(0, updated).UTC()
	return b, owner, nil
}

// Bulbs returns owner's bulbs by name.
func (s *Store) Bulbs(ctx context.Context, owner string) ([]lightsapi.Bulb, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+bulbColumns+` FROM bulbs WHERE owner = ? ORDER BY name, id`, owner)
	if err != nil {
		return nil, fmt.Errorf("list bulbs of %q: %w", owner, err)
	}
	defer rows.Close()
	out := []lightsapi.Bulb{}
	for rows.Next() {
		b, _, err := scanBulb(rows)
		if err != nil {
			return nil, fmt.Errorf("list bulbs of %q: %w", owner, err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// Bulb returns owner's bulb id, or ErrNotFound, also when the bulb is
// another owner's.
func (s *Store) Bulb(ctx context.Context, owner, id string) (lightsapi.Bulb, error) {
	b, _, err := scanBulb(s.db.QueryRowContext(ctx, `SELECT `+bulbColumns+` FROM bulbs WHERE id = ? AND owner = ?`, id, owner))
	if err != nil {
		return lightsapi.Bulb{}, fmt.Errorf("load bulb %q: %w", id, err)
	}
	return b, nil
}

// validID reports whether s could be an id this store made: it keeps ids
// from the path out of logs and queries when they cannot match.
func validID(s string) bool {
	return len(s) <= 64 && s != "" && !strings.ContainsAny(s, "/ \t\r\n")
}
