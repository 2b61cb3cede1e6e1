package web_test

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/clientip"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/web"
	"github.com/grantd/grantd/internal/web/webtest"
)

const cookieName = "grantd_session"

// signInForm fetches the sign-in page and returns the form to post back.
func signInForm(b *webtest.Browser, query, username, password string) url.Values {
	b.T.Helper()
	page := b.Get("/signin" + query)
	if page.StatusCode != http.StatusOK {
		b.T.Fatalf("GET /signin%s: status %d", query, page.StatusCode)
	}
	return url.Values{
		"csrf_token": {webtest.CSRF(page.Body)},
		"return_to":  {webtest.Hidden(page.Body, "return_to")},
		"username":   {username},
		"password":   {password},
	}
}

// TestSignInRotatesSession checks UI-05: sign-in succeeds, returns to the
// page that asked for it, and replaces the anonymous session id.
func TestSignInRotatesSession(t *testing.T) {
	f := newFixture(t, false, nil)
	b := f.browser()

	resp := b.Get("/device?user_code=WDJB-MJHT")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET /device signed out: status %d, want 303", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Path != "/signin" || loc.Query().Get("return_to") != "/device?user_code=WDJB-MJHT" {
		t.Fatalf("redirect = %q, want /signin with return_to=/device?user_code=WDJB-MJHT", resp.Header.Get("Location"))
	}

	form := signInForm(b, "?"+loc.RawQuery, "alice", alicePassword)
	anon := b.Cookie(cookieName)
	if anon == "" || f.sessionExists(anon) {
		t.Fatalf("GET /signin: cookie %q, stored %v; want an anonymous session that is not stored", anon, f.sessionExists(anon))
	}
	resp = b.Post("/signin", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /signin: status %d, want 303", resp.StatusCode)
	}
	if got := resp.Header.Get("Location"); got != "/device?user_code=WDJB-MJHT" {
		t.Errorf("Location = %q, want /device?user_code=WDJB-MJHT", got)
	}
	id := b.Cookie(cookieName)
	if id == anon {
		t.Errorf("session id not rotated at sign-in")
	}
	if b.Get("/signin").StatusCode != http.StatusOK || b.Cookie(cookieName) != id {
		t.Errorf("GET /signin signed in replaced the signed-in session")
	}
	sess, err := f.store.Session(context.Background(), secret.Hash(id), f.clock.Now())
	if err != nil {
		t.Fatalf("signed-in session not stored: %v", err)
	}
	if sess.UserID != "u-alice" || !sess.AuthTime.Equal(f.clock.Now()) {
		t.Errorf("session = user %q auth %v, want u-alice at %v", sess.UserID, sess.AuthTime, f.clock.Now())
	}
	if page := b.Get("/device"); page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "device page for u-alice") {
		t.Errorf("GET /device signed in: status %d body %q", page.StatusCode, page.Body)
	}
}

// TestAnonymousSessionsAreFree: a flood of cookieless GET /signin stores
// nothing, yet each visitor's form carries a CSRF token bound to its own
// cookie, which another visitor's cookie does not pass.
func TestAnonymousSessionsAreFree(t *testing.T) {
	f := newFixture(t, false, nil)
	var cookies []string
	for range 200 {
		b := f.browser()
		if resp := b.Get("/signin"); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /signin: %d", resp.StatusCode)
		}
		cookies = append(cookies, b.Cookie(cookieName))
	}
	for i, c := range cookies {
		if c == "" || f.sessionExists(c) {
			t.Fatalf("visitor %d: cookie %q stored %v; want a cookie and no row", i, c, f.sessionExists(c))
		}
	}
	victim, attacker := f.browser(), f.browser()
	form := signInForm(attacker, "", "alice", alicePassword)
	victim.Get("/signin")
	if resp := victim.Post("/signin", form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in with another visitor's CSRF token: %d, want 403", resp.StatusCode)
	}
}

// TestSignInFailureIsGeneric checks UI-06: an unknown user, a wrong password
// and a disabled account get the same status and the same page.
func TestSignInFailureIsGeneric(t *testing.T) {
	f := newFixture(t, false, nil)
	tests := []struct{ name, username, password string }{
		{"unknown user", "mallory", "whatever"},
		{"wrong password", "alice", "wrong"},
		{"disabled user", "bob", bobPassword},
	}
	var first string
	for _, tt := range tests {
		b := f.browser()
		form := signInForm(b, "", tt.username, tt.password)
		resp := b.Post("/signin", form)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", tt.name, resp.StatusCode)
		}
		if !strings.Contains(resp.Body, "Incorrect username or password.") {
			t.Errorf("%s: generic message missing", tt.name)
		}
		body := strings.ReplaceAll(resp.Body, form.Get("csrf_token"), "TOKEN")
		body = strings.ReplaceAll(body, `value="`+tt.username+`"`, `value="USER"`)
		if first == "" {
			first = body
		} else if body != first {
			t.Errorf("%s: page differs from %s's", tt.name, tests[0].name)
		}
		if b.Get("/device").StatusCode != http.StatusSeeOther {
			t.Errorf("%s: signed in after a failed sign-in", tt.name)
		}
	}
}

