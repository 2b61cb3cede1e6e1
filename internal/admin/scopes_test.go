package admin

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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

// TestSetScope: a scope is one scope token with a description of words;
// anything else is refused with a reason, and nothing is stored.
func TestSetScope(t *testing.T) {
	st := openStore(t)
	tests := []struct {
		spec ScopeSpec
		want string // "" accepted, else a part of the error
	}{
		{ScopeSpec{Name: "lights:read", Description: "  See your lights and their state  "}, ""},
		{ScopeSpec{Name: "lights:write", Description: "Switch your lights", Hidden: true}, ""},
		{ScopeSpec{Name: "openid", Description: "Sign you in"}, ""},
		{ScopeSpec{Name: "two words", Description: "x"}, "one scope token"},
		{ScopeSpec{Name: "", Description: "x"}, "one scope token"},
		{ScopeSpec{Name: `quote"d`, Description: "x"}, "one scope token"},
		{ScopeSpec{Name: strings.Repeat("s", MaxScopeName+1), Description: "x"}, "one scope token"},
		{ScopeSpec{Name: "empty", Description: "   "}, "description is required"},
		{ScopeSpec{Name: "control", Description: "line\nbreak"}, "control characters"},
		{ScopeSpec{Name: "long", Description: strings.Repeat("é", MaxScopeDescription+1)}, "more than"},
	}
	for _, tt := range tests {
		sc, err := SetScope(context.Background(), st, now, tt.spec)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v refused: %v", tt.spec, err)
		case tt.want == "" && sc.Description != strings.TrimSpace(tt.spec.Description):
			t.Errorf("%+v: description %q, want it trimmed", tt.spec, sc.Description)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%+v: %v; want an error about %q", tt.spec, err, tt.want)
		}
	}
	listed, err := ListScopes(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range listed {
		got = append(got, fmt.Sprintf("%s %v %v", s.Name, s.Hidden, s.Builtin))
	}
	want := []string{"email false true", "lights:read false false", "lights:write true false",
		"offline_access false true", "openid false false", "profile false true"}
	if !slices.Equal(got, want) {
		t.Errorf("scopes in force:\n%q\nwant\n%q", got, want)
	}
	for name, wantErr := range map[string]string{"lights:read": "", "lights:read ": "not set", "email": "built in"} {
		err := DeleteScope(context.Background(), st, name)
		if (wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("delete %q: %v, want %q", name, err, wantErr)
		}
	}
}
