package lightsexample

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/grantd/grantd/internal/browsertest"
	"github.com/grantd/grantd/internal/connector"
	"github.com/grantd/grantd/internal/connector/connectortest"
	"github.com/grantd/grantd/internal/lightsapi"
)

const (
	platformSecret = "platform-secret-0123456789"
	connectorID    = "lights-c2c"
)

// TestChain is the whole chain on loopback: a platform-style client links
// alice's account through /authorize with PKCE in headless Chromium, as
// managed integrations would; the connector activates her, discovers her
// bulbs, turns one on (the bulb's state changes in lightsd); a change made
// in lightsd reaches the platform as a DEVICE_EVENT; bob's token can
// neither see nor switch alice's bulb (AZ-27); DeactivateUser leaves
// alice's refresh token dead (REV-03).
func TestChain(t *testing.T) {
	callback, codes := platformCallback(t)
	c := startChain(t, func(db string) {
		command(t, nil, "grantd", "client", "create", "--database", db, "--id", "aws-c2c", "--name", "Acme Cloud",
			"--secret", platformSecret, "--grant-type", "authorization_code", "--grant-type", "refresh_token",
			"--redirect-uri", callback, "--scope", "openid", "--scope", "lights:read", "--scope", "lights:write",
			"--auth-method", "HTTP_BASIC", "--audience", audience, "--introspect", "--revoke-ends-grant")
	})
	platform := connectortest.New(t)
	conn := start(t, []string{"LIGHTS_CONNECTOR_CLIENT_SECRET=" + platformSecret, "LIGHTS_CONNECTOR_WEBHOOK_SECRET=whsec-0123456789abcdef",
		"AWS_ACCESS_KEY_ID=" + connectortest.Credentials.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + connectortest.Credentials.SecretAccessKey},
		"lights-connector", "--addr", "127.0.0.1:0", "--issuer", c.grantd.URL, "--audience", audience, "--lights", c.lightsd.URL,
		"--client-id", "aws-c2c", "--connector-id", connectorID, "--region", connectortest.Region, "--events-endpoint", platform.URL)

	cfg := &oauth2.Config{ClientID: "aws-c2c", ClientSecret: platformSecret, RedirectURL: callback,
		Scopes:   []string{"openid", "lights:read", "lights:write"},
		Endpoint: oauth2.Endpoint{AuthURL: c.grantd.URL + "/authorize", TokenURL: c.grantd.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	alice := link(t, cfg, codes, "alice")
	bob := link(t, cfg, codes, "bob")
	aliceID, bulb, other := c.users["alice"], c.bulbs["alice"][0], c.bulbs["alice"][1]

	r := invoke(t, conn, connector.OpActivateUser, alice.AccessToken, nil)
	if r.Header.ResponseCode != 200 || r.Payload.UserID != aliceID {
		t.Fatalf("ActivateUser: %+v; want 200 with userId %s", r, aliceID)
	}
	if r := invoke(t, conn, connector.OpDiscoverDevices, alice.AccessToken, map[string]any{"deviceDiscoveryId": "disc-1"}); r.Header.ResponseCode != 200 {
		t.Fatalf("DiscoverDevices: %+v", r)
	}
	d := platform.Wait(t, connector.EventDeviceDiscovery, 20*time.Second).Event
	var found []string
	for _, dev := range d.Devices {
		found = append(found, dev.ConnectorDeviceID)
	}
	slices.Sort(found)
	if d.UserID != aliceID || d.DeviceDiscoveryID != "disc-1" || fmt.Sprint(found) != fmt.Sprint(sorted(c.bulbs["alice"])) {
		t.Errorf("DEVICE_DISCOVERY for %s of %v; want alice's bulbs %v", d.UserID, found, c.bulbs["alice"])
	}

	on := map[string]any{"connectorDeviceId": bulb, "traceId": "trace-on", "endpoints": []any{map[string]any{"id": "1",
		"clusters": []any{map[string]any{"id": "0x0006", "commands": []any{map[string]any{"0x01": map[string]any{}}}}}}}}
	if r := invoke(t, conn, connector.OpSendCommand, alice.AccessToken, on); r.Header.ResponseCode != 200 {
		t.Fatalf("SendCommand: %+v", r)
	}
	if ev := platform.Wait(t, connector.EventDeviceCommandResponse, 20*time.Second).Event; ev.TraceID != "trace-on" || ev.StatusCode != 200 {
		t.Errorf("DEVICE_COMMAND_RESPONSE %+v", ev)
	}
	lights := &lightsapi.Client{BaseURL: c.lightsd.URL, Token: alice.AccessToken}
	if b, err := lights.Bulb(t.Context(), bulb); err != nil || !b.On {
		t.Errorf("alice's bulb in lightsd after On: %+v, %v; want it on", b, err)
	}
	waitDeviceEvent(t, platform, bulb, true) // the command's own change, through the webhook
	command(t, nil, "lightsd", "set", "--db", c.lightsDB, "--bulb", other, "--on")
	if ev := waitDeviceEvent(t, platform, other, true); ev.UserID != aliceID {
		t.Errorf("DEVICE_EVENT for user %q, want alice", ev.UserID)
	}

	// AZ-27: bob's token sees and switches only bob's bulbs.
	bobLights := &lightsapi.Client{BaseURL: c.lightsd.URL, Token: bob.AccessToken}
	if _, err := bobLights.Bulb(t.Context(), bulb); lightsapi.HTTPStatus(err) != 404 {
		t.Errorf("AZ-27: bob reads alice's bulb at lightsd: %v, want 404", err)
	}
	if _, err := bobLights.Command(t.Context(), bulb, lightsapi.Command{Command: "off"}); lightsapi.HTTPStatus(err) != 404 {
		t.Errorf("AZ-27: bob commands alice's bulb at lightsd: %v, want 404", err)
	}
	off := strings.Replace(mustJSON(t, on), `"0x01"`, `"0x00"`, 1)
	var offPayload map[string]any
	json.Unmarshal([]byte(off), &offPayload)
	if r := invoke(t, conn, connector.OpSendCommand, bob.AccessToken, offPayload); r.Header.ResponseCode != 404 {
		t.Errorf("AZ-27: bob switches alice's bulb through the connector: %+v, want 404", r)
	}
	invoke(t, conn, connector.OpDiscoverDevices, bob.AccessToken, map[string]any{"deviceDiscoveryId": "disc-bob"})
	if d := platform.Wait(t, connector.EventDeviceDiscovery, 20*time.Second).Event; len(d.Devices) != 1 || d.Devices[0].ConnectorDeviceID != c.bulbs["bob"][0] {
		t.Errorf("AZ-27: bob's discovery found %+v; want bob's one bulb", d.Devices)
	}
	if b, err := lights.Bulb(t.Context(), bulb); err != nil || !b.On {
		t.Errorf("alice's bulb after bob's attempts: %+v, %v; want it still on", b, err)
	}

	// DeactivateUser ends the link: the refresh token the platform keeps is dead.
	if r := invoke(t, conn, connector.OpDeactivateUser, alice.AccessToken, nil); r.Header.ResponseCode != 200 {
		t.Fatalf("DeactivateUser: %+v", r)
	}
	_, err := cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: alice.RefreshToken}).Token()
	if re, ok := err.(*oauth2.RetrieveError); !ok || re.ErrorCode != "invalid_grant" {
		t.Errorf("REV-03: alice's refresh token after DeactivateUser: %v; want invalid_grant", err)
	}
	if _, err := cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: bob.RefreshToken}).Token(); err != nil {
		t.Errorf("bob's refresh token after alice unlinked: %v; want it alive", err)
	}
}