// TestSessionCookie checks UI-05: the session cookie's attributes, with the
// __Host- prefix and Secure when the issuer is https.
func TestSessionCookie(t *testing.T) {
	tests := []struct {
		name   string
		tls    bool
		cookie string
	}{
		{"http issuer", false, "grantd_session"},
		{"https issuer", true, "__Host-grantd_session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.tls, nil)
			b := f.browser()
			resp := b.Get("/signin")
			cookies := resp.Cookies()
			if len(cookies) != 1 {
				t.Fatalf("got %d cookies, want 1", len(cookies))
			}
			c := cookies[0]
			if c.Name != tt.cookie || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tt.tls ||
				c.Path != "/" || c.Domain != "" || c.MaxAge <= 0 {
				t.Errorf("cookie = %q, want %s; HttpOnly; SameSite=Lax; Secure=%v; Path=/; no Domain; Max-Age",
					resp.Header.Get("Set-Cookie"), tt.cookie, tt.tls)
			}
			if len(c.Value) < 43 {
				t.Errorf("session id %d characters, want a 256-bit token", len(c.Value))
			}
			b.SignIn("alice", alicePassword)
			if b.Get("/device").StatusCode != http.StatusOK {
				t.Errorf("signed-in session not recognised")
			}
		})
	}
}

