package main_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fileLimit is the open-file limit, soft and hard, that the burst tests give
// the server: small, so that a few hundred connections exhaust it.
const fileLimit = 256

// serveLimited starts `grantd serve --demo` with an open-file limit of
// fileLimit and the environment env, and stops it when the test ends.
func serveLimited(t *testing.T, env ...string) (base string, out map[string]string) {
	t.Helper()
	addr := freeAddr(t)
	// The shell sets both limits, so that grantd cannot raise its own.
	cmd := exec.Command("/bin/sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, fileLimit),
		binary, "serve", "--demo", "--addr", addr, "--database", filepath.Join(t.TempDir(), "g.db"))
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd, out = serveDemoWith(t, cmd)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		waitExit(cmd, 30*time.Second)
		if t.Failed() {
			t.Logf("server log:\n%s", stderr.String())
		}
	})
	if out["DeviceClientSecret"] == "" {
		t.Fatalf("server did not start: %v\n%s", out, stderr.String())
	}
	return "http://" + addr, out
}

// flood opens n connections to base that send nothing, and returns them.
func flood(t *testing.T, base string, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for range n {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() { closeAll(conns) })
	return conns
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// deviceAuthorization asks for a device code with the demo client through
// client and returns the status, or 0 and the error.
func deviceAuthorization(client *http.Client, base string, out map[string]string) (int, error) {
	req, _ := http.NewRequest("POST", base+"/device_authorization", strings.NewReader(url.Values{"scope": {"openid"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(out["DeviceClientId"], out["DeviceClientSecret"])
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// within retries a device authorization on fresh connections until it gets
// 200, for at most d, and returns how long that took.
func within(t *testing.T, base string, out map[string]string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < d {
		client := &http.Client{Timeout: d, Transport: &http.Transport{DisableKeepAlives: true}}
		code, err := deviceAuthorization(client, base, out)
		if code == http.StatusOK {
			return time.Since(start)
		}
		last = fmt.Sprint(code, err)
		time.Sleep(100 * time.Millisecond) // grantd serve is another process, freeing its connections
	}
	t.Fatalf("no device authorization within %v; last answer %s", d, last)
	return 0
}

func healthz(t *testing.T, base string) int {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + "/healthz")
	if err != nil {
		t.Fatalf("/healthz: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestConnectionBurstCapped: with the default connection limit (half the
// open-file limit), a burst of idle connections larger than the whole
// descriptor table takes no descriptor the store needs. A device whose
// keep-alive connection was open before the burst is served throughout,
// never with the store's 503, and new clients are served at once after it.
func TestConnectionBurstCapped(t *testing.T) {
	base, out := serveLimited(t)
	early := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	if code, err := deviceAuthorization(early, base, out); code != 200 {
		t.Fatalf("before the burst: %d %v", code, err)
	}
	conns := flood(t, base, 2*fileLimit)
	for i := range 20 {
		if code, err := deviceAuthorization(early, base, out); code != 200 {
			t.Fatalf("device authorization %d during the burst, on a connection opened before it: %d %v", i, code, err)
		}
	}
	closeAll(conns)
	if took := within(t, base, out, 10*time.Second); took > 6*time.Second {
		t.Errorf("a new client was served %v after the burst", took)
	}
	if code := healthz(t, base); code != 200 {
		t.Errorf("/healthz after the burst: %d", code)
	}
}

// TestStoreHealsAfterDescriptorsRunOut is the attack that once stopped the
// SQLite store until a restart: with a connection limit above the
// open-file limit (GRANTD_MAX_CONNECTIONS set too high), a burst of
// connections takes every descriptor while writes go on. Once the burst
// ends the store answers again within seconds, with no restart, and
// /healthz never reports it failed.
func TestStoreHealsAfterDescriptorsRunOut(t *testing.T) {
	base, out := serveLimited(t, "GRANTD_MAX_CONNECTIONS=100000")
	// A keep-alive connection opened before the burst, to write through it.
	early := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	if code, err := deviceAuthorization(early, base, out); code != 200 {
		t.Fatalf("before the burst: %d %v", code, err)
	}
	conns := flood(t, base, 2*fileLimit)
	for range 5 {
		code, err := deviceAuthorization(early, base, out)
		if err == nil && code != 200 && code != 503 {
			t.Errorf("write while descriptors are out: %d, want 200 or 503", code)
		}
	}
	closeAll(conns)
	if took := within(t, base, out, 10*time.Second); took > 5*time.Second {
		t.Errorf("the store answered %v after the burst, want within 5s", took)
	}
	if code := healthz(t, base); code != 200 {
		t.Errorf("/healthz after the burst: %d, want 200", code)
	}
}
