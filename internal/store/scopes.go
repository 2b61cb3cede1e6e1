package store

import (
	"context"
	"time"
)

// Scope is what a scope means, in words people understand: the
// description the confirm, consent and account pages show in place of the
// scope's name.
type Scope struct {
	// Name is the scope token (RFC 6749 §3.3), e.g. "lights:read".
	Name string
	// Description says what the scope lets a client do, e.g. "See your
	// lights and their state".
	Description string
	// Hidden leaves the scope out of the metadata's scopes_supported (RFC
	// 8414 §2); the pages still describe it.
	Hidden    bool
	UpdatedAt time.Time
}

// Scopes stores the scopes' descriptions.
type Scopes interface {
	// SetScope stores s, replacing any scope of the same name.
	SetScope(ctx context.Context, s Scope) error
	// Scopes returns every stored scope, ordered by name.
	Scopes(ctx context.Context) ([]Scope, error)
	// DeleteScope removes the scope of that name. ErrNotFound if absent.
	DeleteScope(ctx context.Context, name string) error
}
