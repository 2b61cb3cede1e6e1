package main_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/logtest"
)

// serveWith runs `grantd serve` on db with the extra environment env and
// returns its URL once ready, and its standard error as it comes. The
// server is stopped when t ends.
func serveWith(t *testing.T, db string, env ...string) (string, *logtest.Buffer) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--addr", addr, "--database", db)
	cmd.Env = append(os.Environ(), env...)
	logs := &logtest.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); waitExit(cmd, 20*time.Second) })
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for status(base+"/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("grantd serve never became ready:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond) // grantd serve is another process, starting
	}
	return base, logs
}

// status returns the status of a GET of u, 0 when it cannot be had.
func status(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMetricsListener: with GRANTD_METRICS_ADDR the binary serves
// Prometheus metrics there, and not on the main port; after a device flow
// each step of it is counted. On both backends.
func TestMetricsListener(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db string) {
		secret := liveSetup(t, db)
		ok[map[string]string](t, db, "", "user", "create", "--username", "alice", "--password", "correct horse")
		metricsAddr := freeAddr(t)
		base, _ := serveWith(t, db, "GRANTD_METRICS_ADDR="+metricsAddr)
		tok := deviceTokens(t, base, "tv", secret)
		if got := status(base + "/metrics"); got != http.StatusNotFound {
			t.Errorf("/metrics on the main port: %d, want 404", got)
		}
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text := string(raw)
		for _, want := range []string{
			"grantd_device_authorizations_total 1",
			`grantd_device_polls_total{outcome="issued"} 1`,
			`grantd_device_decisions_total{decision="approved"} 1`,
			`grantd_device_decision_seconds_count{decision="approved"} 1`,
			"grantd_device_redemption_seconds_count 1",
			`grantd_tokens_issued_total{grant_type="urn:ietf:params:oauth:grant-type:device_code"} 1`,
			`grantd_http_request_duration_seconds_count{code="200",endpoint="/device_authorization"} 1`,
			`grantd_store_operation_duration_seconds_count{operation="redeem_device_grant"} 1`,
			"go_goroutines ",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
		if !regexp.MustCompile(`(?m)^grantd_build_info\{revision="[0-9a-f]*",version="[^"]+"\} 1$`).MatchString(text) {
			t.Error("metrics lack grantd_build_info")
		}
		if strings.Contains(text, tok["access_token"]) || strings.Contains(text, secret) {
			t.Error("the metrics expose a token or a secret")
		}
	})
}

// TestMetricsAddrMustBePrivate: metrics are never served on a public or
// wildcard address; a bad GRANTD_METRICS_ADDR stops the server with a
// message naming it.
func TestMetricsAddrMustBePrivate(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:9090", ":9090", "8.8.8.8:9090"} {
		cmd := exec.Command(binary, "serve", "--addr", freeAddr(t), "--database", t.TempDir()+"/g.db")
		cmd.Env = append(os.Environ(), "GRANTD_METRICS_ADDR="+addr)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "GRANTD_METRICS_ADDR") {
			t.Errorf("serve with GRANTD_METRICS_ADDR=%s: %v, %s; want a failure naming the setting", addr, err, out)
		}
	}
}

// TestJSONLogsAndAuditEvents: with GRANTD_LOG_FORMAT=json every line is a
// JSON object; a device flow's audit events — signed in, a failed sign-in,
// device grant decided, redeemed — carry the request id, the client id and the user id,
// like the access log's lines carry the request id; and no code, token or
// secret appears (GEN-04). The command line's changes are audit events
// too.
func TestJSONLogsAndAuditEvents(t *testing.T) {
	db := backends[0].database(t)
	secret := liveSetup(t, db)
	alice := ok[map[string]string](t, db, "", "user", "create", "--username", "alice", "--password", "correct horse")
	base, logs := serveWith(t, db, "GRANTD_LOG_FORMAT=json")
	tok := deviceTokens(t, base, "tv", secret)
	signInStatus(t, base, "alice", "not her password", http.StatusBadRequest)

	want := map[string][]string{ // audit event → the attributes it must carry
		"signed in":             {"user_id", "request_id"},
		"sign-in failed":        {"user_id", "request_id", "reason"},
		"device grant decided":  {"client_id", "user_id", "request_id", "approved"},
		"device grant redeemed": {"client_id", "user_id", "request_id"},
		"request":               {"request_id", "status", "path"},
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		found := jsonEvents(t, logs.String())
		missing := ""
		for msg, attrs := range want {
			e, seen := found[msg]
			for _, a := range attrs {
				if !seen || e[a] == nil || e[a] == "" {
					missing = msg + " " + a
				}
			}
			if seen && e["user_id"] != nil && e["user_id"] != alice["id"] {
				t.Errorf("%s: user_id %v, want alice's %s", msg, e["user_id"], alice["id"])
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the log:\n%s", missing, logs)
		}
		time.Sleep(100 * time.Millisecond) // grantd serve, another process, batches its log
	}
	for name, v := range map[string]string{"access token": tok["access_token"], "refresh token": tok["refresh_token"],
		"client secret": secret, "password": "correct horse", "wrong password": "not her password"} {
		if strings.Contains(logs.String(), v) {
			t.Errorf("the %s appears in the log (GEN-04)", name)
		}
	}

	cmd := exec.Command(binary, "client", "disable", "tv", "--database", db)
	cmd.Env = append(os.Environ(), "GRANTD_LOG_FORMAT=json", "USER=ops")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	e := jsonEvents(t, stderr.String())["client disabled"]
	if e["event"] != "client.disabled" || e["client_id"] != "tv" || e["actor"] != "cli:ops" {
		t.Errorf("audit event of client disable: %v", e)
	}
}

// jsonEvents parses log lines, each of which must be a JSON object, and
// returns the last of each message.
func jsonEvents(t *testing.T, log string) map[string]map[string]any {
	t.Helper()
	events := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("a log line is not JSON: %q", sc.Text())
		}
		msg, _ := e["msg"].(string)
		if v, ok := e["approved"].(bool); ok {
			e["approved"] = strconv.FormatBool(v)
		}
		events[msg] = e
	}
	return events
}