// TestReturnToOpenRedirect checks that return_to never leads off the site
// (RFC 6819 §4.2.4): whatever is posted, sign-in ends at a local page.
func TestReturnToOpenRedirect(t *testing.T) {
	f := newFixture(t, false, nil)
	tests := []struct{ returnTo, want string }{
		{"//evil.example", "/device"},
		{"https://evil.example", "/device"},
		{"/\\evil.example", "/device"},
		{"\\\\evil.example", "/device"},
		{"/\t/evil.example", "/device"},
		{"javascript:alert(1)", "/device"},
		{"evil.example", "/device"},
		{"", "/device"},
		{"/device?user_code=WDJB-MJHT", "/device?user_code=WDJB-MJHT"},
		{"/authorize?client_id=a&state=b", "/authorize?client_id=a&state=b"},
	}
	for _, tt := range tests {
		b := f.browser()
		// The page itself offers only a safe value...
		page := b.Get("/signin?return_to=" + url.QueryEscape(tt.returnTo))
		if got := webtest.Hidden(page.Body, "return_to"); got != tt.want {
			t.Errorf("GET /signin?return_to=%q: form return_to = %q, want %q", tt.returnTo, got, tt.want)
		}
		// ...and a forged post is cleaned as well.
		form := signInForm(b, "", "alice", alicePassword)
		form.Set("return_to", tt.returnTo)
		resp := b.Post("/signin", form)
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != tt.want {
			t.Errorf("return_to %q: %d to %q, want 303 to %q", tt.returnTo, resp.StatusCode, got, tt.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/device", "/device"},
		{"/device?user_code=A%20B", "/device?user_code=A%20B"},
		{"//evil.example/x", "/device"},
		{"/\\evil.example", "/device"},
		{"/ok\\path", "/device"},
		{"https://evil.example/", "/device"},
		{"HTTPS:evil", "/device"},
		{"/\n/evil.example", "/device"},
		{"/%0a", "/%0a"},
		{"relative", "/device"},
		{"", "/device"},
	}
	for _, tt := range tests {
		if got := web.LocalPath(tt.in); got != tt.want {
			t.Errorf("LocalPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSignInCSRF checks that a sign-in post without this session's token is
// refused with 403 and signs nobody in.
func TestSignInCSRF(t *testing.T) {
	f := newFixture(t, false, nil)
	other := f.browser()
	otherToken := signInForm(other, "", "", "").Get("csrf_token")
	tests := []struct {
		name  string
		token string
	}{
		{"missing token", ""},
		{"wrong token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"token of another session", otherToken},
	}
	for _, tt := range tests {
		b := f.browser()
		form := signInForm(b, "", "alice", alicePassword)
		before := b.Cookie(cookieName)
		form.Set("csrf_token", tt.token)
		if resp := b.Post("/signin", form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tt.name, resp.StatusCode)
		}
		if b.Cookie(cookieName) != before || b.Get("/device").StatusCode != http.StatusSeeOther {
			t.Errorf("%s: session changed", tt.name)
		}
	}
	// No session at all: a post straight from elsewhere.
	b := f.browser()
	resp := b.Post("/signin", url.Values{"csrf_token": {otherToken}, "username": {"alice"}, "password": {alicePassword}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("no session: status %d, want 403", resp.StatusCode)
	}
}

// TestSignInRateLimit checks UI-07 and UI-08: budgets are spent before the
// password is checked, user-name case variants share one budget, a spoofed
// X-Forwarded-For does not reset the per-IP budget (GEN-06), and lockout
// ends when the window has passed.
func TestSignInRateLimit(t *testing.T) {
	t.Run("per account", func(t *testing.T) {
		f := newFixture(t, false, func(s *web.Site) {
			s.SignInBudgets.PerAccount = ratelimit.Budget{N: 3, Per: 15 * time.Minute}
		})
		for _, name := range []string{"alice", "Alice", "ALICE"} {
			b := f.browser()
			if resp := b.Post("/signin", signInForm(b, "", name, "wrong")); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("wrong password as %q: status %d, want 400", name, resp.StatusCode)
			}
		}
		b := f.browser()
		resp := b.Post("/signin", signInForm(b, "", "alice", alicePassword))
		checkTooMany(t, "right password after budget", resp)
		if b.Get("/device").StatusCode != http.StatusSeeOther {
			t.Errorf("signed in although the budget was spent")
		}
		f.clock.Add(15 * time.Minute)
		b.SignIn("alice", alicePassword)
	})
	t.Run("per IP, spoofed X-Forwarded-For ignored", func(t *testing.T) {
		f := newFixture(t, false, func(s *web.Site) {
			s.SignInBudgets.PerIP = ratelimit.Budget{N: 3, Per: 15 * time.Minute}
		})
		for i, name := range []string{"carol", "dave", "erin", "alice"} {
			b := f.browser()
			form := signInForm(b, "", name, "wrong")
			req, _ := http.NewRequest(http.MethodPost, b.Base+"/signin", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", "198.51.100."+strconv.Itoa(i+1))
			resp := b.Do(req)
			if i < 3 && resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("attempt %d: status %d, want 400", i+1, resp.StatusCode)
			}
			if i == 3 {
				checkTooMany(t, "fourth attempt from one IP", resp)
			}
		}
	})
}

// TestSignInBudgetsFair: the budgets stop guessing without locking out
// the rightful user. Only failures count; a browser that signed in as the
// user before (its device cookie) passes budgets an attacker has spent —
// the account's, the IP's and everyone's — and has one of its own; and an
// IPv6 client is counted by its /64.
func TestSignInBudgetsFair(t *testing.T) {
	tight := func(s *web.Site) {
		s.BrowserKey = []byte("0123456789abcdef0123456789abcdef")
		s.SignInBudgets = web.Budgets{
			PerAccount: ratelimit.Budget{N: 3, Per: 15 * time.Minute},
			PerIP:      ratelimit.Budget{N: 100, Per: 15 * time.Minute},
			Global:     ratelimit.Budget{N: 100, Per: time.Minute},
		}
	}
	guess := func(f *fixture, n int) {
		for range n {
			b := f.browser()
			b.Post("/signin", signInForm(b, "", "alice", "wrong"))
		}
	}
	t.Run("successes do not count", func(t *testing.T) {
		f := newFixture(t, false, tight)
		for i := range 6 {
			b := f.browser()
			if resp := b.Post("/signin", signInForm(b, "", "alice", alicePassword)); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in %d of the rightful user: status %d, want 303", i+1, resp.StatusCode)
			}
		}
		guess(f, 3)
		b := f.browser()
		checkTooMany(t, "a fourth failure", b.Post("/signin", signInForm(b, "", "alice", "wrong")))
	})
	t.Run("a known browser passes a locked account", func(t *testing.T) {
		f := newFixture(t, false, tight)
		known := f.browser()
		known.SignIn("alice", alicePassword)
		known.Post("/signout", url.Values{"csrf_token": {webtest.CSRF(known.Get("/device").Body)}})
		guess(f, 10) // five wrong guesses from anywhere, then more as the budget refills
		stranger := f.browser()
		checkTooMany(t, "the right password from a new browser", stranger.Post("/signin", signInForm(stranger, "", "alice", alicePassword)))
		if resp := known.Post("/signin", signInForm(known, "", "alice", alicePassword)); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("the right password from a browser that signed in before: status %d, want 303", resp.StatusCode)
		}
	})
	t.Run("a known browser passes spent IP and global budgets", func(t *testing.T) {
		f := newFixture(t, false, func(s *web.Site) {
			tight(s)
			s.SignInBudgets.PerIP = ratelimit.Budget{N: 2, Per: 15 * time.Minute}
			s.SignInBudgets.Global = ratelimit.Budget{N: 2, Per: time.Minute}
		})
		known := f.browser()
		known.SignIn("alice", alicePassword)
		for range 5 { // a flood at other accounts, from the user's network
			b := f.browser()
			b.Post("/signin", signInForm(b, "", "mallory", "guess"))
		}
		if resp := known.Post("/signin", signInForm(known, "", "alice", alicePassword)); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("known browser after the flood: status %d, want 303", resp.StatusCode)
		}
	})
	t.Run("a known browser has a budget of its own", func(t *testing.T) {
		f := newFixture(t, false, tight)
		known := f.browser()
		known.SignIn("alice", alicePassword)
		for range 3 {
			known.Post("/signin", signInForm(known, "", "alice", "wrong"))
		}
		checkTooMany(t, "a fourth failure from the known browser", known.Post("/signin", signInForm(known, "", "alice", "wrong")))
	})
	t.Run("an IPv6 client is counted by its /64", func(t *testing.T) {
		f := newFixture(t, false, func(s *web.Site) {
			tight(s)
			s.SignInBudgets.PerIP = ratelimit.Budget{N: 3, Per: 15 * time.Minute}
			s.IPs = clientip.Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
		})
		from := func(addr, user string) *webtest.Response {
			b := f.browser()
			form := signInForm(b, "", user, "wrong")
			req, _ := http.NewRequest(http.MethodPost, b.Base+"/signin", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", addr)
			return b.Do(req)
		}
		for i, addr := range []string{"2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2:ffff::c"} {
			if resp := from(addr, "user"+strconv.Itoa(i)); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("attempt from %s: status %d, want 400", addr, resp.StatusCode)
			}
		}
		checkTooMany(t, "a fourth address of the same /64", from("2001:db8:1:2::d", "user9"))
		if resp := from("2001:db8:1:3::1", "user10"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("another /64: status %d, want 400", resp.StatusCode)
		}
	})
}

func checkTooMany(t *testing.T, what string, resp *webtest.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%s: status %d, want 429", what, resp.StatusCode)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" || strings.Trim(ra, "0123456789") != "" || ra == "0" {
		t.Errorf("%s: Retry-After = %q, want whole seconds", what, ra)
	}
}

// TestSignOut checks that sign-out needs the CSRF token and then deletes
// the session.
func TestSignOut(t *testing.T) {
	f := newFixture(t, false, nil)
	b := f.browser()
	b.SignIn("alice", alicePassword)
	id := b.Cookie(cookieName)
	page := b.Get("/device")

	if resp := b.Post("/signout", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without token: status %d, want 403", resp.StatusCode)
	}
	if !f.sessionExists(id) {
		t.Fatalf("session deleted by a sign-out without token")
	}
	resp := b.Post("/signout", url.Values{"csrf_token": {webtest.CSRF(page.Body)}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Errorf("sign-out: %d to %q, want 303 to /signin", resp.StatusCode, resp.Header.Get("Location"))
	}
	if f.sessionExists(id) {
		t.Errorf("session still stored after sign-out")
	}
	if b.Get("/device").StatusCode != http.StatusSeeOther {
		t.Errorf("still signed in after sign-out")
	}
}

// TestSessionSurvivesRestart checks that sessions live in the store.
func TestSessionSurvivesRestart(t *testing.T) {
	f := newFixture(t, false, nil)
	b := f.browser()
	b.SignIn("alice", alicePassword)
	f.restart(b)
	if resp := b.Get("/device"); resp.StatusCode != http.StatusOK {
		t.Errorf("after restart: status %d, want 200", resp.StatusCode)
	}
}

// TestSessionExpires checks that a session ends after SessionTTL.
func TestSessionExpires(t *testing.T) {
	f := newFixture(t, false, nil)
	b := f.browser()
	b.SignIn("alice", alicePassword)
	f.clock.Add(8*time.Hour + time.Second)
	if resp := b.Get("/device"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after SessionTTL: status %d, want 303 to sign-in", resp.StatusCode)
	}
}
