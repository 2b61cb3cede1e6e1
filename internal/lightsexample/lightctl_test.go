package lightsexample

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/creack/pty"
	"golang.org/x/oauth2"

	"github.com/grantd/grantd/internal/browsertest"
	"github.com/grantd/grantd/internal/lightctl"
	"github.com/grantd/grantd/internal/lights"
)

// terminal collects what a program writes to its pseudo-terminal.
type terminal struct {
	mu  sync.Mutex
	buf strings.Builder
	// wrote, when not nil, is closed at the next Write.
	wrote chan struct{}
}

func (tm *terminal) Write(p []byte) (int, error) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.wrote != nil {
		close(tm.wrote)
		tm.wrote = nil
	}
	return tm.buf.Write(p)
}

func (tm *terminal) String() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.buf.String()
}

// next returns what the terminal shows and a channel closed at the next
// write to it.
func (tm *terminal) next() (string, <-chan struct{}) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.wrote == nil {
		tm.wrote = make(chan struct{})
	}
	return tm.buf.String(), tm.wrote
}

// waitFor waits until the terminal shows a match of re and returns it. It
// looks again at each write of the program, a process of its own.
func (tm *terminal) waitFor(t *testing.T, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		shown, wrote := tm.next()
		if m := re.FindString(shown); m != "" {
			return m
		}
		select {
		case <-wrote:
		case <-deadline:
			t.Fatalf("the terminal never showed %v:\n%s", re, tm.String())
		}
	}
}

// TestLightctlLogin runs `lightctl login` under a pseudo-terminal as a
// person would, approves the code in headless Chromium through the QR
// code's link, and switches a bulb with the saved tokens; logout revokes
// and removes them.
func TestLightctlLogin(t *testing.T) {
	c := startChain(t, func(db string) {
		command(t, nil, "grantd", "client", "create", "--database", db, "--id", "lightctl", "--name", "Lights TV app",
			"--public", "--scope", "lights:read", "--scope", "lights:write", "--audience", audience)
	})
	cfgDir := filepath.Join(t.TempDir(), "config")
	env := []string{"LIGHTCTL_CONFIG_DIR=" + cfgDir}

	login := exec.Command(filepath.Join(bin, "lightctl"), "login", "--issuer", c.grantd.URL,
		"--client-id", "lightctl", "--lights", c.lightsd.URL)
	login.Env = append(os.Environ(), env...)
	tty, err := pty.StartWithSize(login, &pty.Winsize{Rows: 60, Cols: 120})
	if err != nil {
		t.Fatalf("start lightctl login under a pty: %v", err)
	}
	defer tty.Close()
	screen := &terminal{}
	go io.Copy(screen, tty)
	exited := make(chan error, 1)
	go func() { exited <- login.Wait() }()

	link := screen.waitFor(t, regexp.MustCompile(`http://\S+/device\?user_code=[A-Z0-9-]+`), 20*time.Second)
	userCode := screen.waitFor(t, regexp.MustCompile(`code [A-Z0-9]{4}-[A-Z0-9]{4}`), time.Second)
	if !strings.Contains(screen.String(), "█") {
		t.Errorf("no QR code on the terminal:\n%s", screen.String())
	}
	ctx := browsertest.New(t)
	var confirm string
	err = chromedp.Run(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(browsertest.Input("Username")),
		chromedp.SendKeys(browsertest.Input("Username"), "alice"),
		chromedp.SendKeys(browsertest.Input("Password"), "correct horse battery"),
		chromedp.Click(browsertest.Button("Sign in")),
		chromedp.WaitVisible(browsertest.Button("Continue")),
		chromedp.Click(browsertest.Button("Continue")),
		chromedp.WaitVisible(browsertest.Button("Approve")),
		chromedp.Text("main", &confirm),
		chromedp.Click(browsertest.Button("Approve")),
		chromedp.WaitNotPresent(browsertest.Button("Approve")),
	)
	if err != nil {
		t.Fatalf("approve in the browser: %v", err)
	}
	if !strings.Contains(confirm, strings.TrimPrefix(userCode, "code ")) || !strings.Contains(confirm, "Lights TV app") {
		t.Errorf("the approval page does not show the terminal's code %s and the app:\n%s", userCode, confirm)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("lightctl login: %v\n%s", err, screen.String())
		}
		// The pseudo-terminal's last lines may reach the screen after the
		// process has exited.
		screen.waitFor(t, regexp.MustCompile(`Signed in`), 5*time.Second)
	case <-time.After(30 * time.Second):
		t.Fatalf("lightctl login did not finish:\n%s", screen.String())
	}
	if fi, err := os.Stat(filepath.Join(cfgDir, "session.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("session file: %v, %v; want mode 0600", fi, err)
	}

	bulb := c.bulbs["alice"][0]
	if out := command(t, env, "lightctl", "bulbs"); !strings.Contains(out, bulb) || strings.Contains(out, c.bulbs["bob"][0]) {
		t.Errorf("lightctl bulbs:\n%s\nwant alice's bulbs only", out)
	}
	if out := command(t, env, "lightctl", "on", bulb); !strings.Contains(out, ": on") {
		t.Errorf("lightctl on: %q", out)
	}
	command(t, env, "lightctl", "brightness", bulb, "30")
	st, err := lights.Open(context.Background(), c.lightsDB)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if b, err := st.Bulb(context.Background(), c.users["alice"], bulb); err != nil || !b.On || b.Brightness != 30 {
		t.Errorf("the bulb in lightsd: %+v, %v; want on at 30%%", b, err)
	}
	session, err := lightctl.Load(cfgDir)
	if err != nil {
		t.Fatal(err)
	}
	if out := command(t, env, "lightctl", "logout"); !strings.Contains(out, "Signed out") {
		t.Errorf("lightctl logout: %q", out)
	}
	cfg := &oauth2.Config{ClientID: "lightctl", Endpoint: oauth2.Endpoint{TokenURL: c.grantd.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	_, err = cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: session.Token.RefreshToken}).Token()
	if re, ok := err.(*oauth2.RetrieveError); !ok || re.ErrorCode != "invalid_grant" {
		t.Errorf("REV-03: the refresh token after logout: %v; want invalid_grant", err)
	}
	if _, err := os.Stat(filepath.Join(cfgDir, "session.json")); !os.IsNotExist(err) {
		t.Errorf("session file after logout: %v; want it gone", err)
	}
}
