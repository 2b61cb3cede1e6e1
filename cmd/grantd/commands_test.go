package main_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// backends are the stores every command is tested against.
var backends = []struct {
	name     string
	database func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "g.db") }},
	{"postgres", postgresSchema},
}

// forEachBackend runs test on a fresh database of every backend.
func forEachBackend(t *testing.T, test func(t *testing.T, db string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.database(t)) })
	}
}

// ok runs grantd on db, fails the test unless it exits 0, and decodes what
// it printed into a T.
func ok[T any](t *testing.T, db, stdin string, args ...string) T {
	t.Helper()
	out, stderr, code := grantd(t, db, stdin, args...)
	if code != 0 {
		t.Fatalf("grantd %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("grantd %s printed %q: %v", strings.Join(args, " "), out, err)
	}
	return v
}

// fails runs grantd on db and fails the test unless it exits with code and
// says want on standard error.
func fails(t *testing.T, db string, code int, want string, args ...string) {
	t.Helper()
	_, stderr, got := grantd(t, db, "", args...)
	if got != code || !strings.Contains(stderr, want) {
		t.Errorf("grantd %s: exit %d, %q; want exit %d saying %q", strings.Join(args, " "), got, stderr, code, want)
	}
}

type object = map[string]any

// TestClientCommands runs every client sub-command and flag on each
// backend: create, list (JSON and table), show, update of each setting,
// disable and enable, rotate-secret with and without --secret and --grace,
// delete.
func TestClientCommands(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db string) {
		ok[object](t, db, "", "client", "create", "--id", "tv", "--name", "TV", "--scope", "openid")
		ok[object](t, db, "", "client", "create", "--id", "web", "--secret", "web-secret-0123456789",
			"--grant-type", "authorization_code", "--redirect-uri", "https://web.example/cb", "--scope", "openid",
			"--auth-method", "HTTP_BASIC")
		ok[object](t, db, "", "client", "create", "--id", "bulb", "--public", "--scope", "lights:read")

		list := ok[struct{ Clients []object }](t, db, "", "client", "list")
		var ids []string
		for _, c := range list.Clients {
			ids = append(ids, c["client_id"].(string))
		}
		if !slices.Equal(ids, []string{"bulb", "tv", "web"}) {
			t.Errorf("client list: %v, want bulb, tv, web", ids)
		}
		table, _, _ := grantd(t, db, "", "client", "list", "--output", "table")
		if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[0], "CLIENT_ID") ||
			!strings.HasPrefix(lines[2], "tv ") {
			t.Errorf("client list --output table:\n%s\nwant a header and three rows", table)
		}
		web := ok[object](t, db, "", "client", "show", "web")
		if web["token_endpoint_auth_method"] != "client_secret_basic" || web["client_secret"] != nil ||
			web["disabled"] != false || web["created_at"] == "" {
			t.Errorf("client show web: %v", web)
		}
		testClientUpdate(t, db)
		testClientDisable(t, db)
		testRotateSecret(t, db)

		if got := ok[object](t, db, "", "client", "delete", "web"); got["client_id"] != "web" || got["deleted"] != true {
			t.Errorf("client delete: %v", got)
		}
		fails(t, db, 1, `client "web" not found`, "client", "show", "web")
		if list := ok[struct{ Clients []object }](t, db, "", "client", "list"); len(list.Clients) != 2 {
			t.Errorf("client list after delete: %v", list)
		}
	})
}

