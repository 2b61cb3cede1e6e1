package main_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "grantd-cli")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "grantd")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic("build grantd: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// grantd runs the binary with GRANTD_DATABASE=db and returns stdout, stderr
// and the exit code.
func grantd(t *testing.T, db, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "GRANTD_DATABASE="+db)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run grantd: %v", err)
	}
	return out.String(), errOut.String(), code
}

func TestClientCreate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "g.db")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		check    func(t *testing.T, c map[string]any, stderr string)
	}{
		{"generated secret", []string{"--id", "tv", "--name", "TV", "--scope", "openid", "--scope", "lights:read"}, 0,
			func(t *testing.T, c map[string]any, _ string) {
				if s, _ := c["client_secret"].(string); len(s) < 43 {
					t.Errorf("client_secret %q: want a generated 256-bit secret", s)
				}
				if c["scope"] != "openid lights:read" || c["client_name"] != "TV" || c["public"] != false {
					t.Errorf("client %v", c)
				}
				grants, _ := c["grant_types"].([]any)
				if len(grants) != 2 || grants[0] != "urn:ietf:params:oauth:grant-type:device_code" || grants[1] != "refresh_token" {
					t.Errorf("grant_types %v, want the device grant and refresh_token", grants)
				}
			}},
		{"given secret is not echoed", []string{"--id", "web", "--secret", "a-long-secret", "--grant-type", "authorization_code",
			"--redirect-uri", "https://app.example/cb", "--auth-method", "REQUEST_BODY_CREDENTIALS"}, 0,
			func(t *testing.T, c map[string]any, _ string) {
				if c["client_secret"] != nil || c["token_endpoint_auth_method"] != "client_secret_post" {
					t.Errorf("client %v", c)
				}
			}},
		{"public", []string{"--id", "bulb", "--public"}, 0,
			func(t *testing.T, c map[string]any, _ string) {
				if c["client_secret"] != nil || c["public"] != true || c["token_endpoint_auth_method"] != "none" {
					t.Errorf("client %v", c)
				}
			}},
		{"duplicate id", []string{"--id", "tv"}, 1, nil},
		{"no id", []string{"--public"}, 2, nil},
		{"bad id", []string{"--id", "a b"}, 1, nil},
		{"secret and public", []string{"--id", "x", "--public", "--secret", "abcdefghij"}, 2, nil},
		{"http redirect (AZ-02)", []string{"--id", "y", "--redirect-uri", "http://example.com/cb"}, 1, nil},
		{"unknown grant", []string{"--id", "z", "--grant-type", "password"}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := grantd(t, db, "", append([]string{"client", "create"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.wantCode, stderr)
			}
			if code != 0 {
				if out != "" || !strings.HasPrefix(stderr, "grantd: ") {
					t.Errorf("failure: stdout %q, stderr %q; want nothing on stdout and a message on stderr", out, stderr)
				}
				return
			}
			var c map[string]any
			if err := json.Unmarshal([]byte(out), &c); err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 {
				t.Fatalf("stdout is not one JSON object: %q", out)
			}
			tt.check(t, c, stderr)
		})
	}
}

func TestUserCreate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "g.db")
	out, stderr, code := grantd(t, db, "", "user", "create", "--username", "alice", "--password", "correct horse")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var u map[string]string
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		t.Fatalf("stdout %q: %v", out, err)
	}
	if u["username"] != "alice" || !regexp.MustCompile(`^[a-zA-Z0-9_.,@-]{1,64}$`).MatchString(u["id"]) || strings.Contains(u["id"], "alice") {
		t.Errorf("user %v: want a stable id of [a-zA-Z0-9_.,@-]{1,64} unrelated to the name", u)
	}
	out, stderr, code = grantd(t, db, "battery staple\n", "user", "create", "--username", "bob", "--password-stdin")
	if code != 0 || !strings.Contains(out, `"username":"bob"`) {
		t.Fatalf("password-stdin: exit %d, %s %s", code, out, stderr)
	}
	for _, args := range [][]string{
		{"--username", "alice", "--password", "another one"}, // taken
		{"--username", "carol"},                              // no password
		{"--username", "dave", "--password", "short"},        // too short
		{"--username", "bad name", "--password", "long enough"},
	} {
		if _, stderr, code := grantd(t, db, "", append([]string{"user", "create"}, args...)...); code == 0 || stderr == "" {
			t.Errorf("user create %v: exit %d, stderr %q; want a failure", args, code, stderr)
		}
	}
}

