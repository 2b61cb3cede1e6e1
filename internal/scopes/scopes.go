// Package scopes says what each scope means, in words people understand:
// the descriptions operators store with `grantd scope set`, over built-in
// ones for OpenID Connect's standard scopes. The confirm, consent and
// account pages show them, with the scope's name as a small second line;
// the metadata lists the scopes that are not hidden (scopes_supported,
// RFC 8414 §2).
//
// A Catalog holds them in memory, so that neither a page nor the metadata
// reads the store for them; Run reloads them on an interval, and a change
// made by `grantd scope set` reaches a running server within it.
package scopes

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// Builtin returns the descriptions of OpenID Connect's standard scopes
// that grantd serves (OpenID Connect Core §5.4, §11), which apply unless a
// scope of the same name is stored.
func Builtin() []store.Scope {
	return []store.Scope{
		{Name: "email", Description: "See your e-mail address"},
		{Name: "offline_access", Description: "Stay connected when you are not using it"},
		{Name: "openid", Description: "Know which account is yours"},
		{Name: "profile", Description: "See your user name"},
	}
}

// Merge returns the scopes in force: the built-in ones, each replaced by a
// stored scope of the same name, and the other stored ones, by name.
func Merge(stored []store.Scope) []store.Scope {
	all := Builtin()
	for _, s := range stored {
		if i := slices.IndexFunc(all, func(b store.Scope) bool { return b.Name == s.Name }); i >= 0 {
			all[i] = s
		} else {
			all = append(all, s)
		}
	}
	slices.SortFunc(all, func(a, b store.Scope) int { return strings.Compare(a.Name, b.Name) })
	return all
}

// builtinDescription returns name's built-in description, "" if none.
func builtinDescription(name string) string {
	for _, b := range Builtin() {
		if b.Name == name {
			return b.Description
		}
	}
	return ""
}

// IsBuiltin reports whether name has a built-in description.
func IsBuiltin(name string) bool {
	return slices.ContainsFunc(Builtin(), func(s store.Scope) bool { return s.Name == name })
}

// Described is a scope as a page shows it.
type Described struct {
	// Name is the scope token, e.g. "lights:read".
	Name string
	// Description is what it lets a client do, in words; empty when none
	// is known, and the page shows the name alone.
	Description string
	// BuiltIn reports that Description is grantd's own (Builtin), which
	// the pages say in the page's language; an operator's is shown as set.
	BuiltIn bool
}

// Catalog is the scopes in force, in memory. Its zero value knows the
// built-in ones; Load reads the stored ones. It is safe for concurrent use.
type Catalog struct {
	// Store holds the stored scopes. Required for Load and Run.
	Store store.Scopes
	// OnChange, when set, is called by Load with the names of the scopes
	// that are not hidden, sorted, whenever they change (and on the first
	// Load): the metadata's scopes_supported.
	OnChange func(supported []string) error
	// Logger logs failed reloads (Run).
	Logger *slog.Logger

	cur atomic.Pointer[snapshot]
}

// snapshot is one reading of the scopes.
type snapshot struct {
	byName    map[string]string // descriptions
	supported []string
}

func newSnapshot(scopes []store.Scope) *snapshot {
	s := &snapshot{byName: make(map[string]string, len(scopes))}
	for _, sc := range scopes {
		s.byName[sc.Name] = sc.Description
		if !sc.Hidden {
			s.supported = append(s.supported, sc.Name)
		}
	}
	return s
}

// current returns the scopes in force: the built-in ones until the first
// Load, and for a nil Catalog.
func (c *Catalog) current() *snapshot {
	if c != nil {
		if s := c.cur.Load(); s != nil {
			return s
		}
	}
	return newSnapshot(Builtin())
}

// Load reads the stored scopes and makes them current. It reports whether
// the scopes supported changed (always on the first Load), and then calls
// OnChange; an error from OnChange is returned, the new scopes in force.
func (c *Catalog) Load(ctx context.Context) (changed bool, err error) {
	stored, err := c.Store.Scopes(ctx)
	if err != nil {
		return false, fmt.Errorf("load scopes: %w", err)
	}
	next := newSnapshot(Merge(stored))
	prev := c.cur.Swap(next)
	if prev != nil && slices.Equal(prev.supported, next.supported) {
		return false, nil
	}
	if c.OnChange != nil {
		if err := c.OnChange(slices.Clone(next.supported)); err != nil {
			return true, fmt.Errorf("publish scopes: %w", err)
		}
	}
	return true, nil
}

// Run reloads the scopes every interval until ctx ends. A failed reload
// is logged and the scopes in force stay.
func (c *Catalog) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := c.Load(ctx); err != nil && ctx.Err() == nil && c.Logger != nil {
				c.Logger.WarnContext(ctx, "reload scopes", "error", err)
			}
		}
	}
}

// Describe returns names, in their order, each with its description. A nil
// Catalog knows the built-in descriptions.
func (c *Catalog) Describe(names []string) []Described {
	s := c.current()
	out := make([]Described, len(names))
	for i, n := range names {
		d := s.byName[n]
		out[i] = Described{Name: n, Description: d, BuiltIn: d != "" && d == builtinDescription(n)}
	}
	return out
}

// Supported returns the names of the scopes that are not hidden, sorted. A
// nil Catalog knows the built-in ones.
func (c *Catalog) Supported() []string {
	return slices.Clone(c.current().supported)
}
