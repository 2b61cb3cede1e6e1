package httpserver_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/admin"
)

// scrape fetches the metrics over HTTP, as Prometheus does, and returns
// each sample by its name and labels as exposed, e.g.
// `grantd_device_polls_total{outcome="slow_down"}`.
func (e *env) scrape() (map[string]float64, string) {
	e.t.Helper()
	srv := httptest.NewServer(e.metrics.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	samples := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			e.t.Fatalf("metrics line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples, string(raw)
}

// TestMetricsDeviceFlow runs device flows to every outcome on a real server
// over HTTP, on an injected clock, scrapes its metrics over HTTP, and finds
// each step counted: device authorizations, polls by outcome, decisions and
// the time to them and to redemption, tokens by grant type, refresh token
// reuse, client authentication failures, rate-limit rejections by budget,
// requests by endpoint and status, and store operations. No label carries
// a user id, a code, a token or a secret (GEN-04); client ids only when
// the operator opts in.
func TestMetricsDeviceFlow(t *testing.T) {
	t.Parallel()
	for _, clientLabels := range []bool{false, true} {
		t.Run("client labels "+strconv.FormatBool(clientLabels), func(t *testing.T) {
			testMetricsDeviceFlow(t, clientLabels)
		})
	}
}

func testMetricsDeviceFlow(t *testing.T, clientLabels bool) {
	e := newMetricsEnv(t, map[string]string{"GRANTD_REFRESH_TOKEN_GRACE": "0s", "GRANTD_DEVICE_AUTH_LIMIT_CLIENT": "3/1h"},
		clientLabels)
	secret := e.client(admin.ClientSpec{ID: "tv", Scopes: []string{"lights:read"}})
	user := e.user("kim")
	var seen []string // what must never be a label

	// Approved: pending, slow_down, decided 30 s after, issued 60 s after.
	a := e.deviceAuthorize("tv", secret, "")
	e.poll("tv", secret, a.str("device_code"))
	e.poll("tv", secret, a.str("device_code"))
	e.clock.Advance(30 * time.Second)
	e.decide(a.str("user_code"), user, true)
	e.clock.Advance(30 * time.Second)
	tok := e.poll("tv", secret, a.str("device_code"))
	e.poll("tv", secret, a.str("device_code")) // used: invalid_grant
	refresh := func(rt string) reply {
		return e.post("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, basic("tv", secret))
	}
	next := refresh(tok.str("refresh_token"))
	refresh(tok.str("refresh_token")) // reused: the grant is revoked
	seen = append(seen, a.str("device_code"), a.str("user_code"), tok.str("access_token"), tok.str("refresh_token"),
		next.str("refresh_token"), user.ID, secret)

	// Denied, then expired.
	b := e.deviceAuthorize("tv", secret, "")
	e.decide(b.str("user_code"), user, false)
	e.poll("tv", secret, b.str("device_code"))
	c := e.deviceAuthorize("tv", secret, "")
	// A fourth authorization is over the client's budget; a wrong secret
	// fails to authenticate.
	e.post("/device_authorization", nil, basic("tv", secret))
	e.post("/device_authorization", nil, basic("tv", "wrong"))
	e.clock.Advance(31 * time.Minute)
	e.poll("tv", secret, c.str("device_code"))
	seen = append(seen, b.str("device_code"), c.str("device_code"))

	got, text := e.scrape()
	client := ""
	if clientLabels {
		client = `client_id="tv",`
	}
	wantDeviceFlowCounted(t, got, client)
	if !clientLabels && strings.Contains(text, "client_id") {
		t.Error("client ids are labels although the operator did not opt in")
	}
	for _, s := range seen {
		if s == "" || strings.Contains(text, s) || strings.Contains(text, strings.ReplaceAll(s, "-", "")) {
			t.Errorf("the metrics expose %q, a user id, code, token or secret (GEN-04)", s)
		}
	}
}

// wantDeviceFlowCounted checks the samples testMetricsDeviceFlow's flows
// leave; client is the client_id label's text, or "".
func wantDeviceFlowCounted(t *testing.T, got map[string]float64, client string) {
	t.Helper()
	for _, want := range []struct {
		sample string
		value  float64
	}{
		{`grantd_device_authorizations_total` + braces(client), 3},
		{`grantd_device_polls_total{` + client + `outcome="authorization_pending"}`, 1},
		{`grantd_device_polls_total{` + client + `outcome="slow_down"}`, 1},
		{`grantd_device_polls_total{` + client + `outcome="issued"}`, 1},
		{`grantd_device_polls_total{` + client + `outcome="invalid_grant"}`, 1},
		{`grantd_device_polls_total{` + client + `outcome="access_denied"}`, 1},
		{`grantd_device_polls_total{` + client + `outcome="expired_token"}`, 1},
		{`grantd_device_decisions_total{decision="approved"}`, 1},
		{`grantd_device_decisions_total{decision="denied"}`, 1},
		{`grantd_device_decision_seconds_sum{decision="approved"}`, 30},
		{`grantd_device_decision_seconds_count{decision="approved"}`, 1},
		{`grantd_device_redemption_seconds_sum`, 60},
		{`grantd_device_redemption_seconds_count`, 1},
		{`grantd_tokens_issued_total{` + client + `grant_type="urn:ietf:params:oauth:grant-type:device_code"}`, 1},
		{`grantd_tokens_issued_total{` + client + `grant_type="refresh_token"}`, 1},
		{`grantd_refresh_token_reuse_total`, 1},
		{`grantd_client_authentication_failures_total{reason="bad_secret"}`, 1},
		{`grantd_rate_limited_total{budget="device_authorization_client"}`, 1},
		{`grantd_http_request_duration_seconds_count{code="200",endpoint="/device_authorization"}`, 3},
		{`grantd_http_request_duration_seconds_count{code="429",endpoint="/device_authorization"}`, 1},
		{`grantd_http_request_duration_seconds_count{code="401",endpoint="/device_authorization"}`, 1},
		{`grantd_http_request_duration_seconds_count{code="200",endpoint="/token"}`, 2},
		{`grantd_http_request_duration_seconds_count{code="400",endpoint="/token"}`, 6},
		{`grantd_store_operation_duration_seconds_count{operation="poll_device_grant"}`, 6},
		{`grantd_store_operation_duration_seconds_count{operation="create_device_grant"}`, 3},
		{`grantd_store_operation_duration_seconds_count{operation="decide_device_grant"}`, 2},
		{`grantd_store_errors_total{operation="poll_device_grant"}`, 0},
	} {
		if v, ok := got[want.sample]; !ok || v != want.value {
			t.Errorf("%s = %v (exposed: %t), want %v", want.sample, v, ok, want.value)
		}
	}
}

// braces returns a label list for labels, "client_id=\"tv\"," or "".
func braces(labels string) string {
	if labels == "" {
		return ""
	}
	return "{" + strings.TrimSuffix(labels, ",") + "}"
}
