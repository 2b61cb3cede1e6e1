package device_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/web"
)

// TestVerifyExpiredWhileOpen: a code that expires between its confirm page
// and the user's Approve or Deny gets a page that says so and asks for a
// new code, rather than the empty form of an invalid one; nothing is
// decided. A code decided meanwhile by someone else still gets the one
// answer of DEV-09.
func TestVerifyExpiredWhileOpen(t *testing.T) {
	for _, action := range []string{"approve", "deny"} {
		t.Run(action, func(t *testing.T) {
			f := newVerifyFixture(t, web.Budgets{})
			f.grant("tv", "WDJBMJHT", nil, 10*time.Minute)
			f.grant("tv", "BCDFGHJK", nil, 10*time.Minute)
			b := f.signedIn("alice", verifyAlicePassword)
			confirm, other := verifyEnter(b, "WDJB-MJHT"), verifyEnter(b, "BCDF-GHJK")
			f.decide("BCDFGHJK", true)
			f.clock.Add(10 * time.Minute)
			resp := verifyChoose(b, confirm, action)
			for _, want := range []string{"<h1>This code has expired — start again on your device</h1>",
				"When you start again, your device shows a new code: enter it here.",
				`<label for="user_code">User code</label>`, `required value="">`} {
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, want) {
					t.Errorf("expired while open: status %d, want 400 with %q", resp.StatusCode, want)
				}
			}
			if got := f.state("WDJBMJHT").State; got != store.DevicePending {
				t.Errorf("state %s, want pending: an expired code is not decided", got)
			}
			resp = verifyChoose(b, other, action)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, verifyInvalid) ||
				strings.Contains(resp.Body, "expired") {
				t.Errorf("decided meanwhile: status %d, want 400 with the one answer of DEV-09", resp.StatusCode)
			}
		})
	}
}

// TestVerifyMistypedCodeKept: a mistyped code stays in the field, escaped,
// so that the user mends it instead of typing it all again.
func TestVerifyMistypedCodeKept(t *testing.T) {
	f := newVerifyFixture(t, web.Budgets{})
	f.grant("tv", "WDJBMJHT", nil, 10*time.Minute)
	b := f.signedIn("alice", verifyAlicePassword)
	for _, tt := range []struct{ typed, field string }{
		{"WDJB-MJHX", `value="WDJB-MJHX"`},
		{"wdjb mjh", `value="wdjb mjh"`},
		{`WDJB"<b>`, `value="WDJB&#34;&lt;b&gt;"`},
		{strings.Repeat("W", 65), `required value="">`}, // longer than any code: not echoed
	} {
		resp := verifyEnter(b, tt.typed)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, tt.field) {
			t.Errorf("typed %q: status %d, want 400 with %s", tt.typed, resp.StatusCode, tt.field)
		}
	}
}
