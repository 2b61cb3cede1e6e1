package admin

import (
	"bytes"
	"crypto/rand"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
)

// newOperator returns an Operator on a fresh SQLite store whose audit log
// is the returned buffer.
func newOperator(t *testing.T) (*Operator, *bytes.Buffer) {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "g.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var logs bytes.Buffer
	return &Operator{Store: st, Rand: rand.Reader, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Actor: "cli:test"}, &logs
}

// TestCheckClient: a client that can never work is refused with the
// reason; one that fails some requests is created with a warning that
// says which.
func TestCheckClient(t *testing.T) {
	tests := []struct {
		name     string
		spec     ClientSpec
		wantErr  string // part of the error; "" for none
		warnings []string
	}{
		{"device client", ClientSpec{ID: "tv", Scopes: []string{"lights:read"}}, "", nil},
		{"code grant with a redirect URI", ClientSpec{ID: "web", GrantTypes: []string{GrantAuthorizationCode},
			RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"openid"}}, "", nil},
		{"code grant without a redirect URI", ClientSpec{ID: "web", GrantTypes: []string{GrantAuthorizationCode},
			Scopes: []string{"openid"}}, "needs a redirect URI (--redirect-uri)", nil},
		{"refresh_token alone", ClientSpec{ID: "rt", GrantTypes: []string{GrantRefreshToken}, Scopes: []string{"openid"}},
			"refresh_token alone obtains no token", nil},
		{"a resource server", ClientSpec{ID: "rs", GrantTypes: []string{GrantRefreshToken}, Introspect: true,
			Scopes: []string{"openid"}}, "", nil},
		{"no scopes", ClientSpec{ID: "bare"}, "", []string{"fails with invalid_scope"}},
		{"redirect URI without the code grant", ClientSpec{ID: "odd", RedirectURIs: []string{"https://app.example/cb"},
			Scopes: []string{"openid"}}, "", []string{"fail with unauthorized_client"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warnings, err := buildClient(tt.spec)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
			}
			if len(warnings) != len(tt.warnings) {
				t.Fatalf("warnings %q, want %d", warnings, len(tt.warnings))
			}
			for i, w := range tt.warnings {
				if !strings.Contains(warnings[i], w) || !strings.Contains(warnings[i], tt.spec.ID) {
					t.Errorf("warning %q: want it to name the client and say %q", warnings[i], w)
				}
			}
		})
	}
}

