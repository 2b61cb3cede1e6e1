package httpserver_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/browsertest"
)

// TestBrowserDeviceFlow is the whole device flow as people and devices do it:
// golang.org/x/oauth2's device-flow client polls while a user, in real
// headless Chromium, opens verification_uri_complete, signs in, continues
// with the pre-filled code and approves (DEV-11, DEV-12).
func TestBrowserDeviceFlow(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
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
		chromedp.WaitVisible(browsertest.Input("Username")), browsertest.Screenshot("1-signin"),
		chromedp.SendKeys(browsertest.Input("Username"), "alice"),
		chromedp.SendKeys(browsertest.Input("Password"), "correct horse battery"),
		chromedp.Click(browsertest.Button("Sign in")),
		chromedp.WaitVisible(browsertest.Input("User code")), browsertest.Screenshot("2-code"),
		chromedp.Value(browsertest.Input("User code"), &prefilled),
		chromedp.Click(browsertest.Button("Continue")),
		chromedp.WaitVisible(browsertest.Button("Approve")), browsertest.Screenshot("3-confirm"),
		chromedp.Text(`main`, &confirmation),
		chromedp.Click(browsertest.Button("Approve")),
		chromedp.WaitNotPresent(browsertest.Button("Approve")), browsertest.Screenshot("4-done"),
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
