package httpserver_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/web/webtest"
)

// sampleGrantType is the grant_type the AWS sample's devices poll with.
const sampleGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// sampleRequest sends POST /token as the AWS sample's README shows it: the
// parameters in the query string, no body and no content type, and the
// client's credentials in HTTP Basic unless secret is empty (a public
// client).
func (e *env) sampleRequest(query url.Values, id, secret string) reply {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/token?"+query.Encode(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if secret != "" {
		req.SetBasicAuth(id, secret)
	}
	return e.do(req)
}

// samplePoll is the AWS sample's poll.
func (e *env) samplePoll(id, secret, deviceCode string) reply {
	e.t.Helper()
	return e.sampleRequest(url.Values{"client_id": {id}, "device_code": {deviceCode}, "grant_type": {sampleGrantType}}, id, secret)
}

// sampleLink opens the sample's verification link in a browser that has
// not signed in, signs in as user on the way, and returns the page the
// sign-in leads back to.
func (e *env) sampleLink(b *webtest.Browser, link, user string) *webtest.Response {
	e.t.Helper()
	first := b.Get(link)
	if first.StatusCode != http.StatusSeeOther || !strings.HasPrefix(first.Header.Get("Location"), "/signin?") {
		e.t.Fatalf("GET %s before sign-in: %d to %q, want 303 to /signin", link, first.StatusCode, first.Header.Get("Location"))
	}
	signin := b.Get(first.Header.Get("Location"))
	back := b.Post("/signin", url.Values{"csrf_token": {webtest.CSRF(signin.Body)}, "username": {user},
		"password": {"correct horse battery"}, "return_to": {webtest.Hidden(signin.Body, "return_to")}})
	if back.StatusCode != http.StatusSeeOther || back.Header.Get("Location") != link {
		e.t.Fatalf("sign-in: %d back to %q, want 303 back to %q", back.StatusCode, back.Header.Get("Location"), link)
	}
	return b.Get(link)
}

// TestAWSSampleCompat is GRANTD_AWS_SAMPLE_COMPAT=true: the AWS sample's own
// request sequence — codes from POST /token, polls in the query string,
// the verification link /device?code=…&authorize=true through sign-in —
// works unchanged, and its answers are RFC 8628's: slow_down adds 5
// seconds, denial is access_denied, tokens come with token_type. The link
// approves nothing by itself (RFC 8628 §5.4, DEV-12).
func TestAWSSampleCompat(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"GRANTD_AWS_SAMPLE_COMPAT": "true"})
	id, secret := demoClient(e)
	e.user("alice")

	codes := e.sampleRequest(url.Values{"client_id": {id}}, id, secret)
	if codes.status != http.StatusOK || codes.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("device authorization on /token: %d %s", codes.status, codes.raw)
	}
	for _, k := range []string{"device_code", "user_code", "verification_uri", "verification_uri_complete"} {
		if codes.str(k) == "" {
			t.Errorf("device authorization on /token: no %s in %s", k, codes.raw)
		}
	}
	if codes.body["expires_in"] != float64(1800) || codes.body["interval"] != float64(5) || codes.str("scope") != "" {
		t.Errorf("device authorization on /token: %s; want expires_in 1800 and interval 5", codes.raw)
	}
	dc, uc := codes.str("device_code"), codes.str("user_code")

	wantError(t, e.samplePoll(id, secret, dc), 400, "authorization_pending")
	slow := e.samplePoll(id, secret, dc) // at once: too soon
	wantError(t, slow, 400, "slow_down")
	if !strings.Contains(slow.str("error_description"), "10 seconds") {
		t.Errorf("slow_down: %q, want the interval raised to 10 seconds", slow.str("error_description"))
	}
	e.clock.Advance(10 * time.Second)
	wantError(t, e.samplePoll(id, secret, dc), 400, "authorization_pending")

	b := webtest.NewBrowser(t, e.srv.URL, nil)
	link := "/device?" + url.Values{"code": {uc}, "authorize": {"true"}}.Encode()
	confirm := e.sampleLink(b, link, "alice")
	if confirm.StatusCode != http.StatusOK || !strings.Contains(confirm.Body, `<p class="usercode">`+uc+`</p>`) ||
		!strings.Contains(confirm.Body, `value="approve">Approve</button>`) {
		t.Fatalf("the sample's link after sign-in: %d, want the confirm page with %s and Approve", confirm.StatusCode, uc)
	}
	e.clock.Advance(10 * time.Second)
	wantError(t, e.samplePoll(id, secret, dc), 400, "authorization_pending") // the link approved nothing
	decided := b.Post("/device/decision", url.Values{"csrf_token": {webtest.CSRF(confirm.Body)},
		"user_code": {webtest.Hidden(confirm.Body, "user_code")}, "action": {"approve"}})
	if decided.StatusCode != http.StatusOK {
		t.Fatalf("approve: status %d", decided.StatusCode)
	}
	e.clock.Advance(10 * time.Second)
	tok := e.samplePoll(id, secret, dc)
	if tok.status != http.StatusOK || tok.str("access_token") == "" || tok.str("refresh_token") == "" ||
		tok.str("token_type") != "Bearer" || tok.body["expires_in"] != float64(3600) {
		t.Fatalf("poll after approval: %d %s; want tokens with token_type Bearer", tok.status, tok.raw)
	}

	// Denied through the sample's link with authorize=false: access_denied.
	codes = e.sampleRequest(url.Values{"client_id": {id}, "scope": {"lights:read"}}, id, secret)
	if codes.status != http.StatusOK || codes.str("scope") != "" {
		t.Fatalf("device authorization with a scope: %d %s", codes.status, codes.raw)
	}
	confirm = b.Get("/device?" + url.Values{"code": {codes.str("user_code")}, "authorize": {"false"}}.Encode())
	if confirm.StatusCode != http.StatusOK || !strings.Contains(confirm.Body, "lights:read") {
		t.Fatalf("authorize=false: %d, want the confirm page listing lights:read", confirm.StatusCode)
	}
	b.Post("/device/decision", url.Values{"csrf_token": {webtest.CSRF(confirm.Body)},
		"user_code": {webtest.Hidden(confirm.Body, "user_code")}, "action": {"deny"}})
	wantError(t, e.samplePoll(id, secret, codes.str("device_code")), 400, "access_denied")
}

