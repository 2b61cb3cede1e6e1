package connector_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/connector"
	"github.com/grantd/grantd/internal/lightsapi"
	"github.com/grantd/grantd/internal/rs"
)

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

// TestBadInput sends every kind of bad invocation; each gets its documented
// response code and never a panic or a transport error.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	alice := f.token("alice", "lights:read lights:write")
	readOnly := f.token("alice", "lights:read")
	expired := f.as.AccessToken(t, "alice", audience, "lights:read lights:write", time.Now().Add(-2*time.Hour))
	otherAPI := f.as.AccessToken(t, "alice", "https://other.example", "lights:read lights:write", time.Now())
	tampered := alice[:len(alice)-3] + "AAA"
	foreignIss := f.as.Sign(t, map[string]any{"typ": "at+jwt"}, map[string]any{"iss": "https://evil.example", "sub": "alice",
		"aud": audience, "client_id": "x", "exp": time.Now().Add(time.Hour).Unix()})
	on := commandPayload(f.alice[0].ID, "0x0006", "0x01", nil)
	cases := []struct {
		name string
		body string
		code int
	}{
		{"not JSON", `{"header":`, 400},
		{"JSON but not an object", `[1,2]`, 400},
		{"null", `null`, 400},
		{"no payload", `{"header":{"auth":{"token":"x","type":"OAuth2.0"}}}`, 400},
		{"payload of the wrong type", `{"header":{},"payload":"AWS.ActivateUser"}`, 400},
		{"unknown operation", envelope("AWS.RebootEverything", alice, nil), 400},
		{"no operation", envelope("", alice, nil), 400},
		{"unsupported version", strings.Replace(envelope(connector.OpActivateUser, alice, nil), `"1.0"`, `"2.0"`, 1), 400},
		{"no connectorId", strings.Replace(envelope(connector.OpActivateUser, alice, nil), connectorID, "", 1), 400},
		{"no auth", `{"header":{},"payload":{"operationName":"AWS.ActivateUser","operationVersion":"1.0","connectorId":"c"}}`, 400},
		{"GeneralAuthorization", strings.Replace(envelope(connector.OpActivateUser, alice, nil), "OAuth2.0", "GeneralAuthorization", 1), 400},
		{"another auth type", strings.Replace(envelope(connector.OpActivateUser, alice, nil), "OAuth2.0", "Basic", 1), 400},
		{"empty token", envelope(connector.OpActivateUser, "", nil), 401},
		{"garbage token", envelope(connector.OpActivateUser, "garbage", nil), 401},
		{"expired token", envelope(connector.OpActivateUser, expired, nil), 401},
		{"token of another issuer", envelope(connector.OpActivateUser, foreignIss, nil), 401},
		{"token for another API (JWT-13)", envelope(connector.OpActivateUser, otherAPI, nil), 401},
		{"tampered token", envelope(connector.OpActivateUser, tampered, nil), 401},
		{"command without lights:write", envelope(connector.OpSendCommand, readOnly, on), 403},
		{"discovery without lights:read", envelope(connector.OpDiscoverDevices, f.token("alice", "openid"), nil), 403},
		{"command without a device", envelope(connector.OpSendCommand, alice, map[string]any{"endpoints": on["endpoints"]}), 400},
		{"command a bulb cannot run", envelope(connector.OpSendCommand, alice, commandPayload(f.alice[0].ID, "0x0300", "0x07", nil)), 400},
		{"command with a bad level", envelope(connector.OpSendCommand, alice, commandPayload(f.alice[0].ID, "0x0008", "0x00", map[string]any{"0x0000": 300})), 400},
		{"AZ-27 another user's bulb", envelope(connector.OpSendCommand, alice, commandPayload(f.bob[0].ID, "0x0006", "0x01", nil)), 404},
		{"a bulb that does not exist", envelope(connector.OpSendCommand, alice, commandPayload("bulb-none", "0x0006", "0x01", nil)), 404},
	}
	for _, tc := range cases {
		r, _ := f.invoke(tc.body)
		if r.Header.ResponseCode != tc.code || r.Payload.ResponseMessage == "" {
			t.Errorf("%s: got %s, want %d with a message", tc.name, describe(r), tc.code)
		}
	}
	if b, _ := f.store.Bulb(t.Context(), "bob", f.bob[0].ID); b.On {
		t.Error("AZ-27: bob's bulb was switched on by alice's token")
	}
}

