package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/scopes"
	"github.com/grantd/grantd/internal/store"
)

// Bounds of a scope's name and description.
const (
	MaxScopeName        = 128
	MaxScopeDescription = 200
)

// ScopeSpec describes a scope to set.
type ScopeSpec struct {
	Name        string
	Description string
	Hidden      bool
}

// SetScope validates spec and stores the scope, replacing any of that
// name. Running servers show it within their reload interval.
func SetScope(ctx context.Context, st store.Scopes, now time.Time, spec ScopeSpec) (store.Scope, error) {
	toks, perr := oauth.ParseScope(spec.Name)
	if perr != nil || len(toks) != 1 || toks[0] != spec.Name || len(spec.Name) > MaxScopeName {
		return store.Scope{}, fmt.Errorf("scope %q: a name is one scope token of up to %d printable ASCII characters, "+
			"without spaces, quotes or backslashes", spec.Name, MaxScopeName)
	}
	desc := strings.TrimSpace(spec.Description)
	switch {
	case desc == "":
		return store.Scope{}, fmt.Errorf("scope %q: a description is required", spec.Name)
	case !utf8.ValidString(desc) || strings.ContainsFunc(desc, unicode.IsControl):
		return store.Scope{}, fmt.Errorf("scope %q: the description must be text without control characters", spec.Name)
	case utf8.RuneCountInString(desc) > MaxScopeDescription:
		return store.Scope{}, fmt.Errorf("scope %q: the description has more than %d characters", spec.Name, MaxScopeDescription)
	}
	sc := store.Scope{Name: spec.Name, Description: desc, Hidden: spec.Hidden, UpdatedAt: now}
	if err := st.SetScope(ctx, sc); err != nil {
		return store.Scope{}, fmt.Errorf("set scope %q: %w", spec.Name, err)
	}
	return sc, nil
}

// DeleteScope removes a stored scope. A built-in scope's description
// reverts to the built-in one.
func DeleteScope(ctx context.Context, st store.Scopes, name string) error {
	err := st.DeleteScope(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound) && scopes.IsBuiltin(name):
		return fmt.Errorf("scope %q: not set; its description is built in", name)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("scope %q: not set", name)
	case err != nil:
		return fmt.Errorf("delete scope %q: %w", name, err)
	}
	return nil
}

// ListedScope is a scope in force, as `grantd scope list` shows it.
type ListedScope struct {
	store.Scope
	// Builtin reports a built-in description that no stored one replaces.
	Builtin bool
}

// ListScopes returns the scopes in force, by name: the stored ones and the
// built-in ones that no stored one replaces.
func ListScopes(ctx context.Context, st store.Scopes) ([]ListedScope, error) {
	stored, err := st.Scopes(ctx)
	if err != nil {
		return nil, fmt.Errorf("list scopes: %w", err)
	}
	isStored := make(map[string]bool, len(stored))
	for _, s := range stored {
		isStored[s.Name] = true
	}
	var out []ListedScope
	for _, s := range scopes.Merge(stored) {
		out = append(out, ListedScope{Scope: s, Builtin: !isStored[s.Name]})
	}
	return out, nil
}
