package httpserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/admin"
)

// The benchmarks run on SQLite, as the figures in BENCHMARKS.md do.

// serveForm runs one form POST through the server's handler in-process, so
// the figure is the server's own cost without a network round trip.
func (e *env) serveForm(b *testing.B, path string, form url.Values, id, secret string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

// BenchmarkDeviceAuthorization measures POST /device_authorization on SQLite
// with its fsync: authentication, two codes drawn, one durable insert.
func BenchmarkDeviceAuthorization(b *testing.B) {
	// One client from one address: lift the DEV-20 budgets, as the load
	// harness does, to measure the endpoint rather than the limiter.
	e := newSQLiteEnv(b, map[string]string{
		"GRANTD_DEVICE_AUTH_LIMIT_IP": "100000000/1m", "GRANTD_DEVICE_AUTH_LIMIT_CLIENT": "100000000/1m",
	})
	secret := e.client(admin.ClientSpec{ID: "tv", Scopes: []string{"lights:read"}})
	form := url.Values{"scope": {"lights:read"}}
	b.ReportAllocs()
	for b.Loop() {
		if rec := e.serveForm(b, "/device_authorization", form, "tv", secret); rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkPollPending measures a poll of a pending code that respects the
// interval: the answer most polls get.
func BenchmarkPollPending(b *testing.B) {
	e := newSQLiteEnv(b, nil)
	secret := e.client(admin.ClientSpec{ID: "tv"})
	var form url.Values
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%300 == 0 { // a code lives 1800 s: 360 polls 5 s apart
			b.StopTimer()
			d := e.deviceAuthorize("tv", secret, "")
			form = url.Values{"grant_type": {deviceGrant}, "device_code": {d.str("device_code")}}
			b.StartTimer()
		}
		e.clock.Advance(5 * time.Second)
		if rec := e.serveForm(b, "/token", form, "tv", secret); rec.Code != 400 || !strings.Contains(rec.Body.String(), "authorization_pending") {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkPollSlowDown measures a poll that comes too soon.
func BenchmarkPollSlowDown(b *testing.B) {
	e := newSQLiteEnv(b, nil)
	secret := e.client(admin.ClientSpec{ID: "tv"})
	d := e.deviceAuthorize("tv", secret, "")
	form := url.Values{"grant_type": {deviceGrant}, "device_code": {d.str("device_code")}}
	e.serveForm(b, "/token", form, "tv", secret)
	b.ReportAllocs()
	for b.Loop() {
		if rec := e.serveForm(b, "/token", form, "tv", secret); !strings.Contains(rec.Body.String(), "slow_down") {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkPollPendingFleet measures polls of pending codes as a fleet of
// devices of one client makes them: 1,000 codes, each polled at its 5 s
// interval, so that the clock moves 5 ms a poll and the client record and
// the grants stay in the server's caches as they do under load.
func BenchmarkPollPendingFleet(b *testing.B) {
	e := newSQLiteEnv(b, map[string]string{ // one client from one address: lift the DEV-20 budgets
		"GRANTD_DEVICE_AUTH_LIMIT_IP": "100000000/1m", "GRANTD_DEVICE_AUTH_LIMIT_CLIENT": "100000000/1m",
	})
	secret := e.client(admin.ClientSpec{ID: "tv"})
	const fleet = 1000
	forms := make([]url.Values, fleet)
	for i := range forms {
		d := e.deviceAuthorize("tv", secret, "")
		forms[i] = url.Values{"grant_type": {deviceGrant}, "device_code": {d.str("device_code")}}
	}
	e.clock.Advance(5 * time.Second)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.clock.Advance(5 * time.Second / fleet)
		if rec := e.serveForm(b, "/token", forms[i%fleet], "tv", secret); rec.Code != 400 || !strings.Contains(rec.Body.String(), "authorization_pending") {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkRefresh measures a device's refresh of grantd's own tokens: the
// rotation (one transaction) and the new access token. The clock moves a
// second a refresh, as when many devices of a fleet refresh in turn.
func BenchmarkRefresh(b *testing.B) {
	e := newSQLiteEnv(b, nil)
	id, secret := demoClient(e)
	refresh := e.approvedTokens(id, secret, "lights:read", "alice").str("refresh_token")
	b.ReportAllocs()
	for b.Loop() {
		e.clock.Advance(time.Second)
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
		rec := e.serveForm(b, "/token", form, id, secret)
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
		var tok struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.RefreshToken == "" {
			b.Fatalf("refresh answer %s: %v", rec.Body, err)
		}
		refresh = tok.RefreshToken
	}
}
