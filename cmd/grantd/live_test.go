package main_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/web/webtest"
)

// These tests change a running server's state with the command line, as an
// operator would, and check that the change takes effect without a
// restart: at once for users and grants, within the 2-second client cache
// for clients.

const (
	rsID     = "rs"
	rsSecret = "rs-secret-0123456789"
)

// liveSetup creates the device client tv (returning its generated secret)
// and the resource server rs, which introspects, on db.
func liveSetup(t *testing.T, db string) (tvSecret string) {
	t.Helper()
	tv := ok[object](t, db, "", "client", "create", "--id", "tv", "--scope", "lights:read")
	ok[object](t, db, "", "client", "create", "--id", rsID, "--secret", rsSecret, "--introspect", "--scope", "lights:read")
	return tv["client_secret"].(string)
}

// active introspects token as rs (RFC 7662) and returns "true" or "false".
func active(t *testing.T, base, token string) string {
	t.Helper()
	return postForm(t, base+"/introspect", rsID, rsSecret, url.Values{"token": {token}})["active"]
}

// refreshed presents a refresh token and returns the token endpoint's
// answer.
func refreshed(t *testing.T, base, id, secret, rt string) map[string]string {
	t.Helper()
	return postForm(t, base+"/token", id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// TestUserChangesEndAccess is RT-07 for the operator's actions on a
// running server, on each backend: disabling or deleting a user, and
// revoking a user's grants or one grant, make the user's access tokens
// introspect inactive and refresh tokens refused at once; disabling,
// deleting and setting a password also end the user's browser sessions.
func TestUserChangesEndAccess(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db string) {
		tvSecret := liveSetup(t, db)
		base := startServe(t, db)
		tests := []struct {
			name          string
			args          func(user, grant string) []string
			stdin         string
			printed       string // a field of the output, and what it holds
			tokensEnd     bool
			sessionsEnd   bool
			listedGrants  int // what grant list --user shows afterwards; -1: the user is gone
			passwordAfter string
		}{
			{"user disable", func(u, _ string) []string { return []string{"user", "disable", u} }, "",
				"grants_revoked=1", true, true, 0, ""},
			{"user delete", func(u, _ string) []string { return []string{"user", "delete", u} }, "",
				"deleted=true", true, true, -1, ""},
			{"grant revoke --user", func(u, _ string) []string { return []string{"grant", "revoke", "--user", u} }, "",
				"grants_revoked=1", true, false, 0, ""},
			{"grant revoke ID", func(_, g string) []string { return []string{"grant", "revoke", g} }, "",
				"client_id=tv", true, false, 0, ""},
			{"user set-password", func(u, _ string) []string { return []string{"user", "set-password", u, "--password-stdin"} },
				"a brand new password\n", "disabled=false", false, true, 1, "a brand new password"},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				user := fmt.Sprintf("user%d", i)
				ok[map[string]string](t, db, "", "user", "create", "--username", user, "--password", "correct horse")
				tok, browser := deviceFlow(t, base, "tv", tvSecret, user, "correct horse")
				grants := ok[struct{ Grants []object }](t, db, "", "grant", "list", "--user", user)
				byClient := ok[struct{ Grants []object }](t, db, "", "grant", "list", "--client", "tv")
				if len(grants.Grants) != 1 || grants.Grants[0]["client_id"] != "tv" || !containsGrant(byClient.Grants, grants.Grants[0]["id"]) {
					t.Fatalf("grant list --user %s: %v; --client tv: %v; want the one grant in both", user, grants, byClient)
				}
				out := ok[object](t, db, tt.stdin, tt.args(user, grants.Grants[0]["id"].(string))...)
				if field, want, _ := strings.Cut(tt.printed, "="); fmt.Sprint(out[field]) != want {
					t.Errorf("printed %v; want %s", out, tt.printed)
				}
				if tt.name == "grant revoke ID" && out["revoked_at"] == nil {
					t.Errorf("grant revoke printed %v; want the grant with its revoked_at", out)
				}

				if got, want := active(t, base, tok["access_token"]), fmt.Sprint(!tt.tokensEnd); got != want {
					t.Errorf("access token introspects active %s, want %s", got, want)
				}
				r := refreshed(t, base, "tv", tvSecret, tok["refresh_token"])
				if got := r["error"] == "invalid_grant"; got != tt.tokensEnd {
					t.Errorf("refresh: %v; want it refused: %t", r, tt.tokensEnd)
				}
				if got := browser.Get("/device").StatusCode == http.StatusOK; got == tt.sessionsEnd {
					t.Errorf("browser still signed in: %t, want %t", got, !tt.sessionsEnd)
				}
				if tt.listedGrants >= 0 {
					after := ok[struct{ Grants []object }](t, db, "", "grant", "list", "--user", user)
					if len(after.Grants) != tt.listedGrants {
						t.Errorf("grant list --user %s afterwards: %v, want %d grants", user, after, tt.listedGrants)
					}
				} else {
					fails(t, db, 1, fmt.Sprintf("user %q not found", user), "grant", "list", "--user", user)
				}
				if tt.passwordAfter != "" {
					signInStatus(t, base, user, "correct horse", http.StatusBadRequest)
					signInStatus(t, base, user, tt.passwordAfter, http.StatusSeeOther)
				}
			})
		}
		// A disabled user enabled again can sign in, but the tokens
		// disabling ended stay dead.
		ok[object](t, db, "", "user", "enable", "user0")
		signInStatus(t, base, "user0", "correct horse", http.StatusSeeOther)
	})
}