// testClientUpdate changes each setting of tv in turn: each update changes
// what it names and keeps every other setting.
func testClientUpdate(t *testing.T, db string) {
	const device = "urn:ietf:params:oauth:grant-type:device_code"
	steps := []struct {
		args    []string
		changes object // the fields the update changes, as printed
		warning string // part of a warning expected on standard error
	}{
		{[]string{"--name", "Living-room TV"}, object{"client_name": "Living-room TV"}, ""},
		{[]string{"--scope", "openid", "--scope", "lights:read"}, object{"scope": "openid lights:read"}, ""},
		{[]string{"--redirect-uri", "https://tv.example/cb", "--grant-type", device, "--grant-type", "authorization_code"},
			object{"redirect_uris": []any{"https://tv.example/cb"}, "grant_types": []any{device, "authorization_code"}}, ""},
		{[]string{"--grant-type", device, "--grant-type", "refresh_token"},
			object{"grant_types": []any{device, "refresh_token"}}, "has redirect URIs but not the authorization_code grant"},
		{[]string{"--redirect-uri", ""}, object{"redirect_uris": []any{}}, ""},
		{[]string{"--auth-method", "REQUEST_BODY_CREDENTIALS"}, object{"token_endpoint_auth_method": "client_secret_post"}, ""},
		{[]string{"--audience", "https://api.example/"}, object{"audience": "https://api.example/"}, ""},
		{[]string{"--introspect"}, object{"introspect": true}, ""},
		{[]string{"--revoke-ends-grant"}, object{"revoke_ends_grant": true}, ""},
		{[]string{"--introspect=false"}, object{"introspect": false}, ""},
		{[]string{"--token-mode", "passthrough"}, object{"token_mode": "passthrough"}, ""},
		{[]string{"--logo-uri", "https://cdn.example/tv.png", "--client-uri", "https://tv.example/"},
			object{"logo_uri": "https://cdn.example/tv.png", "client_uri": "https://tv.example/"}, ""},
		{[]string{"--scope", ""}, object{"scope": ""}, "has no scopes"},
	}
	want := ok[object](t, db, "", "client", "show", "tv")
	for _, s := range steps {
		args := append([]string{"client", "update", "tv"}, s.args...)
		out, stderr, code := grantd(t, db, "", args...)
		var got object
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
			t.Fatalf("grantd %s: exit %d, %q %s", strings.Join(args, " "), code, out, stderr)
		}
		for k, v := range s.changes {
			want[k] = v
		}
		delete(got, "warnings")
		if g, w := jsonOf(got), jsonOf(want); g != w {
			t.Errorf("update %v:\n got %s\nwant %s", s.args, g, w)
		}
		if shown := ok[object](t, db, "", "client", "show", "tv"); jsonOf(shown) != jsonOf(want) {
			t.Errorf("show after update %v: %s, want %s", s.args, jsonOf(shown), jsonOf(want))
		}
		if !strings.Contains(stderr, s.warning) || (s.warning == "" && strings.Contains(stderr, "warning")) {
			t.Errorf("update %v: stderr %q; want a warning saying %q", s.args, stderr, s.warning)
		}
	}
	fails(t, db, 1, "needs a redirect URI", "client", "update", "web", "--redirect-uri", "")
	fails(t, db, 1, `token mode "remote"`, "client", "update", "tv", "--token-mode", "remote")
	fails(t, db, 1, "must be an absolute https:// URL", "client", "update", "tv", "--logo-uri", "http://cdn.example/tv.png")
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// testClientDisable disables and enables tv.
func testClientDisable(t *testing.T, db string) {
	for _, tc := range []struct {
		cmd  string
		want bool
	}{{"disable", true}, {"disable", true}, {"enable", false}} {
		if got := ok[object](t, db, "", "client", tc.cmd, "tv"); got["disabled"] != tc.want {
			t.Errorf("client %s: disabled %v, want %t", tc.cmd, got["disabled"], tc.want)
		}
	}
}

// testRotateSecret rotates web's secret: generated, chosen with a grace,
// and refused for a public client.
func testRotateSecret(t *testing.T, db string) {
	got := ok[object](t, db, "", "client", "rotate-secret", "web")
	if s, _ := got["client_secret"].(string); len(s) < 43 || got["previous_secret_valid_until"] != nil {
		t.Errorf("rotate-secret without flags: %v; want a generated secret and no grace", got)
	}
	before := time.Now().Add(time.Hour - time.Second)
	got = ok[object](t, db, "", "client", "rotate-secret", "web", "--secret", "chosen-secret-0123", "--grace", "1h")
	until, err := time.Parse(time.RFC3339, stringOf(got["previous_secret_valid_until"]))
	if got["client_secret"] != nil || err != nil || until.Before(before) || until.After(before.Add(time.Minute)) {
		t.Errorf("rotate-secret --secret --grace 1h: %v; want no secret printed and the old one valid for an hour", got)
	}
	if shown := ok[object](t, db, "", "client", "show", "web"); shown["previous_secret_valid_until"] != got["previous_secret_valid_until"] {
		t.Errorf("client show after a rotation with a grace: %v", shown)
	}
	fails(t, db, 1, "at least 8 characters", "client", "rotate-secret", "web", "--secret", "short")
	fails(t, db, 1, `client "bulb" is public`, "client", "rotate-secret", "bulb")
}

