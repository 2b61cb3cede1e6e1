package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/grantd/grantd/internal/seal"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/upstream"
	"github.com/grantd/grantd/internal/web"
)

// DefaultReload is how often a Directory re-reads the upstreams, so that
// `grantd upstream create` and `delete` reach running servers.
const DefaultReload = 10 * time.Second

// Directory is the upstream providers users may sign in with, as the store
// lists them, each with an upstream.Provider whose discovery and keys stay
// cached while its settings do not change. It is safe for concurrent use.
type Directory struct {
	// Store lists the upstreams.
	Store store.Upstreams
	// Sealer opens their client secrets and seals what sign-ins hold. Nil
	// when there is no secret key: upstreams then cannot be used.
	Sealer *seal.Sealer
	// Options are every Provider's (HTTP client, timeout, clock, logger).
	Options upstream.Options
	// Reload is how often the upstreams are re-read (DefaultReload if 0).
	Reload time.Duration
	Now    func() time.Time
	Logger *slog.Logger

	mu       sync.Mutex
	loadedAt time.Time
	entries  []Entry
}

// Entry is one upstream: its stored settings (the secret still sealed) and
// its Provider.
type Entry struct {
	store.Upstream
	Provider *upstream.Provider
}

// Entries returns the usable upstreams, ordered by id: re-read from the
// store when Reload has passed. An upstream whose secret does not open or
// whose settings are invalid is left out, and logged. When the store fails
// the entries last read are returned, unless there are none.
func (d *Directory) Entries(ctx context.Context) ([]Entry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.Now()
	if !d.loadedAt.IsZero() && now.Sub(d.loadedAt) < d.reload() {
		return d.entries, nil
	}
	stored, err := d.Store.Upstreams(ctx)
	if err != nil {
		if d.loadedAt.IsZero() {
			return nil, fmt.Errorf("list upstreams: %w", err)
		}
		d.logger().WarnContext(ctx, "cannot re-read the upstreams; using those read before", "err", err)
		return d.entries, nil
	}
	d.entries, d.loadedAt = d.build(ctx, stored), now
	return d.entries, nil
}

// Lookup returns the usable upstream id, or an error wrapping
// store.ErrNotFound.
func (d *Directory) Lookup(ctx context.Context, id string) (Entry, error) {
	entries, err := d.Entries(ctx)
	if err != nil {
		return Entry{}, err
	}
	for _, e := range entries {
		if e.ID == id {
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("upstream %q: %w", id, store.ErrNotFound)
}

// build makes the entries of stored, keeping the Provider of an upstream
// whose settings have not changed.
func (d *Directory) build(ctx context.Context, stored []store.Upstream) []Entry {
	old := make(map[string]Entry, len(d.entries))
	for _, e := range d.entries {
		old[e.ID] = e
	}
	entries := make([]Entry, 0, len(stored))
	for _, u := range stored {
		if e, ok := old[u.ID]; ok && reflect.DeepEqual(e.Upstream, u) {
			entries = append(entries, e)
			continue
		}
		p, err := d.provider(u)
		if err != nil {
			d.logger().ErrorContext(ctx, "upstream unusable", "upstream", u.ID, "err", err)
			continue
		}
		entries = append(entries, Entry{Upstream: u, Provider: p})
	}
	return entries
}

// provider makes the Provider of u.
func (d *Directory) provider(u store.Upstream) (*upstream.Provider, error) {
	cfg, err := d.Config(u)
	if err != nil {
		return nil, err
	}
	return upstream.New(cfg, d.Options)
}

// Config returns the settings of the stored upstream u, its client secret
// opened.
func (d *Directory) Config(u store.Upstream) (upstream.Config, error) {
	cfg := upstream.Config{ID: u.ID, Name: u.Name, Issuer: u.Issuer, ClientID: u.ClientID, Scopes: u.Scopes,
		UsernameClaim: u.UsernameClaim, ExtraParams: u.ExtraParams, RevocationURL: u.RevocationURL}
	if u.ClientSecret != "" {
		if d.Sealer == nil {
			return upstream.Config{}, errNoKey
		}
		secret, err := d.Sealer.Open(u.ClientSecret, store.SealedAAD(store.SealedUpstreamSecret, u.ID))
		if err != nil {
			return upstream.Config{}, fmt.Errorf("open the client secret: %w", err)
		}
		cfg.ClientSecret = string(secret)
	}
	return cfg, nil
}

func (d *Directory) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (d *Directory) reload() time.Duration {
	if d.Reload > 0 {
		return d.Reload
	}
	return DefaultReload
}

// errNoKey reports a sealed value with no secret key to open it.
var errNoKey = errors.New("no secret key (GRANTD_SECRET_KEY_FILE) to open sealed values with")

// Buttons lists the usable upstreams for the sign-in page.
func (d *Directory) Buttons(ctx context.Context) ([]web.Upstream, error) {
	entries, err := d.Entries(ctx)
	if err != nil {
		return nil, err
	}
	buttons := make([]web.Upstream, len(entries))
	for i, e := range entries {
		buttons[i] = web.Upstream{ID: e.ID, Name: e.Name}
	}
	return buttons, nil
}
