// Package browsertest starts Debian's headless Chromium for tests, with the
// flags this machine needs, and names page elements by their visible
// contract: labels and button names.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath finds Debian's Chromium ($GRANTD_CHROMIUM, else
// /usr/bin/chromium). Without it the test skips, except in CI (CI set),
// where a missing browser is a failure.
func ChromiumPath(t testing.TB) string {
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

// New starts headless Chromium the size of a phone and returns a chromedp
// context for it, closed when the test ends. It runs as root without a
// sandbox and makes no background traffic to the closed network.
func New(t testing.TB) context.Context {
	return NewSized(t, 412, 915)
}

// NewSized is New with a window of width × height CSS pixels.
func NewSized(t testing.TB, width, height int) context.Context {
	t.Helper()
	// The profile is removed after Chromium has exited, which t.TempDir's
	// own cleanup cannot wait for.
	profile, err := os.MkdirTemp("", "grantd-chromium")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	// NewContext's own cancel is not called: chromedp.Cancel does its work,
	// and after a Cancel of a browser that never started (a test that
	// failed before its first action) it would wait for ever.
	ctx, _ := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		chromedp.Cancel(ctx) // closes the browser and waits for it
		cancelTimeout()
		cancelAlloc()
		os.RemoveAll(profile)
	})
	return ctx
}

// Input is the XPath of the input that the label with this text names.
func Input(label string) string {
	return `//input[@id=//label[normalize-space()='` + label + `']/@for]`
}

// Button is the XPath of the button with this visible name.
func Button(name string) string { return `//button[normalize-space()='` + name + `']` }

// Screenshot saves a full-page PNG named name when GRANTD_SCREENSHOTS names
// a folder, and does nothing otherwise.
func Screenshot(name string) chromedp.Action {
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