func TestBadSettingStopsStartup(t *testing.T) {
	cmd := exec.Command(binary, "serve", "--database", filepath.Join(t.TempDir(), "g.db"))
	cmd.Env = append(os.Environ(), "USER_CODE_LENGTH=abc")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "USER_CODE_LENGTH") {
		t.Fatalf("serve with USER_CODE_LENGTH=abc: err %v, output %s; want a failure naming the setting", err, out)
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveDemo starts `grantd serve --demo` and returns its outputs once printed.
func serveDemo(t *testing.T, db, addr string) (*exec.Cmd, map[string]string) {
	t.Helper()
	return serveDemoWith(t, exec.Command(binary, "serve", "--demo", "--addr", addr, "--database", db))
}

// serveDemoWith starts cmd, a `grantd serve --demo` however wrapped, and
// returns its outputs once printed.
func serveDemoWith(t *testing.T, cmd *exec.Cmd) (*exec.Cmd, map[string]string) {
	t.Helper()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 {
			outputs[f[0]] = strings.Join(f[1:], " ")
		}
		if len(f) > 0 && f[0] == "DemoPassword" {
			break
		}
	}
	go func() { // keep draining so the server never blocks on stdout
		for sc.Scan() {
		}
	}()
	return cmd, outputs
}

// TestServeDemo runs the server as a user would: it prints the demo outputs,
// serves the device flow with them, keeps the demo idempotent across starts,
// and stops cleanly on SIGTERM.
func TestServeDemo(t *testing.T) {
	db := filepath.Join(t.TempDir(), "g.db")
	addr := freeAddr(t)
	cmd, out := serveDemo(t, db, addr)
	base := "http://" + addr
	if out["DeviceClientId"] != "demo-device" || out["VerificationURL"] != base+"/device" ||
		out["DeviceAuthorizationEndpoint"] != base+"/device_authorization" || len(out["DemoPassword"]) < 16 || len(out["DeviceClientSecret"]) < 43 {
		t.Fatalf("demo outputs %v", out)
	}
	req, _ := http.NewRequest("POST", out["DeviceAuthorizationEndpoint"], strings.NewReader(url.Values{"scope": {"openid"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(out["DeviceClientId"], out["DeviceClientSecret"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("device authorization with the demo client: %v %v", resp, err)
	}
	resp.Body.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := waitExit(cmd, 20*time.Second); err != nil {
		t.Fatalf("after SIGTERM: %v; want a clean exit", err)
	}

	cmd, again := serveDemo(t, db, addr) // a second start finds the demo in place
	defer func() { cmd.Process.Signal(syscall.SIGTERM); waitExit(cmd, 20*time.Second) }()
	if again["DemoUserId"] != out["DemoUserId"] || strings.Contains(again["DemoPassword"], out["DemoPassword"]) {
		t.Errorf("second start: %v; want the same user and no new password", again)
	}
}

func waitExit(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		return <-done
	}
}

// TestMigrate: `grantd migrate` brings a fresh database to the current
// schema, twice without harm, and the server then starts on it.
func TestMigrate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "g.db")
	var versions []string
	for range 2 {
		out, stderr, code := grantd(t, db, "", "migrate")
		if code != 0 {
			t.Fatalf("migrate: exit %d: %s", code, stderr)
		}
		var v map[string]int
		if err := json.Unmarshal([]byte(out), &v); err != nil || v["schema_version"] < 2 {
			t.Fatalf("migrate printed %q, want {\"schema_version\": N≥2}", out)
		}
		versions = append(versions, out)
	}
	if versions[0] != versions[1] {
		t.Errorf("second migrate changed the version: %q then %q", versions[0], versions[1])
	}
	if _, stderr, code := grantd(t, db, "", "user", "create", "--username", "after", "--password", "long enough"); code != 0 {
		t.Errorf("user create after migrate: %s", stderr)
	}
}

// keyList runs a keys sub-command and decodes the key list it prints.
func keyList(t *testing.T, db string, args ...string) []map[string]string {
	t.Helper()
	out, stderr, code := grantd(t, db, "", args...)
	if code != 0 {
		t.Fatalf("grantd %v: exit %d: %s", args, code, stderr)
	}
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("grantd %v printed %q: %v", args, out, err)
	}
	return doc.Keys
}

func states(ks []map[string]string) string {
	var s []string
	for _, k := range ks {
		s = append(s, k["alg"]+":"+k["state"])
	}
	return strings.Join(s, " ")
}

// TestKeysRotate is the operator's side of REL-12: a rotation schedules a
// successor that is published first and signs later; --immediately
// switches at once.
func TestKeysRotate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "g.db")
	if ks := keyList(t, db, "keys", "list"); len(ks) != 0 {
		t.Fatalf("a new database lists keys: %v", ks)
	}
	if got := states(keyList(t, db, "keys", "rotate")); got != "RS256:signing" {
		t.Fatalf("first rotation of an empty database: %s, want one RS256 key signing", got)
	}
	ks := keyList(t, db, "keys", "rotate")
	if got := states(ks); got != "RS256:signing RS256:next" {
		t.Fatalf("after a rotation: %s, want the old key signing and its successor next", got)
	}
	activates, err1 := time.Parse(time.RFC3339Nano, ks[1]["activates_at"])
	retires, err2 := time.Parse(time.RFC3339Nano, ks[0]["retires_at"])
	created, err3 := time.Parse(time.RFC3339Nano, ks[1]["created_at"])
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	// Defaults: JWKS max-age 300 s + 2 × 30 s reload; 1 h access tokens +
	// 30 s reload + 1 min skew.
	if lead, keep := activates.Sub(created), retires.Sub(activates); lead != 6*time.Minute || keep != time.Hour+90*time.Second {
		t.Errorf("successor published %v before it signs (want 6m), old key kept %v after (want 1h1m30s)", lead, keep)
	}

	ks = keyList(t, db, "keys", "rotate", "--immediately", "--alg", "RS256")
	// By activation: the first key (still published for its tokens), the
	// new one (signing now), the withdrawn successor (due to sign later).
	if got := states(ks); got != "RS256:previous RS256:signing RS256:retired" {
		t.Errorf("after an immediate rotation: %s, want previous, signing, retired", got)
	}
	before := states(keyList(t, db, "keys", "list"))
	for _, bad := range [][]string{
		{"--alg", "HS256"},
		{"--immediately", "--publish-ahead", "1m"},
		{"--publish-ahead", "-1s"},
		{"--publish-ahead", "soon"},
	} {
		if _, stderr, code := grantd(t, db, "", append([]string{"keys", "rotate"}, bad...)...); code == 0 || stderr == "" {
			t.Errorf("keys rotate %v: exit %d, stderr %q; want an error", bad, code, stderr)
		}
	}
	if after := states(keyList(t, db, "keys", "list")); after != before {
		t.Errorf("refused rotations changed the keys: %s, then %s", before, after)
	}
	env := []string{"GRANTD_ACCESS_TOKEN_ALG=ES256"}
	cmd := exec.Command(binary, "keys", "rotate")
	cmd.Env = append(append(os.Environ(), "GRANTD_DATABASE="+db), env...)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `"alg":"ES256","state":"signing"`) {
		t.Errorf("keys rotate with ES256 access tokens: %v\n%s", err, out)
	}
}

