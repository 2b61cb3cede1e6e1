package main_test

import (
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/grantd/grantd/internal/web/webtest"
)

// TestRevokeEndsGrant checks the client setting --revoke-ends-grant end to
// end, on SQLite and on PostgreSQL: `grantd client create` stores it, and
// POST /revoke of one of such a client's access tokens revokes the whole
// grant — its refresh token and its other access tokens — while a client
// without it revokes the access token alone (RFC 7009 §2.1, REV-01,
// REV-03).
func TestRevokeEndsGrant(t *testing.T) {
	backends := []struct {
		name     string
		database func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "g.db") }},
		{"postgres", postgresSchema},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.database(t)
			for _, c := range []struct {
				id        string
				endsGrant bool
			}{{"linker", true}, {"plain", false}} {
				args := []string{"client", "create", "--id", c.id, "--secret", c.id + "-secret-0123456789",
					"--grant-type", "urn:ietf:params:oauth:grant-type:device_code", "--grant-type", "refresh_token",
					"--scope", "lights:read"}
				if c.endsGrant {
					args = append(args, "--revoke-ends-grant")
				}
				out, stderr, code := grantd(t, db, "", args...)
				var created map[string]any
				if code != 0 || json.Unmarshal([]byte(out), &created) != nil || created["revoke_ends_grant"] != c.endsGrant {
					t.Fatalf("client create %s: exit %d, %q %s; want revoke_ends_grant %t", c.id, code, out, stderr, c.endsGrant)
				}
			}
			if _, stderr, code := grantd(t, db, "", "client", "create", "--id", "rs", "--secret", "rs-secret-0123456789",
				"--introspect"); code != 0 {
				t.Fatalf("client create rs: %s", stderr)
			}
			if _, stderr, code := grantd(t, db, "", "user", "create", "--username", "alice", "--password", "correct horse"); code != 0 {
				t.Fatalf("user create: %s", stderr)
			}
			base := startServe(t, db)
			for _, c := range []struct {
				id        string
				endsGrant bool
			}{{"linker", true}, {"plain", false}} {
				secret := c.id + "-secret-0123456789"
				first := deviceTokens(t, base, c.id, secret)
				second := postForm(t, base+"/token", c.id, secret, url.Values{"grant_type": {"refresh_token"},
					"refresh_token": {first["refresh_token"]}})
				if second["access_token"] == "" {
					t.Fatalf("%s: refresh: %v", c.id, second)
				}
				postForm(t, base+"/revoke", c.id, secret, url.Values{"token": {second["access_token"]}})

				refreshed := postForm(t, base+"/token", c.id, secret, url.Values{"grant_type": {"refresh_token"},
					"refresh_token": {second["refresh_token"]}})
				if got := refreshed["error"] == "invalid_grant"; got != c.endsGrant {
					t.Errorf("REV-03 %s: refresh after revoking an access token: error %q; want the refresh token dead: %t",
						c.id, refreshed["error"], c.endsGrant)
				}
				in := postForm(t, base+"/introspect", "rs", "rs-secret-0123456789", url.Values{"token": {first["access_token"]}})
				if got := in["active"] == "false"; got != c.endsGrant {
					t.Errorf("REV-03 %s: the grant's earlier access token introspects active %s; want it inactive: %t",
						c.id, in["active"], c.endsGrant)
				}
			}
		})
	}
}

// postgresSchema makes a schema of its own in the database
// GRANTD_TEST_POSTGRES names, dropped when t ends, and returns a URL that
// uses it; it skips t when the variable is unset.
func postgresSchema(t *testing.T) string {
	base := os.Getenv("GRANTD_TEST_POSTGRES")
	if base == "" {
		t.Skip("GRANTD_TEST_POSTGRES is unset: set it to a postgres:// URL of a scratch database")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	name := "grantd_cli_" + strings.ToLower(rand.Text())
	if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec(`DROP SCHEMA ` + pgx.Identifier{name}.Sanitize() + ` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// startServe runs `grantd serve` on db and returns its URL once ready. The
// server is stopped when t ends.
func startServe(t *testing.T, db string) string {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--addr", addr, "--database", db)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); waitExit(cmd, 20*time.Second) })
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("grantd serve never became ready")
		}
		time.Sleep(50 * time.Millisecond) // grantd serve is another process, starting
	}
}

// deviceTokens runs the device grant for client id, with alice approving
// on the pages as a browser without JavaScript would, and returns the
// token response.
func deviceTokens(t *testing.T, base, id, secret string) map[string]string {
	t.Helper()
	tok, _ := deviceFlow(t, base, id, secret, "alice", "correct horse")
	return tok
}

// deviceFlow is deviceTokens with username signing in with password; it
// also returns the browser, still signed in.
func deviceFlow(t *testing.T, base, id, secret, username, password string) (map[string]string, *webtest.Browser) {
	t.Helper()
	auth := postForm(t, base+"/device_authorization", id, secret, url.Values{"scope": {"lights:read"}})
	b := webtest.NewBrowser(t, base, nil)
	b.SignIn(username, password)
	entry := b.Get("/device?user_code=" + url.QueryEscape(auth["user_code"]))
	confirm := b.Post("/device", url.Values{"csrf_token": {webtest.CSRF(entry.Body)}, "user_code": {auth["user_code"]}})
	decided := b.Post("/device/decision", url.Values{"csrf_token": {webtest.CSRF(confirm.Body)},
		"user_code": {webtest.Hidden(confirm.Body, "user_code")}, "action": {"approve"}})
	if decided.StatusCode >= 400 {
		t.Fatalf("approve: status %d", decided.StatusCode)
	}
	tok := postForm(t, base+"/token", id, secret, url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {auth["device_code"]}})
	if tok["access_token"] == "" || tok["refresh_token"] == "" {
		t.Fatalf("device token: %v", tok)
	}
	return tok, b
}

// postForm posts form with client_secret_basic and returns the JSON answer
// with every value as a string (an empty body gives an empty map).
func postForm(t *testing.T, endpoint, id, secret string, form url.Values) map[string]string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	out := map[string]string{}
	for k, v := range body {
		switch v := v.(type) {
		case string:
			out[k] = v
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out
}
