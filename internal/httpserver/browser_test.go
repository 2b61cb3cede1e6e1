package httpserver_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/grantd/grantd/internal/admin"
)

// chromiumPath finds Debian's Chromium. Without it the browser tests skip,
// except in CI (CI set), where a missing browser is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("GRANTD_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Chromium not found at %s (install the Debian package chromium): %v", path, err)
		}
		t.Skipf("Chromium not found at %s: install it (apt-get install -y chromium) or set GRANTD_CHROMIUM", path)
	}
	return path
}

// browser starts headless Chromium with the flags this machine needs: no
// sandbox as root, and no background traffic to the closed network.
func browser(t *testing.T) context.Context {
	t.Helper()
	// The profile is removed after Chromium has exited, which t.TempDir's
	// own cleanup cannot wait for.
	profile, err := os.MkdirTemp("", "grantd-chromium")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(412, 915), // a phone
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		chromedp.Cancel(ctx) // closes the browser and waits for it
		cancelTimeout()
		cancel()
		cancelAlloc()
		os.RemoveAll(profile)
	})
	return ctx
}

// Selectors by the visible contract of the pages: labels and button names.
func input(label string) string {
	return `//input[@id=//label[normalize-space()='` + label + `']/@for]`
}

func button(name string) string { return `//button[normalize-space()='` + name + `']` }

// screenshot saves a full-page PNG when GRANTD_SCREENSHOTS names a folder.
func screenshot(name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		dir := os.Getenv("GRANTD_SCREENSHOTS")
		if dir == "" {
			return nil
		}
		var png []byte
		if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	})
}

// TestBrowserDeviceFlow is the whole device flow as people and devices do it:
// golang.org/x/oauth2's device-flow client polls while a user, in real
// headless Chromium, opens verification_uri_complete, signs in, continues
// with the pre-filled code and approves (DEV-11, DEV-12).
func TestBrowserDeviceFlow(t *testing.T) {
	ctx := browser(t)
	e := newWallEnv(t, map[string]string{"POLLING_INTERVAL": "1"})
	secret := e.client(admin.ClientSpec{ID: "tv", Name: "Living-room TV", Scopes: []string{"openid", "lights:read"}})
	user := e.user("alice")
	cfg := &oauth2.Config{ClientID: "tv", ClientSecret: secret, Scopes: []string{"lights:read"},
		Endpoint: oauth2.Endpoint{DeviceAuthURL: e.srv.URL + "/device_authorization", TokenURL: e.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	da, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("client_secret", secret))
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		tok, err := cfg.DeviceAccessToken(ctx, da)
		done <- result{tok, err}
	}()

	var prefilled, shownCode, confirmation, outcome string
	err = chromedp.Run(ctx,
		chromedp.Navigate(da.VerificationURIComplete),
		chromedp.WaitVisible(input("Username")), screenshot("1-signin"),
		chromedp.SendKeys(input("Username"), "alice"),
		chromedp.SendKeys(input("Password"), "correct horse battery"),
		chromedp.Click(button("Sign in")),
		chromedp.WaitVisible(input("User code")), screenshot("2-code"),
		chromedp.Value(input("User code"), &prefilled),
		chromedp.Click(button("Continue")),
		chromedp.WaitVisible(button("Approve")), screenshot("3-confirm"),
		chromedp.Text(`main`, &confirmation),
		chromedp.Click(button("Approve")),
		chromedp.WaitNotPresent(button("Approve")), screenshot("4-done"),
		chromedp.Text(`main`, &outcome),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	shownCode = da.UserCode
	if prefilled != da.UserCode {
		t.Errorf("code field pre-filled with %q, want %q", prefilled, da.UserCode)
	}
	for _, want := range []string{shownCode, "Living-room TV", "lights:read"} {
		if !strings.Contains(confirmation, want) {
			t.Errorf("confirmation page lacks %q:\n%s", want, confirmation)
		}
	}
	if !strings.Contains(outcome, "return to your device") {
		t.Errorf("result page does not send the user back to the device:\n%s", outcome)
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("DeviceAccessToken: %v", res.err)
	}
	if _, c := e.verify(res.tok.AccessToken, jose.RS256); c["sub"] != user.ID || c["client_id"] != "tv" {
		t.Errorf("access token sub, client_id = %v, %v; want %s, tv", c["sub"], c["client_id"], user.ID)
	}
}
