package httpserver_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

// TestClientAuthBudget is TOK-02 at the token endpoint: wrong secrets spend
// the client's budget of full secret checks per client IP, and once it is
// spent they get 429 with Retry-After before any check, while a device
// presenting the secret verified before spends nothing and is never locked
// out.
func TestClientAuthBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"GRANTD_CLIENT_AUTH_LIMIT": "3/1m"})
	id, secret := demoClient(e)
	dc := e.deviceAuthorize(id, secret, "").str("device_code") // the first full check: one of 3
	poll := url.Values{"grant_type": {sampleGrantType}, "device_code": {dc}}
	for i := range 2 {
		wantError(t, e.post("/token", poll, basic(id, "wrong-secret-"+strconv.Itoa(i))), http.StatusUnauthorized, "invalid_client")
	}
	r := e.post("/token", poll, basic(id, "wrong-secret-again"))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("wrong secret over the budget: %d (Retry-After %q) %s; want 429 with Retry-After",
			r.status, r.header.Get("Retry-After"), r.raw)
	}
	wantError(t, e.post("/token", poll, basic(id, secret)), http.StatusBadRequest, "authorization_pending")
}