// TestActivateUser answers the token's sub as userId, for both operation
// versions, and registers the connector's webhook at lightsd.
func TestActivateUser(t *testing.T) {
	f := newFixture(t)
	tok := f.token("alice", "lights:read lights:write")
	for _, version := range []string{"1.0", "1.0.0"} {
		r, _ := f.invoke(strings.Replace(envelope(connector.OpActivateUser, tok, nil), `"1.0"`, `"`+version+`"`, 1))
		if r.Header.ResponseCode != 200 || r.Payload.UserID != "alice" {
			t.Errorf("version %s: got %s userId %q, want 200 alice", version, describe(r), r.Payload.UserID)
		}
	}
	lc := &lightsapi.Client{BaseURL: f.lightsd.URL, Token: tok}
	f.webhookStored()
	if hooks, err := lc.Webhooks(t.Context()); err != nil || len(hooks) != 1 || hooks[0].URL != f.srv.URL+connector.WebhookPath {
		t.Fatalf("webhooks after activation: %v, %v; want the connector's", hooks, err)
	}
	// A state change now reaches the platform as a DEVICE_EVENT.
	if _, err := f.store.Apply(t.Context(), "", f.alice[1].ID, lightsapi.Command{Command: "on"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	f.dispatcher.Notify()
	ev := f.platform.Wait(t, connector.EventDeviceEvent, 10*time.Second)
	if ev.ConnectorID != connectorID || ev.Event.UserID != "alice" || ev.Event.ConnectorDeviceID != f.alice[1].ID ||
		ev.Event.MatterEndpoint == nil || ev.Event.MatterEndpoint.Clusters[0].Attributes["0x0000"] != true {
		t.Errorf("DEVICE_EVENT %+v", ev)
	}
}

// TestDiscoverAndCommand discovers alice's bulbs as Matter devices, turns
// one on and dims it, each reported to the platform, the state changed in
// lightsd.
func TestDiscoverAndCommand(t *testing.T) {
	f := newFixture(t)
	tok := f.token("alice", "lights:read lights:write")
	r, _ := f.invoke(envelope(connector.OpDiscoverDevices, tok, map[string]any{"deviceDiscoveryId": "disc-1"}))
	if r.Header.ResponseCode != 200 {
		t.Fatalf("discover: %s", describe(r))
	}
	d := f.platform.Wait(t, connector.EventDeviceDiscovery, 10*time.Second).Event
	if d.DeviceDiscoveryID != "disc-1" || d.UserID != "alice" || len(d.Devices) != 2 || d.StatusCode != 200 {
		t.Fatalf("DEVICE_DISCOVERY %+v; want alice's 2 bulbs", d)
	}
	clusters := d.Devices[0].CapabilityReport.Endpoints[0].Clusters
	if clusters[0].ID != "0x0006" || clusters[1].ID != "0x0008" || clusters[0].Attributes[0].Value != false {
		t.Errorf("capability report %+v; want OnOff 0x0006 (off) and LevelControl 0x0008", clusters)
	}

	steps := []struct {
		cluster, command string
		fields           map[string]any
		on               bool
		brightness       int
	}{
		{"0x0006", "0x01", nil, true, 100},
		{"0x0008", "0x00", map[string]any{"0x0000": 127}, true, 50},
		{"0x0006", "0x02", nil, false, 50},
		{"0x0008", "0x04", map[string]any{"0x0000": "254"}, true, 100},
		{"0x6", "0x0", nil, false, 100},
	}
	id := f.alice[0].ID
	for _, s := range steps {
		r, _ := f.invoke(envelope(connector.OpSendCommand, tok, commandPayload(id, s.cluster, s.command, s.fields)))
		if r.Header.ResponseCode != 200 {
			t.Fatalf("command %s/%s: %s", s.cluster, s.command, describe(r))
		}
		ev := f.platform.Wait(t, connector.EventDeviceCommandResponse, 10*time.Second).Event
		b, err := f.store.Bulb(t.Context(), "alice", id)
		if err != nil || b.On != s.on || b.Brightness != s.brightness || ev.TraceID != "trace-"+s.command ||
			ev.StatusCode != 200 || ev.MatterEndpoint.Clusters[0].Attributes["0x0000"] != s.on {
			t.Errorf("command %s/%s: bulb %+v, event %+v; want on %t brightness %d", s.cluster, s.command, b, ev, s.on, s.brightness)
		}
	}
}

// TestDeactivateUser revokes the token at grantd as the platform's client
// and removes the webhook; when grantd is down it answers 503, so the
// platform tries again.
func TestDeactivateUser(t *testing.T) {
	f := newFixture(t)
	tok := f.token("alice", "lights:read lights:write")
	f.invoke(envelope(connector.OpActivateUser, tok, nil))
	lc := &lightsapi.Client{BaseURL: f.lightsd.URL, Token: tok}
	f.webhookStored()
	f.mu.Lock()
	f.revokeFail = true
	f.mu.Unlock()
	if r, _ := f.invoke(envelope(connector.OpDeactivateUser, tok, nil)); r.Header.ResponseCode != 503 {
		t.Errorf("grantd down: %s, want 503", describe(r))
	}
	f.mu.Lock()
	f.revokeFail = false
	f.mu.Unlock()
	if r, _ := f.invoke(envelope(connector.OpDeactivateUser, tok, nil)); r.Header.ResponseCode != 200 {
		t.Fatalf("deactivate: %s", describe(r))
	}
	if got := <-f.revoked; got != [3]string{"aws-c2c", "platform-secret-0123", tok} {
		t.Errorf("revocation %q; want the token, by the platform's client", got)
	}
	if hooks, err := lc.Webhooks(t.Context()); err != nil || len(hooks) != 0 {
		t.Errorf("webhooks after deactivation: %v, %v; want none", hooks, err)
	}
}

// TestSlowLightsd: with a lightsd that never answers, every invocation
// still answers within the platform's 2 seconds, in HTTP mode and under
// Lambda (HandleSync).
func TestSlowLightsd(t *testing.T) {
	f := newFixture(t)
	stuck := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(stuck)
	f.conn.LightsURL = slow.URL
	tok := f.token("alice", "lights:read lights:write")
	bodies := map[string]string{
		"discover": envelope(connector.OpDiscoverDevices, tok, map[string]any{"deviceDiscoveryId": "d"}),
		"command":  envelope(connector.OpSendCommand, tok, commandPayload(f.alice[0].ID, "0x0006", "0x01", nil)),
		"activate": envelope(connector.OpActivateUser, tok, nil),
	}
	for name, body := range bodies {
		if r, took := f.invoke(body); took > 2*time.Second || r.Header.ResponseCode == 0 {
			t.Errorf("HTTP mode, %s: %s after %v; want an answer within 2s", name, describe(r), took)
		}
		start := time.Now()
		r := f.conn.HandleSync(context.Background(), []byte(body))
		if took := time.Since(start); took > 2*time.Second || r.Header.ResponseCode == 0 {
			t.Errorf("Lambda mode, %s: %s after %v; want an answer within 2s", name, describe(r), took)
		}
	}
}

// panicky is a token checker that panics.
type panicky struct{}

func (panicky) Check(context.Context, string) (rs.Claims, error) { panic("boom") }

// TestPanicIsAnError: a panic inside an operation is answered 500.
func TestPanicIsAnError(t *testing.T) {
	c := &connector.Connector{Tokens: panicky{}, Logger: slog.New(slog.DiscardHandler)}
	r := c.HandleSync(context.Background(), []byte(envelope(connector.OpActivateUser, "x", nil)))
	if r.Header.ResponseCode != 500 {
		t.Errorf("got %s, want 500", describe(r))
	}
}

// TestWebhookSignature: deliveries not signed with the secret are refused.
func TestWebhookSignature(t *testing.T) {
	f := newFixture(t)
	body := `{"id":"evt-1","type":"bulb.state","owner":"alice","bulb":{"id":"bulb-x"}}`
	for name, sig := range map[string]string{
		"unsigned":       "",
		"another secret": lightsapi.Sign([]byte("another-secret-0123456"), time.Now(), []byte(body)),
		"stale":          lightsapi.Sign([]byte(hookSecret), time.Now().Add(-time.Hour), []byte(body)),
	} {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+connector.WebhookPath, strings.NewReader(body))
		req.Header.Set(lightsapi.SignatureHeader, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, resp.StatusCode)
		}
	}
}