// TestErrorsInOperatorsWords: a duplicate or a missing client, user or
// grant is named as the operator named it, never by an internal id, and
// still matches the store's sentinel.
func TestErrorsInOperatorsWords(t *testing.T) {
	o, _ := newOperator(t)
	ctx := t.Context()
	if _, err := o.CreateClient(ctx, ClientSpec{ID: "demo-device", Scopes: []string{"openid"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := o.CreateUser(ctx, UserSpec{Username: "alice", Password: "long enough"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func() error
		want string
		is   error
	}{
		{"duplicate client", func() error {
			_, err := o.CreateClient(ctx, ClientSpec{ID: "demo-device", Scopes: []string{"openid"}})
			return err
		}, `client "demo-device" already exists`, store.ErrAlreadyExists},
		{"duplicate user", func() error {
			_, err := o.CreateUser(ctx, UserSpec{Username: "alice", Password: "long enough"})
			return err
		}, `user "alice" already exists`, store.ErrAlreadyExists},
		{"unknown client", func() error { _, err := ShowClient(ctx, o.Store, "nope"); return err },
			`client "nope" not found`, store.ErrNotFound},
		{"update unknown client", func() error { _, _, err := o.UpdateClient(ctx, "nope", ClientUpdate{}); return err },
			`client "nope" not found`, store.ErrNotFound},
		{"delete unknown client", func() error { return o.DeleteClient(ctx, "nope") }, `client "nope" not found`, store.ErrNotFound},
		{"unknown user", func() error { _, err := o.DeleteUser(ctx, "bob"); return err }, `user "bob" not found`, store.ErrNotFound},
		{"unknown grant", func() error { _, err := o.RevokeGrant(ctx, "g-1"); return err }, `grant "g-1" not found`, store.ErrNotFound},
		{"grants of unknown client", func() error { _, err := ListGrants(ctx, o.Store, now, "", "nope"); return err },
			`client "nope" not found`, store.ErrNotFound},
	}
	for _, tt := range tests {
		err := tt.do()
		if err == nil || err.Error() != tt.want || !errors.Is(err, tt.is) {
			t.Errorf("%s: %v, want %q matching %v", tt.name, err, tt.want, tt.is)
		}
	}
}

// TestUpdateClient: an update changes what it names and keeps the rest,
// and cannot make the client unusable.
func TestUpdateClient(t *testing.T) {
	o, _ := newOperator(t)
	ctx := t.Context()
	created, err := o.CreateClient(ctx, ClientSpec{ID: "web", Name: "Web", GrantTypes: []string{GrantAuthorizationCode},
		RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"openid"}, AuthMethod: "HTTP_BASIC"})
	if err != nil {
		t.Fatal(err)
	}
	name, scopes, yes, none := "Web app", []string{"openid", "lights:read"}, true, []string{}
	c, _, err := o.UpdateClient(ctx, "web", ClientUpdate{Name: &name, Scopes: &scopes, Introspect: &yes, Disabled: &yes})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := ShowClient(ctx, o.Store, "web")
	if err != nil {
		t.Fatal(err)
	}
	want := created.Client
	want.Name, want.Scopes, want.Introspect, want.Disabled = name, scopes, true, true
	for what, got := range map[string]store.Client{"returned": c, "stored": stored} {
		if got.Name != want.Name || strings.Join(got.Scopes, " ") != "openid lights:read" || !got.Introspect || !got.Disabled ||
			got.AuthMethod != "client_secret_basic" || got.SecretHash != want.SecretHash || !got.CreatedAt.Equal(want.CreatedAt) ||
			strings.Join(got.RedirectURIs, " ") != "https://app.example/cb" {
			t.Errorf("%s client after update: %+v, want %+v", what, got, want)
		}
	}
	if _, _, err := o.UpdateClient(ctx, "web", ClientUpdate{RedirectURIs: &none}); err == nil ||
		!strings.Contains(err.Error(), "needs a redirect URI") {
		t.Errorf("removing the only redirect URI of a code client: %v, want it refused", err)
	}
}

// TestListUsersPages: pages of users carry the cursor of the next one.
func TestListUsersPages(t *testing.T) {
	o, _ := newOperator(t)
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		if _, err := o.CreateUser(t.Context(), UserSpec{Username: name, Password: "long enough"}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 2 for 5 users: %v", seen)
		}
		page, err := ListUsers(t.Context(), o.Store, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Users {
			seen = append(seen, u.Username)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if len(seen) != 5 {
		t.Errorf("paged through %v, want all 5 users once", seen)
	}
}

// TestAuditEvents: each change is logged once it is stored, with its
// event, who made it and what it changed; a refused change logs nothing.
func TestAuditEvents(t *testing.T) {
	o, logs := newOperator(t)
	ctx := t.Context()
	u, err := o.CreateUser(ctx, UserSpec{Username: "alice", Password: "long enough"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.CreateClient(ctx, ClientSpec{ID: "tv", Scopes: []string{"openid"}}); err != nil {
		t.Fatal(err)
	}
	o.CreateClient(ctx, ClientSpec{ID: "tv", Scopes: []string{"openid"}}) // refused: a duplicate
	o.DisableUser(ctx, "alice")
	o.DeleteUser(ctx, "alice")
	tests := []struct{ event, want string }{
		{"user.created", "user_id=" + u.ID},
		{"client.created", "client_id=tv"},
		{"user.disabled", "user_id=" + u.ID},
		{"user.deleted", "user_id=" + u.ID},
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != len(tests) {
		t.Fatalf("%d audit lines, want %d:\n%s", len(lines), len(tests), logs)
	}
	for i, tt := range tests {
		if !strings.Contains(lines[i], "event="+tt.event) || !strings.Contains(lines[i], tt.want) ||
			!strings.Contains(lines[i], "actor=cli:test") {
			t.Errorf("audit line %d: %s; want event=%s, %s and the actor", i, lines[i], tt.event, tt.want)
		}
	}
}
