package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestScopeCommands: `grantd scope set`, `list` and `delete` store, show
// and remove scope descriptions, the built-in ones included, and refuse
// what is not a scope with a message.
func TestScopeCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "g.db")
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string // a part of stdout, or of stderr for a failure
	}{
		{[]string{"set", "lights:read", "--description", "See your lights and their state"}, 0,
			`{"name":"lights:read","description":"See your lights and their state","hidden":false,"built_in":false}`},
		{[]string{"set", "--hidden", "lights:write", "--description", "Switch your lights"}, 0, `"hidden":true`},
		{[]string{"set", "profile", "--description", "See your name"}, 0, `"name":"profile"`},
		{[]string{"list"}, 0, `{"scopes":[{"name":"email","description":"See your e-mail address","hidden":false,"built_in":true},` +
			`{"name":"lights:read","description":"See your lights and their state","hidden":false,"built_in":false},` +
			`{"name":"lights:write","description":"Switch your lights","hidden":true,"built_in":false},` +
			`{"name":"offline_access","description":"Stay connected when you are not using it","hidden":false,"built_in":true},` +
			`{"name":"openid","description":"Know which account is yours","hidden":false,"built_in":true},` +
			`{"name":"profile","description":"See your name","hidden":false,"built_in":false}]}`},
		{[]string{"delete", "profile"}, 0, `{"name":"profile","deleted":true}`},
		{[]string{"delete", "profile"}, 1, "its description is built in"},
		{[]string{"delete", "nothing"}, 1, `scope "nothing": not set`},
		{[]string{"set", "lights:read"}, 2, "--description is required"},
		{[]string{"set", "--description", "x"}, 2, "give the NAME"},
		{[]string{"set", "a", "b", "--description", "x"}, 2, `unexpected argument "b"`},
		{[]string{"set", `bad"name`, "--description", "x"}, 1, "one scope token"},
	}
	for _, tt := range tests {
		out, stderr, code := grantd(t, db, "", append([]string{"scope"}, tt.args...)...)
		got := out
		if tt.wantCode != 0 {
			got = stderr
		}
		if code != tt.wantCode || !strings.Contains(got, tt.wantOut) {
			t.Errorf("scope %q: exit %d, stdout %q, stderr %q; want exit %d with %q", tt.args, code, out, stderr, tt.wantCode, tt.wantOut)
		}
	}
}

// TestScopeSetReachesRunningServer: a `grantd scope set` on the database
// of a running server changes its metadata's scopes_supported within
// GRANTD_KEY_RELOAD_INTERVAL, without a restart.
func TestScopeSetReachesRunningServer(t *testing.T) {
	db := filepath.Join(t.TempDir(), "g.db")
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--addr", addr, "--database", db)
	cmd.Env = append(os.Environ(), "GRANTD_KEY_RELOAD_INTERVAL=200ms")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); waitExit(cmd, 20*time.Second) })
	supported := func() []string {
		resp, err := http.Get("http://" + addr + "/.well-known/oauth-authorization-server")
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var m struct {
			Scopes []string `json:"scopes_supported"`
		}
		json.NewDecoder(resp.Body).Decode(&m)
		return m.Scopes
	}
	waitFor := func(what string, want []string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for got := supported(); !slices.Equal(got, want); got = supported() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: scopes_supported %q, want %q", what, got, want)
			}
			time.Sleep(50 * time.Millisecond) // real time, in another process
		}
	}
	waitFor("a new server", []string{"email", "offline_access", "openid", "profile"})
	for _, args := range [][]string{
		{"scope", "set", "lights:read", "--description", "See your lights and their state"},
		{"scope", "set", "offline_access", "--description", "Stay connected", "--hidden"},
	} {
		if _, stderr, code := grantd(t, db, "", args...); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
	}
	waitFor("after scope set", []string{"email", "lights:read", "openid", "profile"})
}