// platformCallback is the platform's redirect endpoint; it hands each
// authorization response to the test.
func platformCallback(t *testing.T) (string, <-chan url.Values) {
	got := make(chan url.Values, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/callback" {
			http.NotFound(w, r)
			return
		}
		got <- r.URL.Query()
		fmt.Fprint(w, "<!doctype html><title>Linked</title><main>Account linked</main>")
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/oauth/callback", got
}

// link links username's account as the platform does: authorization code
// with PKCE, the user signing in and approving in a browser of their own.
func link(t *testing.T, cfg *oauth2.Config, codes <-chan url.Values, username string) *oauth2.Token {
	t.Helper()
	ctx := browsertest.New(t)
	state, verifier := "state-"+username, oauth2.GenerateVerifier()
	err := chromedp.Run(ctx,
		chromedp.Navigate(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(browsertest.Input("Username")),
		chromedp.SendKeys(browsertest.Input("Username"), username),
		chromedp.SendKeys(browsertest.Input("Password"), "correct horse battery"),
		chromedp.Click(browsertest.Button("Sign in")),
		chromedp.WaitVisible(browsertest.Button("Approve")),
		chromedp.Click(browsertest.Button("Approve")),
		chromedp.WaitVisible(`//main[contains(., 'Account linked')]`),
	)
	if err != nil {
		t.Fatalf("link %s in the browser: %v", username, err)
	}
	q := <-codes
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("authorization response %v", q)
	}
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange %s's code: %v", username, err)
	}
	return tok
}

// invoke sends an operation to the connector's HTTP mode.
func invoke(t *testing.T, conn *server, op, token string, payload map[string]any) connector.Response {
	t.Helper()
	p := map[string]any{"operationName": op, "operationVersion": "1.0", "connectorId": connectorID}
	for k, v := range payload {
		p[k] = v
	}
	body := mustJSON(t, map[string]any{"header": map[string]any{"auth": map[string]any{"token": token, "type": "OAuth2.0"}}, "payload": p})
	start := time.Now()
	resp, err := http.Post(conn.URL+connector.InvokePath, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	defer resp.Body.Close()
	var r connector.Response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("%s: decode: %v", op, err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("%s answered after %v, beyond the platform's 2 seconds", op, took)
	}
	return r
}

// waitDeviceEvent waits for a DEVICE_EVENT of bulb with the given state.
func waitDeviceEvent(t *testing.T, p *connectortest.Platform, bulb string, on bool) connector.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ev := p.Wait(t, connector.EventDeviceEvent, time.Until(deadline)).Event
		if ev.ConnectorDeviceID == bulb && ev.MatterEndpoint != nil && ev.MatterEndpoint.Clusters[0].Attributes["0x0000"] == on {
			return ev
		}
	}
	t.Fatalf("no DEVICE_EVENT for %s on=%t", bulb, on)
	return connector.Event{}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
