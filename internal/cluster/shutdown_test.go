package cluster

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shutdownGrace is grantd's bound on a graceful stop (httpserver), under a
// typical 30 s orchestrator grace period.
const shutdownGrace = 25 * time.Second

// TestGracefulStop is docs/SECURITY.md REL-14 on one of two instances: SIGTERM
// reaches A while two requests are in flight on it. A stops being ready at
// once — readiness turns 503 and the listener closes in the same step, so a
// load balancer's /readyz probe is refused — while the requests in flight
// go on and complete with their normal answers; A then exits with status 0
// well within the grace period. B serves on, and an instance started in A's
// place carries on the flow A began.
func TestGracefulStop(t *testing.T) {
	c := newCluster(t, clusterOptions{instances: 2, env: map[string]string{"POLLING_INTERVAL": "1"}, users: []string{"erin"}})
	a, b := c.nodes[0], c.nodes[1]
	d := c.authorize(t, a.URL, "lights:read")
	br := c.browser(t, "203.0.113.20")
	signIn(t, at(br, a.URL), at(br, a.URL), "erin")
	token := c.completedFlow(t, br, a.URL).AccessToken

	// In flight on A when SIGTERM comes: a poll and an introspection whose
	// handlers wait for their bodies. (A request whose header is unfinished
	// at SIGTERM is not in flight: net/http drops it.)
	poll := startSlowRequest(t, a.URL, "/token", &deviceClient,
		url.Values{"grant_type": {deviceCodeGrant}, "device_code": {d.DeviceCode}})
	intro := startSlowRequest(t, a.URL, "/introspect", &resourceServer, url.Values{"token": {token}})
	sigterm := time.Now()
	a.signal(t, syscall.SIGTERM)
	waitLog(t, a, `msg="shutting down"`, 5*time.Second)
	waitRefused(t, a.URL, 2*time.Second)
	if r := c.get(a.URL, "/readyz"); r.err == nil {
		t.Errorf("/readyz on A while it stops: %s; want the connection refused", r)
	}
	if r := poll.finish(); r.status != http.StatusBadRequest || r.field("error") != "authorization_pending" {
		t.Errorf("poll in flight at SIGTERM: %s; want 400 authorization_pending", r)
	}
	var active bool
	if r := intro.finish(); r.status != http.StatusOK || !r.jsonField("active", &active) || !active {
		t.Errorf("introspection in flight at SIGTERM: %s; want 200 active", r)
	}
	if !a.wait(shutdownGrace) {
		t.Fatalf("A still running %v after SIGTERM", shutdownGrace)
	}
	t.Logf("A exited %v after SIGTERM: %v", time.Since(sigterm).Round(time.Millisecond), a.err)
	if a.err != nil {
		t.Errorf("A exited with %v, want status 0", a.err)
	}

	// B, and A's replacement, carry on what A started. The poll in flight
	// at SIGTERM counted: the next waits out the interval, in real time,
	// the instances being processes on the wall clock.
	time.Sleep(time.Duration(d.Interval)*time.Second + 200*time.Millisecond)
	wantError(t, "poll on B of the code A issued", c.poll(b.URL, d.DeviceCode), "authorization_pending")
	a2 := c.launch("A2")
	a2.ready(t)
	approve(t, at(br, a2.URL), at(br, a2.URL), at(br, a2.URL), d.UserCode)
	// A decided code is answered by its state however soon it is polled.
	tk := tokensOf(t, "poll on B of the code A issued and A2 approved", c.poll(b.URL, d.DeviceCode))
	c.verifyAccessToken(t, a2.URL, tk.AccessToken)
}

// slowRequest is a form post sent by hand over a connection of its own, in
// two parts, so that it is in flight between start and finish.
type slowRequest struct {
	conn net.Conn
	r    *bufio.Reader
	body string
}

// startSlowRequest sends the header of a form post to base with Expect:
// 100-continue, and returns once the server answers 100 Continue: the
// handler has started and waits for the body.
func startSlowRequest(t *testing.T, base, path string, client *oauthClient, form url.Values) *slowRequest {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	body := form.Encode()
	var head bytes.Buffer
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nExpect: 100-continue\r\n", path, u.Host)
	fmt.Fprintf(&head, "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n", len(body))
	creds := url.QueryEscape(client.id) + ":" + url.QueryEscape(client.secret)
	fmt.Fprintf(&head, "Authorization: Basic %s\r\n\r\n", base64.StdEncoding.EncodeToString([]byte(creds)))
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	defer conn.SetDeadline(time.Time{})
	if _, err := conn.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	interim, err := http.ReadResponse(r, nil)
	if err != nil || interim.StatusCode != http.StatusContinue {
		t.Fatalf("POST %s%s: %v, %v; want 100 Continue", base, path, interim, err)
	}
	return &slowRequest{conn: conn, r: r, body: body}
}

// finish sends the body and reads the answer.
func (s *slowRequest) finish() reply {
	start := time.Now()
	s.conn.SetDeadline(start.Add(requestTimeout))
	if _, err := io.WriteString(s.conn, s.body); err != nil {
		return reply{err: err, took: time.Since(start)}
	}
	resp, err := http.ReadResponse(s.r, nil)
	if err != nil {
		return reply{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(start), err: err}
}

// waitLog waits up to d for a line of in's log to contain s: it looks
// every 20 ms at what another process has written.
func waitLog(t *testing.T, in *instance, s string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if in.logs.contains(s) {
			return
		}
	}
	t.Fatalf("%s did not log %s within %v", in.name, s, d)
}

// waitRefused waits up to d until base, another process, refuses new
// connections, trying every 20 ms.
func waitRefused(t *testing.T, base string, d time.Duration) {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", host, time.Second)
		if err != nil {
			return
		}
		conn.Close()
	}
	t.Errorf("%s still accepts connections %v after shutting down began", base, d)
}
