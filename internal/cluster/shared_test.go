package cluster

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/web/webtest"
)

// sharedStateEnv configures the instances of TestTwoInstancesShareState:
// a one-second polling interval, per-IP budgets of five, and the load
// balancer (and the test, on loopback) as a trusted proxy, so that each
// subtest spends the budgets of a client IP of its own.
var sharedStateEnv = map[string]string{
	"POLLING_INTERVAL":          "1",
	"GRANTD_USER_CODE_LIMIT_IP": "5/1h",
	"GRANTD_SIGN_IN_LIMIT_IP":   "5/1h",
	"GRANTD_TRUSTED_PROXIES":    "127.0.0.1/32",
}

// TestTwoInstancesShareState is docs/SECURITY.md REL-06 and REL-10 on two
// `grantd serve` processes, A and B, on one PostgreSQL database: what one
// instance starts, the other finishes; every budget and the polling
// interval are global; both sign with, and publish, the same keys.
func TestTwoInstancesShareState(t *testing.T) {
	c := newCluster(t, clusterOptions{instances: 2, env: sharedStateEnv, users: []string{"alice", "bob", "carol"}})
	a, b := c.nodes[0].URL, c.nodes[1].URL

	t.Run("SameJWKSAndMetadata", func(t *testing.T) {
		for _, path := range []string{"/.well-known/jwks.json", "/.well-known/oauth-authorization-server"} {
			ra, rb := c.get(a, path), c.get(b, path)
			if ra.status != http.StatusOK || rb.status != http.StatusOK || !bytes.Equal(ra.body, rb.body) {
				t.Errorf("GET %s: A %s, B %s; want the same document", path, ra, rb)
			}
		}
	})

	var first tokens
	t.Run("ApproveOnOtherInstance", func(t *testing.T) {
		first = c.approveAcross(t, a, b)
	})

	t.Run("TokensVerifyAcross", func(t *testing.T) {
		if first.RefreshToken == "" {
			t.Skip("no tokens: ApproveOnOtherInstance failed")
		}
		c.tokensAcross(t, a, b, first)
	})

	t.Run("SlowDownIsGlobal", func(t *testing.T) {
		d := c.authorize(t, b, "lights:read")
		wantError(t, "first poll, on B", c.poll(b, d.DeviceCode), "authorization_pending")
		wantError(t, "poll on A right after one on B", c.poll(a, d.DeviceCode), "slow_down")
		// The slow_down on A raised the code's interval to 6 s for B too.
		// Real time: the instances are processes on the wall clock, and
		// the poll must come after the old interval, within the new.
		time.Sleep(time.Duration(d.Interval)*time.Second + 200*time.Millisecond)
		wantError(t, "poll on B after the old interval", c.poll(b, d.DeviceCode), "slow_down")
	})

	t.Run("UserCodeBudgetIsGlobal", func(t *testing.T) {
		br := c.browser(t, "203.0.113.2")
		signIn(t, at(br, a), at(br, a), "bob")
		form := at(br, a).Get("/device")
		try := func(base string) *webtest.Response {
			return at(br, base).Post("/device", url.Values{"csrf_token": {webtest.CSRF(form.Body)}, "user_code": {randomUserCode(t)}})
		}
		checkBudget(t, "user code", 5, c.nodes[0], c.nodes[1], try)
	})

	t.Run("SignInBudgetIsGlobal", func(t *testing.T) {
		br := c.browser(t, "203.0.113.3")
		page := at(br, a).Get("/signin")
		try := func(base string) *webtest.Response {
			return at(br, base).Post("/signin", url.Values{"csrf_token": {webtest.CSRF(page.Body)},
				"username": {"mallory"}, "password": {"guess"}})
		}
		checkBudget(t, "sign-in", 5, c.nodes[0], c.nodes[1], try)
	})

	t.Run("DeviceFlowThroughLoadBalancer", func(t *testing.T) {
		c.flowThroughLoadBalancer(t)
	})
}

// approveAcross runs a device flow that crosses instances at every step: the
// device authorization on A; the session cookie started on A, signed in on
// B; a code-entry form from A posted to B; the approval on B; the poll on B.
// A second poll, on A, finds the code used: one token set per code.
func (c *cluster) approveAcross(t *testing.T, a, b string) tokens {
	d := c.authorize(t, a, "openid lights:read")
	if d.VerificationURI != c.issuer+"/device" {
		t.Errorf("verification_uri %q, want the issuer's %q", d.VerificationURI, c.issuer+"/device")
	}
	br := c.browser(t, "203.0.113.1")
	onA, onB := at(br, a), at(br, b)
	signIn(t, onA, onB, "alice")
	approve(t, onA, onB, onB, d.UserCode)
	tk := tokensOf(t, "poll on B of a code authorized on A and approved on B", c.poll(b, d.DeviceCode))
	if tk.RefreshToken == "" || tk.Scope != "openid lights:read" {
		t.Errorf("tokens %+v: want a refresh token and the scope asked for", tk)
	}
	// A decided code is answered by its state however soon it is polled
	// (RFC 8628 §3.5): no wait for the interval.
	sameTokenSet(t, "second poll, on A, within the grace window", c.poll(a, d.DeviceCode), tk)
	return tk
}