func containsGrant(gs []object, id any) bool {
	for _, g := range gs {
		if g["id"] == id {
			return true
		}
	}
	return false
}

// signInStatus signs in on the pages and checks the answer: 303 for a
// success, 400 for a wrong password or a disabled account.
func signInStatus(t *testing.T, base, user, password string, want int) {
	t.Helper()
	b := webtest.NewBrowser(t, base, nil)
	page := b.Get("/signin")
	resp := b.Post("/signin", url.Values{"csrf_token": {webtest.CSRF(page.Body)}, "username": {user}, "password": {password}})
	if resp.StatusCode != want {
		t.Errorf("sign in as %s: status %d, want %d", user, resp.StatusCode, want)
	}
}

// TestClientChangesReachRunningServer: a client's secret rotation (with
// and without --grace), disabling, enabling and deletion reach a running
// server within its 2-second client cache, on each backend; deletion ends
// the client's tokens at once.
func TestClientChangesReachRunningServer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db string) {
		first := liveSetup(t, db)
		ok[map[string]string](t, db, "", "user", "create", "--username", "alice", "--password", "correct horse")
		base := startServe(t, db)
		authorizes := func(secret string) int {
			return deviceAuthorizationStatus(t, base, "tv", secret)
		}
		if got := authorizes(first); got != http.StatusOK {
			t.Fatalf("the first secret: %d", got)
		}
		second := ok[object](t, db, "", "client", "rotate-secret", "tv", "--grace", "1h")["client_secret"].(string)
		eventually(t, "the new secret accepted", func() bool { return authorizes(second) == http.StatusOK })
		if got := authorizes(first); got != http.StatusOK {
			t.Errorf("the old secret within its grace: %d, want 200", got)
		}
		third := ok[object](t, db, "", "client", "rotate-secret", "tv")["client_secret"].(string)
		eventually(t, "the replaced secret refused", func() bool { return authorizes(second) == http.StatusUnauthorized })
		for name, secret := range map[string]string{"newest": third, "first, whose grace the rotation ended": first} {
			if got, want := authorizes(secret), map[bool]int{true: 200, false: 401}[secret == third]; got != want {
				t.Errorf("the %s secret: %d, want %d", name, got, want)
			}
		}

		ok[object](t, db, "", "client", "disable", "tv")
		eventually(t, "the disabled client refused", func() bool { return authorizes(third) == http.StatusUnauthorized })
		ok[object](t, db, "", "client", "enable", "tv")
		eventually(t, "the enabled client accepted", func() bool { return authorizes(third) == http.StatusOK })

		tok := deviceTokens(t, base, "tv", third)
		ok[object](t, db, "", "client", "delete", "tv")
		if got := active(t, base, tok["access_token"]); got != "false" {
			t.Errorf("the deleted client's access token introspects active %s, want false", got)
		}
		eventually(t, "the deleted client refused", func() bool { return authorizes(third) == http.StatusUnauthorized })
		if r := refreshed(t, base, "tv", third, tok["refresh_token"]); r["access_token"] != "" {
			t.Errorf("the deleted client's refresh token: %v, want it refused", r)
		}
	})
}

// clientCacheBound is how long a client change may take to reach a
// running server: its 2-second client cache, and a margin for a loaded
// machine.
const clientCacheBound = 2*time.Second + 3*time.Second

// eventually polls cond, in real time (the server's), until it holds or
// clientCacheBound has passed, and fails the test if it never held.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > clientCacheBound {
			t.Fatalf("%s: not within %v", what, clientCacheBound)
		}
		time.Sleep(300 * time.Millisecond) // few attempts: each refused secret spends TOK-02's budget
	}
	t.Logf("%s after %v", what, time.Since(start).Round(time.Millisecond))
}

// deviceAuthorizationStatus returns the status of a device authorization
// request by client id with secret.
func deviceAuthorizationStatus(t *testing.T, base, id, secret string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/device_authorization", strings.NewReader("scope=lights%3Aread"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
