package connector_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/connector"
	"github.com/grantd/grantd/internal/connector/connectortest"
	"github.com/grantd/grantd/internal/lights"
	"github.com/grantd/grantd/internal/lightsapi"
	"github.com/grantd/grantd/internal/rs"
	"github.com/grantd/grantd/internal/rs/rstest"
)

const (
	audience    = "https://lights.example/v1"
	connectorID = "lights-c2c"
	hookSecret  = "whsec-connector-0123456789"
)

// fixture is the connector over real HTTP with a stand-in grantd (tokens
// and /revoke), a real lightsd API on SQLite, and a stand-in platform.
type fixture struct {
	t          *testing.T
	as         *rstest.Server
	store      *lights.Store
	lightsd    *httptest.Server
	dispatcher *lights.Dispatcher
	platform   *connectortest.Platform
	conn       *connector.Connector
	srv        *httptest.Server
	alice, bob []lightsapi.Bulb
	revoked    chan [3]string // client id, secret, token
	// hooked is told each time lightsd has stored a webhook.
	hooked     chan struct{}
	revokeFail bool
	mu         sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, as: rstest.New(t), platform: connectortest.New(t), revoked: make(chan [3]string, 4),
		hooked: make(chan struct{}, 4)}
	st, err := lights.Open(t.Context(), filepath.Join(t.TempDir(), "lights.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.store = st
	logger := slog.New(slog.DiscardHandler)
	f.dispatcher = &lights.Dispatcher{Store: st, Now: time.Now, Poll: 20 * time.Millisecond, Backoff: 10 * time.Millisecond, Logger: logger}
	api := &lights.API{Store: st, Guard: &rs.Guard{Checker: rs.NewVerifier(f.as.Issuer, audience), Realm: "lights", Logger: logger},
		Queued: f.dispatcher.Notify, Now: time.Now, Logger: logger}
	mux := http.NewServeMux()
	api.Mount(mux)
	f.lightsd = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if r.Method == http.MethodPost && r.URL.Path == "/v1/webhooks" {
			select {
			case f.hooked <- struct{}{}:
			default:
			}
		}
	}))
	t.Cleanup(f.lightsd.Close)
	go f.dispatcher.Run(t.Context())
	f.alice, _ = st.Seed(t.Context(), "alice", 2, time.Now())
	f.bob, _ = st.Seed(t.Context(), "bob", 1, time.Now())

	revoke := httptest.NewServer(http.HandlerFunc(f.serveRevoke))
	t.Cleanup(revoke.Close)
	cmux := http.NewServeMux()
	f.srv = httptest.NewServer(cmux)
	t.Cleanup(f.srv.Close)
	f.conn = &connector.Connector{
		Tokens:    rs.NewVerifier(f.as.Issuer, audience),
		LightsURL: f.lightsd.URL,
		Events: &connector.EventSender{Endpoint: f.platform.URL, Region: connectortest.Region,
			Credentials: connectortest.Credentials, Now: time.Now},
		Revoker:    &connector.Revoker{Endpoint: revoke.URL, ClientID: "aws-c2c", ClientSecret: "platform-secret-0123"},
		WebhookURL: f.srv.URL + connector.WebhookPath, WebhookSecret: hookSecret, ConnectorID: connectorID,
		Now: time.Now, Logger: logger,
	}
	f.conn.Mount(cmux)
	return f
}

// webhookStored waits until lightsd has answered the registration of a
// webhook, which the connector makes in the background after an
// activation.
func (f *fixture) webhookStored() {
	f.t.Helper()
	select {
	case <-f.hooked:
	case <-time.After(10 * time.Second):
		f.t.Fatal("no webhook registered at lightsd within 10 s")
	}
}

func (f *fixture) serveRevoke(w http.ResponseWriter, r *http.Request) {
	id, secret, _ := r.BasicAuth()
	r.ParseForm()
	f.mu.Lock()
	fail := f.revokeFail
	f.mu.Unlock()
	if fail {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	f.revoked <- [3]string{id, secret, r.PostForm.Get("token")}
}

func (f *fixture) token(sub, scope string) string {
	return f.as.AccessToken(f.t, sub, audience, scope, time.Now())
}

// envelope returns an invocation of op with token (type OAuth2.0) and the
// payload fields extra.
func envelope(op, token string, extra map[string]any) string {
	p := map[string]any{"operationName": op, "operationVersion": "1.0", "connectorId": connectorID}
	for k, v := range extra {
		p[k] = v
	}
	b, _ := json.Marshal(map[string]any{"header": map[string]any{"auth": map[string]any{"token": token, "type": "OAuth2.0"}}, "payload": p})
	return string(b)
}

// commandPayload is the payload of an AWS.SendCommand of one Matter
// command to device.
func commandPayload(device, cluster, command string, fields map[string]any) map[string]any {
	if fields == nil {
		fields = map[string]any{}
	}
	return map[string]any{"connectorDeviceId": device, "traceId": "trace-" + command,
		"endpoints": []any{map[string]any{"id": "1", "clusters": []any{map[string]any{
			"id": cluster, "commands": []any{map[string]any{command: fields}}}}}}}
}

// invoke posts body to the HTTP mode and returns the decoded response and
// how long it took.
func (f *fixture) invoke(body string) (connector.Response, time.Duration) {
	f.t.Helper()
	start := time.Now()
	resp, err := http.Post(f.srv.URL+connector.InvokePath, "application/json", stringsReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r connector.Response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		f.t.Fatalf("decode response: %v", err)
	}
	return r, time.Since(start)
}

func describe(r connector.Response) string {
	return fmt.Sprintf("%d %q", r.Header.ResponseCode, r.Payload.ResponseMessage)
}
