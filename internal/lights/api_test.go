package lights_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/lights"
	"github.com/grantd/grantd/internal/lightsapi"
	"github.com/grantd/grantd/internal/rs"
	"github.com/grantd/grantd/internal/rs/rstest"
)

const audience = "https://lights.example/v1"

// fixture is lightsd's API over real HTTP, with tokens from a stand-in
// grantd, alice's two bulbs and bob's one.
type fixture struct {
	t          *testing.T
	as         *rstest.Server
	store      *lights.Store
	srv        *httptest.Server
	dispatcher *lights.Dispatcher
	alice, bob []lightsapi.Bulb
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, as: rstest.New(t)}
	st, err := lights.Open(t.Context(), filepath.Join(t.TempDir(), "lights.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.store = st
	logger := slog.New(slog.DiscardHandler)
	f.dispatcher = &lights.Dispatcher{Store: st, Now: time.Now, Poll: 20 * time.Millisecond,
		Backoff: 10 * time.Millisecond, MaxAttempts: 4, Logger: logger}
	api := &lights.API{Store: st, Guard: &rs.Guard{Checker: rs.NewVerifier(f.as.Issuer, audience), Realm: "lights", Logger: logger},
		Queued: f.dispatcher.Notify, Now: time.Now, Logger: logger}
	mux := http.NewServeMux()
	api.Mount(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	if f.alice, err = st.Seed(t.Context(), "alice", 2, time.Now()); err != nil {
		t.Fatal(err)
	}
	if f.bob, err = st.Seed(t.Context(), "bob", 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) token(sub, scope string) string {
	return f.as.AccessToken(f.t, sub, audience, scope, time.Now())
}

// call sends a request with token (none when empty) and returns the status,
// the WWW-Authenticate header and the body.
func (f *fixture) call(method, path, token, body string) (int, string, string) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}

// TestAPIAccess is the API's authorization matrix: who may read and command
// which bulb, and how refusals are answered (AZ-27, JWT-13, RFC 6750 §3).
func TestAPIAccess(t *testing.T) {
	f := newFixture(t)
	rw := f.token("alice", "lights:read lights:write")
	ro := f.token("alice", "lights:read")
	bobRW := f.token("bob", "lights:read lights:write")
	foreign := f.as.AccessToken(t, "alice", "https://other-api.example", "lights:read lights:write", time.Now())
	mine, bobs := "/v1/bulbs/"+f.alice[0].ID, "/v1/bulbs/"+f.bob[0].ID
	on := `{"command":"on"}`
	cases := []struct {
		id, name           string
		method, path, body string
		token              string
		status             int
		challenge          string // a prefix of WWW-Authenticate
	}{
		{"", "list my bulbs", "GET", "/v1/bulbs", "", ro, 200, ""},
		{"", "get my bulb", "GET", mine, "", ro, 200, ""},
		{"", "command my bulb", "POST", mine + "/commands", on, rw, 200, ""},
		{"AZ-27", "get another user's bulb: 404, as if missing", "GET", bobs, "", ro, 404, ""},
		{"AZ-27", "command another user's bulb: 404", "POST", bobs + "/commands", on, rw, 404, ""},
		{"AZ-27", "the other user's own token reaches it", "GET", bobs, "", bobRW, 200, ""},
		{"", "a bulb that does not exist: the same 404", "GET", "/v1/bulbs/bulb-nothere", "", ro, 404, ""},
		{"", "no token", "GET", "/v1/bulbs", "", "", 401, `Bearer realm="lights"`},
		{"", "garbage token", "GET", "/v1/bulbs", "", "garbage", 401, `Bearer realm="lights", error="invalid_token"`},
		{"JWT-13", "a token for another audience", "GET", "/v1/bulbs", "", foreign, 401, `Bearer realm="lights", error="invalid_token"`},
		{"", "command without lights:write", "POST", mine + "/commands", on, ro, 403, `Bearer realm="lights", error="insufficient_scope"`},
		{"", "list without lights:read", "GET", "/v1/bulbs", "", f.token("alice", "openid"), 403, `Bearer realm="lights", error="insufficient_scope"`},
		{"", "unknown command", "POST", mine + "/commands", `{"command":"dim"}`, rw, 400, ""},
		{"", "brightness over 100", "POST", mine + "/commands", `{"command":"brightness","brightness":101}`, rw, 400, ""},
		{"", "brightness without a value", "POST", mine + "/commands", `{"command":"brightness"}`, rw, 400, ""},
		{"", "a value without brightness", "POST", mine + "/commands", `{"command":"on","brightness":5}`, rw, 400, ""},
		{"", "unknown field", "POST", mine + "/commands", `{"command":"on","colour":"red"}`, rw, 400, ""},
		{"", "not JSON", "POST", mine + "/commands", `on`, rw, 400, ""},
	}
	for _, tc := range cases {
		status, challenge, body := f.call(tc.method, tc.path, tc.token, tc.body)
		if status != tc.status || !strings.HasPrefix(challenge, tc.challenge) || (tc.challenge == "") != (challenge == "") {
			t.Errorf("%s %s: got %d %q %s; want %d %q", tc.id, tc.name, status, challenge, body, tc.status, tc.challenge)
		}
	}
	// Nothing the refused requests sent changed bob's bulb.
	if b, err := f.store.Bulb(t.Context(), "bob", f.bob[0].ID); err != nil || b.On {
		t.Errorf("AZ-27: bob's bulb after alice's attempts: %+v, %v; want it off", b, err)
	}
}

// TestCommands checks each command's effect, through the client of package
// lightsapi.
func TestCommands(t *testing.T) {
	f := newFixture(t)
	c := &lightsapi.Client{BaseURL: f.srv.URL, Token: f.token("alice", "lights:read lights:write")}
	id := f.alice[0].ID
	fifty := 50
	steps := []struct {
		cmd    lightsapi.Command
		on     bool
		bright int
	}{
		{lightsapi.Command{Command: "on"}, true, 100},
		{lightsapi.Command{Command: "brightness", Brightness: &fifty}, true, 50},
		{lightsapi.Command{Command: "toggle"}, false, 50},
		{lightsapi.Command{Command: "toggle"}, true, 50},
		{lightsapi.Command{Command: "off"}, false, 50},
	}
	for _, s := range steps {
		b, err := c.Command(t.Context(), id, s.cmd)
		if err != nil || b.On != s.on || b.Brightness != s.bright {
			t.Fatalf("%+v: got %+v, %v; want on %t brightness %d", s.cmd, b, err, s.on, s.bright)
		}
	}
	bulbs, err := c.Bulbs(t.Context())
	if err != nil || len(bulbs) != 2 {
		t.Errorf("list: %v, %v; want alice's 2 bulbs", bulbs, err)
	}
	if _, err := c.Bulb(t.Context(), f.bob[0].ID); lightsapi.HTTPStatus(err) != 404 {
		t.Errorf("AZ-27: bob's bulb through alice's client: %v, want 404", err)
	}
}

// receiver is a webhook endpoint that fails its first failures deliveries.
type receiver struct {
	mu       sync.Mutex
	failures int
	events   chan lightsapi.Event
	secret   []byte
	t        *testing.T
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := lightsapi.VerifySignature(rc.secret, r.Header.Get(lightsapi.SignatureHeader), body, time.Now(), time.Minute); err != nil {
		rc.t.Errorf("delivery with a bad signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	fail := rc.failures > 0
	rc.failures--
	rc.mu.Unlock()
	if fail {
		http.Error(w, "not now", http.StatusServiceUnavailable)
		return
	}
	var ev lightsapi.Event
	json.Unmarshal(body, &ev)
	rc.events <- ev
}

// TestWebhooks: a state change made through the API, and one made by the
// operator's `lightsd set` (Store.Apply without an owner, found by the
// dispatcher's poll), each reach the owner's webhook, signed, after the
// receiver's failures are retried; another user's webhook hears nothing.
func TestWebhooks(t *testing.T) {
	f := newFixture(t)
	secret := "whsec-0123456789abcdef"
	alice := &receiver{failures: 2, events: make(chan lightsapi.Event, 8), secret: []byte(secret), t: t}
	bob := &receiver{events: make(chan lightsapi.Event, 8), secret: []byte(secret), t: t}
	aliceHook, bobHook := httptest.NewServer(alice), httptest.NewServer(bob)
	defer aliceHook.Close()
	defer bobHook.Close()
	ac := &lightsapi.Client{BaseURL: f.srv.URL, Token: f.token("alice", "lights:read lights:write")}
	bc := &lightsapi.Client{BaseURL: f.srv.URL, Token: f.token("bob", "lights:read lights:write")}
	for _, reg := range []struct {
		c   *lightsapi.Client
		url string
	}{{ac, aliceHook.URL}, {ac, aliceHook.URL}, {bc, bobHook.URL}} {
		if _, err := reg.c.RegisterWebhook(t.Context(), reg.url, secret); err != nil {
			t.Fatal(err)
		}
	}
	if hooks, err := ac.Webhooks(t.Context()); err != nil || len(hooks) != 1 {
		t.Fatalf("alice's webhooks after registering one URL twice: %v, %v; want one", hooks, err)
	}
	if _, err := ac.RegisterWebhook(t.Context(), aliceHook.URL, "short"); lightsapi.HTTPStatus(err) != 400 {
		t.Errorf("short secret: %v, want 400", err)
	}

	go f.dispatcher.Run(t.Context())
	if _, err := ac.Command(t.Context(), f.alice[0].ID, lightsapi.Command{Command: "on"}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, alice.events, "alice", f.alice[0].ID, true)
	if _, err := f.store.Apply(t.Context(), "", f.alice[1].ID, lightsapi.Command{Command: "toggle"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, alice.events, "alice", f.alice[1].ID, true)
	select {
	case ev := <-bob.events:
		t.Errorf("bob's webhook heard of %+v", ev)
	default:
	}
}

func waitEvent(t *testing.T, events <-chan lightsapi.Event, owner, bulb string, on bool) {
	t.Helper()
	select {
	case ev := <-events:
		if ev.Owner != owner || ev.Bulb.ID != bulb || ev.Bulb.On != on || ev.Type != lightsapi.EventBulbState {
			t.Errorf("event %+v; want %s's %s on=%t", ev, owner, bulb, on)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no event for %s within 10s", bulb)
	}
}
