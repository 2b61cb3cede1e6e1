package httpserver_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestPollJitter is DEV-15 as real clients meet it: a device polling at
// exactly its interval, early by network jitter now and then (up to a
// second, or a fifth of the interval), never gets slow_down; one that polls
// really too fast does, told the new interval.
func TestPollJitter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	dc := e.deviceAuthorize(id, secret, "openid").str("device_code")
	wantError(t, e.poll(id, secret, dc), 400, "authorization_pending")
	for i, gap := range []time.Duration{5 * time.Second, 5 * time.Second, 4 * time.Second, 4100 * time.Millisecond,
		5 * time.Second, 4 * time.Second} {
		e.clock.Advance(gap)
		if r := e.poll(id, secret, dc); r.str("error") != "authorization_pending" {
			t.Errorf("poll %d, %v after the one before: %d %s; want authorization_pending", i+2, gap, r.status, r.raw)
		}
	}
	e.clock.Advance(3900 * time.Millisecond) // 1.1 s early: too soon
	r := e.poll(id, secret, dc)
	wantError(t, r, 400, "slow_down")
	if desc := r.str("error_description"); !strings.Contains(desc, "10 seconds") {
		t.Errorf("slow_down description %q: want it to state the new interval, 10 seconds", desc)
	}
	e.clock.Advance(9 * time.Second) // a second early on the new interval
	wantError(t, e.poll(id, secret, dc), 400, "authorization_pending")
}

// TestDecidedCodeNotSlowedDown: slow_down is for a pending request (RFC
// 8628 §3.5); a decided code is answered by its state however soon it is
// polled, so an approved device gets its tokens at the first poll.
func TestDecidedCodeNotSlowedDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	alice := e.user("alice")
	for _, tc := range []struct {
		approve bool
		want    string
	}{{true, ""}, {false, "access_denied"}} {
		d := e.deviceAuthorize(id, secret, "openid")
		dc := d.str("device_code")
		wantError(t, e.poll(id, secret, dc), 400, "authorization_pending")
		e.decide(d.str("user_code"), alice, tc.approve)
		e.clock.Advance(100 * time.Millisecond)
		r := e.poll(id, secret, dc)
		if tc.approve {
			if r.status != 200 || r.str("access_token") == "" {
				t.Errorf("approved code polled at once: %d %s; want the tokens", r.status, r.raw)
			}
			continue
		}
		wantError(t, r, 400, tc.want)
	}
}

// slowDownCounter is a transport that counts slow_down answers.
type slowDownCounter struct {
	mu        sync.Mutex
	slowDowns int
	polls     int
	// fourth, when not nil, is closed at the fourth poll's answer.
	fourth chan struct{}
}

func (c *slowDownCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/token") {
		return resp, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	var e struct{ Error string }
	json.Unmarshal(body, &e)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.polls++
	if e.Error == "slow_down" {
		c.slowDowns++
	}
	if c.polls == 4 && c.fourth != nil {
		close(c.fourth)
	}
	return resp, nil
}

// TestOAuth2ClientNeverSlowedDown: golang.org/x/oauth2's device flow, which
// polls at the interval by the wall clock, gets no slow_down and its
// tokens at the first poll after approval. It does not run in parallel:
// the server judges the polls by their arrival on the wall clock, which
// other tests' load on the cores would jitter.
func TestOAuth2ClientNeverSlowedDown(t *testing.T) {
	e := newWallEnv(t, map[string]string{"POLLING_INTERVAL": "1"})
	id, secret := demoClient(e)
	alice := e.user("alice")
	counter := &slowDownCounter{fourth: make(chan struct{})}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: counter})
	cfg := &oauth2.Config{ClientID: id, ClientSecret: secret, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{DeviceAuthURL: e.srv.URL + "/device_authorization", TokenURL: e.srv.URL + "/token",
			AuthStyle: oauth2.AuthStyleInHeader}}
	// x/oauth2 sends no client secret to the device authorization
	// endpoint; this client has one.
	da, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("client_secret", secret))
	if err != nil {
		t.Fatal(err)
	}
	approved := make(chan time.Time, 1)
	go func() {
		// x/oauth2 waits the interval by the wall clock between polls, and
		// so does the server's clock here: the test is of real timing.
		<-counter.fourth
		e.decide(da.UserCode, alice, true)
		approved <- time.Now()
	}()
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Since(<-approved)
	if tok.AccessToken == "" || counter.slowDowns != 0 {
		t.Errorf("x/oauth2: token %v, %d slow_down in %d polls; want the tokens and no slow_down", tok.AccessToken != "", counter.slowDowns, counter.polls)
	}
	if after > 3*time.Second {
		t.Errorf("tokens %v after approval, want within the 1 s interval and a little", after)
	}
}
