package scopes_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/scopes"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
)

func openStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "grantd.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestCatalog: before a Load the built-in descriptions apply; a Load lays
// the stored scopes over them, hidden ones left out of Supported, and
// tells OnChange only when Supported changes.
func TestCatalog(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	var published [][]string
	c := &scopes.Catalog{Store: st, OnChange: func(s []string) error { published = append(published, s); return nil }}

	names := []string{"lights:read", "openid", "email"}
	want := []scopes.Described{{"lights:read", "", false}, {"openid", "Know which account is yours", true}, {"email", "See your e-mail address", true}}
	if got := c.Describe(names); !slices.Equal(got, want) {
		t.Errorf("before Load: %v, want %v", got, want)
	}
	if got := (*scopes.Catalog)(nil).Describe(names); !slices.Equal(got, want) {
		t.Errorf("nil catalog: %v, want %v", got, want)
	}

	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, sc := range []store.Scope{
		{Name: "lights:read", Description: "See your lights and their state", UpdatedAt: now},
		{Name: "email", Description: "Read your e-mail address", UpdatedAt: now},
		{Name: "offline_access", Description: "Stay connected", Hidden: true, UpdatedAt: now},
	} {
		if err := st.SetScope(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name        string
		change      func()
		wantChanged bool
		wantDesc    []scopes.Described
		wantSupport []string
	}{
		{"first load", func() {}, true,
			[]scopes.Described{{"lights:read", "See your lights and their state", false}, {"openid", "Know which account is yours", true},
				{"email", "Read your e-mail address", false}},
			[]string{"email", "lights:read", "openid", "profile"}},
		{"a description changes", func() {
			st.SetScope(ctx, store.Scope{Name: "lights:read", Description: "See your lights", UpdatedAt: now})
		}, false,
			[]scopes.Described{{"lights:read", "See your lights", false}, {"openid", "Know which account is yours", true},
				{"email", "Read your e-mail address", false}},
			[]string{"email", "lights:read", "openid", "profile"}},
		{"a scope is hidden, another deleted", func() {
			st.SetScope(ctx, store.Scope{Name: "openid", Description: "Know which account is yours", Hidden: true, UpdatedAt: now})
			st.DeleteScope(ctx, "email")
		}, true,
			[]scopes.Described{{"lights:read", "See your lights", false}, {"openid", "Know which account is yours", true},
				{"email", "See your e-mail address", true}},
			[]string{"email", "lights:read", "profile"}},
	}
	for _, tt := range tests {
		tt.change()
		changed, err := c.Load(ctx)
		if err != nil || changed != tt.wantChanged {
			t.Errorf("%s: Load = %v, %v; want %v, nil", tt.name, changed, err, tt.wantChanged)
		}
		if got := c.Describe(names); !slices.Equal(got, tt.wantDesc) {
			t.Errorf("%s: Describe = %v, want %v", tt.name, got, tt.wantDesc)
		}
		if got := c.Supported(); !slices.Equal(got, tt.wantSupport) {
			t.Errorf("%s: Supported = %v, want %v", tt.name, got, tt.wantSupport)
		}
	}
	if len(published) != 2 || !slices.Equal(published[1], []string{"email", "lights:read", "profile"}) {
		t.Errorf("OnChange got %v, want the first load's and the last", published)
	}
}

// TestCatalogStoreDown: a Load that cannot read the store fails and keeps
// the scopes in force.
func TestCatalogStoreDown(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	st.SetScope(ctx, store.Scope{Name: "lights:read", Description: "See your lights", UpdatedAt: time.Unix(0, 0)})
	c := &scopes.Catalog{Store: st}
	if _, err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := c.Load(ctx); err == nil {
		t.Error("Load from a closed store: no error")
	}
	if got := c.Describe([]string{"lights:read"}); got[0].Description != "See your lights" {
		t.Errorf("after a failed Load: %v, want the scopes in force", got)
	}
}
