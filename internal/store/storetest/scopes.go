package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// testScopes: scopes are stored, listed by name byte by byte, replaced
// whole by a second SetScope of the same name, and deleted once.
func testScopes(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.Scopes(ctx)
	mustOK(t, err, "scopes of an empty store")
	if len(got) != 0 {
		t.Errorf("scopes of an empty store: %+v, want none", got)
	}
	read := store.Scope{Name: "lights:read", Description: "See your lights and their state", UpdatedAt: at(0)}
	write := store.Scope{Name: "lights:write", Description: "Switch your lights — on, off, brighter", Hidden: true,
		UpdatedAt: at(1500 * time.Millisecond)}
	upper := store.Scope{Name: "Zones", Description: "See the rooms of your home", UpdatedAt: at(time.Second)}
	for _, sc := range []store.Scope{write, read, upper} {
		mustOK(t, s.SetScope(ctx, sc), "set scope "+sc.Name)
	}
	got, err = s.Scopes(ctx)
	mustOK(t, err, "scopes")
	wantScopes(t, "scopes, by name", got, []store.Scope{upper, read, write})

	replaced := store.Scope{Name: write.Name, Description: "Switch your lights", UpdatedAt: at(time.Hour)}
	mustOK(t, s.SetScope(ctx, replaced), "replace scope")
	mustOK(t, s.DeleteScope(ctx, upper.Name), "delete scope")
	got, err = s.Scopes(ctx)
	mustOK(t, err, "scopes after replace and delete")
	wantScopes(t, "scopes after replace and delete", got, []store.Scope{read, replaced})

	wantErr(t, s.DeleteScope(ctx, upper.Name), store.ErrNotFound, "delete a deleted scope")
	wantErr(t, s.DeleteScope(ctx, "never-set"), store.ErrNotFound, "delete an unknown scope")
}

// wantScopes compares two lists of scopes in order.
func wantScopes(t *testing.T, what string, got, want []store.Scope) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d scopes %+v, want %d", what, len(got), got, len(want))
		return
	}
	for i := range want {
		wantEqual(t, fmt.Sprintf("%s [%d]", what, i), got[i], want[i])
	}
}