func stringOf(v any) string { s, _ := v.(string); return s }

// TestUserCommands runs every user sub-command and flag on each backend:
// create (--password and --password-stdin, --email), list with --limit,
// --after and --output table, show by id and by name, set-password,
// disable, enable and delete.
func TestUserCommands(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db string) {
		alice := ok[map[string]any](t, db, "", "user", "create", "--username", "alice", "--password", "correct horse",
			"--email", "alice@example.com", "--email-verified")
		ok[map[string]string](t, db, "battery staple\n", "user", "create", "--username", "bob", "--password-stdin")
		ok[map[string]string](t, db, "", "user", "create", "--username", "carol", "--password", "long enough")
		testUserList(t, db)

		byID := ok[object](t, db, "", "user", "show", alice["id"].(string))
		byName := ok[object](t, db, "", "user", "show", "alice")
		if jsonOf(byID) != jsonOf(byName) || byID["email"] != "alice@example.com" || byID["email_verified"] != true ||
			byID["disabled"] != false {
			t.Errorf("user show by id %v, by name %v", byID, byName)
		}
		if got := ok[object](t, db, "a new password\n", "user", "set-password", "alice", "--password-stdin"); got["id"] != alice["id"] {
			t.Errorf("user set-password: %v", got)
		}
		out, stderr, code := grantd(t, db, "short\n", "user", "set-password", "alice", "--password-stdin")
		if code != 1 || out != "" || !strings.Contains(stderr, "at least 8 characters") {
			t.Errorf("set-password with a short password: exit %d, %q %q", code, out, stderr)
		}
		for _, tc := range []struct {
			cmd          string
			wantDisabled bool
		}{{"disable", true}, {"enable", false}} {
			if got := ok[object](t, db, "", "user", tc.cmd, "alice"); got["disabled"] != tc.wantDisabled {
				t.Errorf("user %s: %v", tc.cmd, got)
			}
		}
		bob := ok[object](t, db, "", "user", "show", "bob")
		if got := ok[object](t, db, "", "user", "delete", "bob"); got["id"] != bob["id"] || got["deleted"] != true {
			t.Errorf("user delete: %v", got)
		}
		fails(t, db, 1, `user "bob" not found`, "user", "show", "bob")
		again := ok[map[string]string](t, db, "", "user", "create", "--username", "bob", "--password", "long enough")
		if again["id"] == bob["id"] {
			t.Errorf("a new bob got the deleted bob's id %s", again["id"])
		}
	})
}

// testUserList pages through alice, bob and carol two at a time.
func testUserList(t *testing.T, db string) {
	type page struct {
		Users []object
		Next  string
	}
	all := ok[page](t, db, "", "user", "list")
	if len(all.Users) != 3 || all.Next != "" {
		t.Fatalf("user list: %+v, want 3 users and no next page", all)
	}
	first := ok[page](t, db, "", "user", "list", "--limit", "2")
	second := ok[page](t, db, "", "user", "list", "--limit", "2", "--after", first.Next)
	var names []string
	for _, u := range append(first.Users, second.Users...) {
		names = append(names, u["username"].(string))
	}
	slices.Sort(names)
	if len(first.Users) != 2 || first.Next != first.Users[1]["id"] || len(second.Users) != 1 || second.Next != "" ||
		!slices.Equal(names, []string{"alice", "bob", "carol"}) {
		t.Errorf("pages of 2: %+v then %+v; want every user once, with next naming the first page's last id", first, second)
	}
	table, _, _ := grantd(t, db, "", "user", "list", "--limit", "2", "--output", "table")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || lines[3] != "more: --after "+first.Next {
		t.Errorf("user list --limit 2 --output table:\n%s\nwant a header, two rows and how to get the next page", table)
	}
}
