package main_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeMemory: `grantd serve --database memory:`, or GRANTD_DATABASE=
// memory:, serves the device flow from memory over HTTP, says at start
// that nothing is kept, and writes no file: no database, no secret key.
func TestServeMemory(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  string
	}{
		{"flag", []string{"--database", "memory:"}, "GRANTD_DATABASE=ignored.db"}, // in the working directory, if it were used
		{"environment", nil, "GRANTD_DATABASE=memory:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, addr := t.TempDir(), freeAddr(t)
			cmd := exec.Command(binary, append([]string{"serve", "--demo", "--addr", addr}, tt.args...)...)
			cmd.Dir, cmd.Env = dir, append(os.Environ(), tt.env)
			var stderr strings.Builder // read once the process has exited
			cmd.Stderr = &stderr
			cmd, out := serveDemoWith(t, cmd)
			stopped := false
			defer func() {
				if !stopped {
					cmd.Process.Kill()
					cmd.Wait()
				}
			}()

			deviceCode := memoryDeviceAuthorization(t, out)
			form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode}}
			req, _ := http.NewRequest("POST", "http://"+addr+"/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(out["DeviceClientId"], out["DeviceClientSecret"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("poll of the new device code: %d, want 400 authorization_pending", resp.StatusCode)
			}

			cmd.Process.Signal(syscall.SIGTERM)
			stopped = true
			if err := waitExit(cmd, 20*time.Second); err != nil {
				t.Fatalf("after SIGTERM: %v; want a clean exit", err)
			}
			logs := stderr.String()
			if !strings.Contains(logs, "database memory: keeps everything in this process's memory") ||
				!strings.Contains(logs, "database=memory:") {
				t.Errorf("start-up log %q: want the warning that nothing is kept, and database=memory:", logs)
			}
			if files, err := os.ReadDir(dir); err != nil || len(files) != 0 {
				t.Errorf("working directory after serve on memory: %v, %v; want it empty", files, err)
			}
		})
	}
}

// memoryDeviceAuthorization starts a device flow with the demo client whose
// credentials out holds and returns the device code.
func memoryDeviceAuthorization(t *testing.T, out map[string]string) string {
	t.Helper()
	if out["DeviceClientId"] != "demo-device" || len(out["DeviceClientSecret"]) < 43 {
		t.Fatalf("demo outputs %v", out)
	}
	req, _ := http.NewRequest("POST", out["DeviceAuthorizationEndpoint"], strings.NewReader(url.Values{"scope": {"openid"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(out["DeviceClientId"], out["DeviceClientSecret"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		DeviceCode string `json:"device_code"`
		UserCode   string `json:"user_code"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.DeviceCode == "" || body.UserCode == "" {
		t.Fatalf("device authorization on memory: %d, %+v, %v", resp.StatusCode, body, err)
	}
	return body.DeviceCode
}

// TestAdminCommandsRefuseMemory: a command other than serve runs in a
// process of its own, which cannot reach a server's memory, so it refuses
// the memory database with a usage error saying why, and writes nothing.
func TestAdminCommandsRefuseMemory(t *testing.T) {
	for _, args := range [][]string{
		{"client", "list"},
		{"client", "create", "--id", "tv"},
		{"user", "create", "--username", "alice", "--password", "correct horse"},
		{"grant", "list", "--user", "alice"},
		{"scope", "list"},
		{"upstream", "list"},
		{"keys", "list"},
		{"keys", "rotate"},
		{"secrets", "rekey", "--old-key-file", "old.key"},
		{"migrate"},
		{"client", "list", "--database", "memory:"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(binary, args...)
			cmd.Dir, cmd.Env = dir, append(os.Environ(), "GRANTD_DATABASE=memory:")
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit: %v; want status 2 (usage)", err)
			}
			if !strings.HasPrefix(stderr.String(), "grantd: database memory: lives inside one grantd serve process") ||
				stdout.String() != "" {
				t.Errorf("stdout %q, stderr %q; want nothing, and the reason on one line", stdout.String(), stderr.String())
			}
			if files, _ := os.ReadDir(dir); len(files) != 0 {
				t.Errorf("refused command left %v", files)
			}
		})
	}
}