// tokensAcross checks that a token set minted by B works on A and one
// minted by A works on B: signatures verify with the other's JWKS,
// introspection on the other says active, and a refresh retried on the
// other instance within the grace period gets the same successor (the
// successor key is shared).
func (c *cluster) tokensAcross(t *testing.T, a, b string, fromB tokens) {
	aliceID := c.userIDs["alice"]
	claims := c.verifyAccessToken(t, a, fromB.AccessToken)
	if claims.Subject != aliceID || claims.ClientID != deviceClient.id {
		t.Errorf("access token minted by B: sub %q client_id %q; want %q, %q", claims.Subject, claims.ClientID, aliceID, deviceClient.id)
	}
	fromA := tokensOf(t, "refresh on A of a token B issued", c.refresh(a, fromB.RefreshToken))
	if claims := c.verifyAccessToken(t, b, fromA.AccessToken); claims.Subject != aliceID {
		t.Errorf("access token minted by A: sub %q, want %q", claims.Subject, aliceID)
	}
	for _, tc := range []struct{ what, base, token, typ string }{
		{"access token minted by A, on B", b, fromA.AccessToken, "Bearer"},
		{"refresh token minted by A, on B", b, fromA.RefreshToken, "refresh_token"},
		{"access token minted by B, on A", a, fromB.AccessToken, "Bearer"},
	} {
		r := c.introspect(tc.base, tc.token)
		var active bool
		if r.status != http.StatusOK || !r.jsonField("active", &active) || !active ||
			r.field("token_type") != tc.typ || r.field("sub") != aliceID || r.field("username") != "alice" {
			t.Errorf("introspect %s: %s; want active, %s, sub %s", tc.what, r, tc.typ, aliceID)
		}
	}
	again := tokensOf(t, "the same refresh retried on B within the grace period", c.refresh(b, fromB.RefreshToken))
	if again.RefreshToken != fromA.RefreshToken {
		t.Errorf("retried refresh on B got another successor than A gave; want the same (shared successor key)")
	}
}

// checkBudget makes 2n attempts, alternately on a and b, against a budget of
// n attempts: exactly the first n are evaluated (400, a wrong guess) and the
// rest refused with 429 and Retry-After, on both instances.
func checkBudget(t *testing.T, what string, n int, a, b *instance, try func(base string) *webtest.Response) {
	t.Helper()
	var got []string
	refusedOn := map[string]bool{}
	for i := range 2 * n {
		node := []*instance{a, b}[i%2]
		resp := try(node.URL)
		got = append(got, fmt.Sprint(resp.StatusCode))
		want := http.StatusBadRequest
		if i >= n {
			want = http.StatusTooManyRequests
			refusedOn[node.name] = true
		}
		if resp.StatusCode != want {
			t.Errorf("%s attempt %d (on %s): %d, want %d", what, i+1, node.name, resp.StatusCode, want)
		}
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s attempt %d: 429 without Retry-After", what, i+1)
		}
	}
	if len(refusedOn) != 2 {
		t.Errorf("%s: refusals came from %d instances, want both", what, len(refusedOn))
	}
	t.Logf("%s attempts alternating A, B: %s", what, strings.Join(got, " "))
}

// userCodeAlphabet is the default user-code format, #B (digits and
// upper-case consonants).
const userCodeAlphabet = "0123456789BCDFGHJKLMNPQRSTVWXZ"

// randomUserCode returns a well-formed user code that matches no pending
// grant but for a 1 in 30⁸ chance.
func randomUserCode(t *testing.T) string {
	var b strings.Builder
	for range 8 {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(userCodeAlphabet))))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteByte(userCodeAlphabet[i.Int64()])
	}
	return b.String()
}

// flowThroughLoadBalancer runs a whole device flow through the load
// balancer, the issuer URL, so that consecutive requests land on
// alternate instances, as they do in production.
func (c *cluster) flowThroughLoadBalancer(t *testing.T) {
	lb := c.issuer
	d := c.authorize(t, lb, "lights:read")
	br := c.browser(t, "203.0.113.4")
	signIn(t, br, br, "carol")
	approve(t, br, br, br, d.UserCode)
	tk := tokensOf(t, "poll through the load balancer", c.poll(lb, d.DeviceCode))
	r := c.introspect(lb, tk.AccessToken)
	var active bool
	if r.status != http.StatusOK || !r.jsonField("active", &active) || !active || r.field("sub") != c.userIDs["carol"] {
		t.Errorf("introspect through the load balancer: %s; want active for carol", r)
	}
}