// TestShutdownDelay is REL-14 with GRANTD_SHUTDOWN_DELAY: after SIGTERM the
// server reports not ready at once but goes on serving new connections for
// the delay, so that a load balancer can stop sending it requests; then it
// stops cleanly.
func TestShutdownDelay(t *testing.T) {
	const delay = 3 * time.Second
	addr := freeAddr(t)
	base := "http://" + addr
	cmd := exec.Command(binary, "serve", "--addr", addr, "--database", filepath.Join(t.TempDir(), "g.db"))
	cmd.Env = append(os.Environ(), "GRANTD_SHUTDOWN_DELAY="+delay.String())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// A new connection for every request, as a load balancer's probe makes.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	status := func(path string) int {
		resp, err := client.Get(base + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(20 * time.Second)
	for status("/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("server never became ready")
		}
		time.Sleep(50 * time.Millisecond) // the server is another process, starting
	}

	sigterm := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	for status("/readyz") != http.StatusServiceUnavailable {
		if time.Since(sigterm) > delay {
			t.Fatalf("/readyz not 503 within %v of SIGTERM", delay)
		}
		time.Sleep(20 * time.Millisecond) // the server, another process, handles the signal
	}
	if time.Since(sigterm) < delay/2 {
		// Still within the delay: liveness and requests are served.
		if got := status("/healthz"); got != http.StatusOK {
			t.Errorf("/healthz during the shutdown delay: %d, want 200", got)
		}
		if got := status("/.well-known/openid-configuration"); got != http.StatusOK {
			t.Errorf("metadata during the shutdown delay: %d, want 200", got)
		}
	} else {
		t.Logf("machine slow: checked readiness only, %v after SIGTERM", time.Since(sigterm))
	}
	if err := waitExit(cmd, 30*time.Second); err != nil {
		t.Fatalf("after SIGTERM: %v; want a clean exit", err)
	}
	if took := time.Since(sigterm); took < delay {
		t.Errorf("exited %v after SIGTERM, before the %v delay", took, delay)
	}
	if got := status("/healthz"); got != 0 {
		t.Errorf("/healthz after exit: %d, want the connection refused", got)
	}
}
