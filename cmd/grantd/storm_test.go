package main_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds the storm tests assert, documented in the README ("Security
// choices"). They hold on a 2-core machine with room to spare: before the
// password checks were bounded, 256 concurrent wrong secrets took the
// server to 5 GB and /healthz to a p99 of 4.5 s.
const (
	stormPeakRSS = 250 << 20       // the server's peak resident memory
	stormP99     = 2 * time.Second // /healthz and a device poll, during a storm: 35–60 ms on an idle 2-core machine
)

// stormServer starts `grantd serve --demo` with budgets wide enough that a
// storm from one address stands for one from many, a client "chosen" whose
// secret an operator chose (so argon2id-hashed), and returns its address,
// demo outputs and process id.
func stormServer(t *testing.T) (base string, out map[string]string, pid int) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "g.db")
	if _, errOut, code := grantd(t, db, "", "client", "create", "--id", "chosen", "--secret", "an operator's chosen secret",
		"--scope", "openid"); code != 0 {
		t.Fatalf("client create: %s", errOut)
	}
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--demo", "--addr", addr, "--database", db)
	cmd.Env = append(os.Environ(), "GRANTD_DATABASE="+db,
		"GRANTD_CLIENT_AUTH_LIMIT=1000000/1m", "GRANTD_SIGN_IN_LIMIT_ACCOUNT=1000000/1m",
		"GRANTD_SIGN_IN_LIMIT_IP=1000000/1m", "GRANTD_SIGN_IN_LIMIT_GLOBAL=1000000/1m")
	cmd, out = serveDemoWith(t, cmd)
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); waitExit(cmd, 30*time.Second) })
	return "http://" + addr, out, cmd.Process.Pid
}

// peakRSS returns the peak resident memory of process pid (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("cannot read the server's memory: %v", err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(status)
	if m == nil {
		t.Skip("no VmHWM in /proc/PID/status")
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// storm runs n concurrent calls of do, and returns their outcomes by name.
func storm(n int, do func(i int) string) map[string]int {
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got := do(i)
			mu.Lock()
			counts[got]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return counts
}

// probe times GET /healthz and a device poll every few milliseconds until
// stop closes, and returns the p99 of each.
func probe(t *testing.T, base string, out map[string]string, stop <-chan struct{}) (health, poll time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	code := deviceCode(t, client, base, out)
	var healths, polls []time.Duration
	for {
		select {
		case <-stop:
			return p99(healths), p99(polls)
		case <-time.After(20 * time.Millisecond):
		}
		start := time.Now()
		if resp, err := client.Get(base + "/healthz"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		healths = append(healths, time.Since(start))
		start = time.Now()
		req, _ := http.NewRequest("POST", base+"/token", strings.NewReader(url.Values{
			"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {code}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(out["DeviceClientId"], out["DeviceClientSecret"])
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		polls = append(polls, time.Since(start))
	}
}

func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[(len(ds)*99)/100]
}

func deviceCode(t *testing.T, client *http.Client, base string, out map[string]string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/device_authorization", strings.NewReader("scope=openid"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(out["DeviceClientId"], out["DeviceClientSecret"])
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`"device_code":"([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("device authorization: %s", body)
	}
	return string(m[1])
}

// authorize asks for a device code as client id with secret, returning the
// status.
func authorize(client *http.Client, base, id, secret string) string {
	req, _ := http.NewRequest("POST", base+"/device_authorization", strings.NewReader("scope=openid"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := client.Do(req)
	if err != nil {
		return "error"
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

// TestStormWrongSecrets: 256 concurrent requests with wrong secrets of a
// client whose secret is argon2id-hashed (budgets opened wide, as if from
// 256 addresses) keep the server's memory bounded, and /healthz and a
// device poll answer within the bound throughout; every request gets 401,
// or 503 with Retry-After when no check could start in time.
func TestStormWrongSecrets(t *testing.T) {
	base, out, pid := stormServer(t)
	stop := make(chan struct{})
	var health, poll time.Duration
	probed := make(chan struct{})
	go func() { health, poll = probe(t, base, out, stop); close(probed) }()
	counts := storm(256, func(i int) string {
		return authorize(&http.Client{Timeout: 60 * time.Second}, base, "chosen", "wrong secret "+strconv.Itoa(i))
	})
	close(stop)
	<-probed
	rss := peakRSS(t, pid)
	t.Logf("256 wrong secrets: %v; peak RSS %d MiB; p99 /healthz %v, device poll %v", counts, rss>>20, health, poll)
	if counts["401"]+counts["503"] != 256 {
		t.Errorf("answers %v, want only 401 and 503", counts)
	}
	if rss > stormPeakRSS {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", rss>>20, stormPeakRSS>>20)
	}
	if health > stormP99 || poll > stormP99 {
		t.Errorf("p99 during the storm: /healthz %v, device poll %v; want at most %v", health, poll, stormP99)
	}
}

// TestStormFleetAfterRestart: a fresh server's first 32 concurrent requests
// of one client with the right (argon2id-hashed) secret — a fleet behind
// one NAT after a restart — all succeed: they share one check.
func TestStormFleetAfterRestart(t *testing.T) {
	base, _, pid := stormServer(t)
	counts := storm(32, func(int) string {
		return authorize(&http.Client{Timeout: 60 * time.Second}, base, "chosen", "an operator's chosen secret")
	})
	rss := peakRSS(t, pid)
	t.Logf("32 right secrets on a fresh server: %v; peak RSS %d MiB", counts, rss>>20)
	if counts["200"] != 32 {
		t.Errorf("answers %v, want 32 × 200", counts)
	}
	if rss > stormPeakRSS {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", rss>>20, stormPeakRSS>>20)
	}
}

// TestStormUnknownUsers: 128 concurrent sign-ins with unknown user names
// keep the server's memory bounded: they cost the time of a password check
// each, but no hash.
func TestStormUnknownUsers(t *testing.T) {
	base, out, pid := stormServer(t)
	stop := make(chan struct{})
	var health, poll time.Duration
	probed := make(chan struct{})
	go func() { health, poll = probe(t, base, out, stop); close(probed) }()
	counts := storm(128, func(i int) string { return signIn(base, "nobody"+strconv.Itoa(i), "whatever") })
	close(stop)
	<-probed
	rss := peakRSS(t, pid)
	t.Logf("128 unknown users: %v; peak RSS %d MiB; p99 /healthz %v, device poll %v", counts, rss>>20, health, poll)
	if counts["400"]+counts["503"] != 128 {
		t.Errorf("answers %v, want only 400 and 503", counts)
	}
	if rss > stormPeakRSS {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", rss>>20, stormPeakRSS>>20)
	}
	if health > stormP99 || poll > stormP99 {
		t.Errorf("p99 during the storm: /healthz %v, device poll %v; want at most %v", health, poll, stormP99)
	}
}

// signIn fetches the sign-in form and posts it, returning the status.
func signIn(base, username, password string) string {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/signin")
	if err != nil {
		return "error"
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		return "no form"
	}
	resp, err = client.PostForm(base+"/signin", url.Values{"csrf_token": {string(m[1])}, "username": {username}, "password": {password}})
	if err != nil {
		return "error"
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}