// TestAWSSampleCompatRules: with GRANTD_AWS_SAMPLE_COMPAT=true the query
// string carries only what the sample sends there, a body parameter wins
// over the query's, a repeated one is refused, and a public client
// identified by client_id alone gets its codes too.
func TestAWSSampleCompatRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"GRANTD_AWS_SAMPLE_COMPAT": "true"})
	id, secret := demoClient(e)
	e.client(admin.ClientSpec{ID: "bulb", Public: true, Scopes: []string{"lights:read"}})
	if r := e.sampleRequest(url.Values{"client_id": {"bulb"}}, "bulb", ""); r.status != http.StatusOK || r.str("device_code") == "" {
		t.Errorf("public client, client_id alone: %d %s; want its codes", r.status, r.raw)
	}
	dc := e.sampleRequest(url.Values{"client_id": {id}}, id, secret).str("device_code")

	post := func(target, body string) reply {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+target, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.SetBasicAuth(id, secret)
		return e.do(req)
	}
	poll := url.Values{"grant_type": {sampleGrantType}, "device_code": {dc}}
	tests := []struct {
		name, target, body string
		wantStatus         int
		wantError          string
	}{
		{"body wins over the query", "/token?device_code=bogus&grant_type=" + url.QueryEscape(sampleGrantType), "device_code=" + dc,
			400, "authorization_pending"},
		{"query and body together", "/token?" + poll.Encode(), "", 400, "slow_down"},
		{"secret in the query", "/token?client_id=" + id + "&client_secret=" + secret, "", 400, "invalid_request"},
		{"refresh token in the query", "/token?grant_type=refresh_token&refresh_token=x", "", 400, "invalid_request"},
		{"repeated in the query", "/token?" + poll.Encode() + "&device_code=" + dc, "", 400, "invalid_request"},
		{"a poll without grant_type is no device authorization", "/token?device_code=" + dc, "", 400, "invalid_request"},
		{"other grants keep their body", "/token", "grant_type=refresh_token&refresh_token=unknown", 400, "invalid_grant"},
	}
	for _, tt := range tests {
		r := post(tt.target, tt.body)
		if r.status != tt.wantStatus || r.str("error") != tt.wantError {
			t.Errorf("%s: got %d %s, want %d %s", tt.name, r.status, r.raw, tt.wantStatus, tt.wantError)
		}
		if r.str("device_code") != "" {
			t.Errorf("%s: a new device code was issued: %s", tt.name, r.raw)
		}
	}
}

// TestAWSSampleRefusedWithHint: without GRANTD_AWS_SAMPLE_COMPAT the
// sample's requests are refused with invalid_request and a description
// that points at /device_authorization and at the setting, and its link
// only pre-fills the code-entry form.
func TestAWSSampleRefusedWithHint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id, secret := demoClient(e)
	e.user("alice")
	dc := e.deviceAuthorize(id, secret, "")
	tests := []struct {
		name string
		r    reply
	}{
		{"device authorization on /token", e.sampleRequest(url.Values{"client_id": {id}}, id, secret)},
		{"poll in the query string", e.samplePoll(id, secret, dc.str("device_code"))},
		{"body without grant_type", e.post("/token", url.Values{"client_id": {id}}, basic(id, secret))},
	}
	for _, tt := range tests {
		wantError(t, tt.r, 400, "invalid_request")
		desc := tt.r.str("error_description")
		if !strings.Contains(desc, "POST /device_authorization") || !strings.Contains(desc, "GRANTD_AWS_SAMPLE_COMPAT=true") {
			t.Errorf("%s: error_description %q, want a hint at /device_authorization and GRANTD_AWS_SAMPLE_COMPAT", tt.name, desc)
		}
	}

	b := webtest.NewBrowser(t, e.srv.URL, nil)
	uc := dc.str("user_code")
	link := "/device?" + url.Values{"code": {uc}, "authorize": {"true"}}.Encode()
	page := e.sampleLink(b, link, "alice")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, `<form method="post" action="/device">`) ||
		!strings.Contains(page.Body, `value="`+uc+`"`) || strings.Contains(page.Body, "Approve") {
		t.Errorf("the sample's link without compat: %d, want the code-entry form pre-filled with %s", page.StatusCode, uc)
	}
	g, err := e.store.DeviceGrantByUserCode(context.Background(), strings.ReplaceAll(uc, "-", ""))
	if err != nil || g.State != store.DevicePending {
		t.Errorf("after the link: %v %v, want the grant pending", g.State, err)
	}
}
