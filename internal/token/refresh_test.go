package token

import (
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
)

// refresh is a refresh token request of client (tv or web, each with its
// secret over Basic), with scope when not empty.
func (f *fixture) refresh(client, rt, scope string) reply {
	f.t.Helper()
	form := url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {rt}}
	if scope != "" {
		form.Set("scope", scope)
	}
	a := basic(tv, tvSecret)
	if client == web {
		a = basic(web, webSec)
	}
	return f.token(a, form)
}

// family returns the first refresh token of a new device grant of tv
// that alice approved for scopes.
func (f *fixture) family(scopes ...string) string {
	f.t.Helper()
	r := f.poll(f.approved(scopes...))
	if r.status != 200 || r.str("refresh_token") == "" {
		f.t.Fatalf("device grant: %s", r.raw)
	}
	return r.str("refresh_token")
}

// next refreshes rt as tv and returns its successor, failing the test
// unless it gets one.
func (f *fixture) next(rt string) string {
	f.t.Helper()
	r := f.refresh(tv, rt, "")
	if r.status != 200 || r.str("refresh_token") == "" || r.str("refresh_token") == rt {
		f.t.Fatalf("refresh: %s; want a new refresh token", r.raw)
	}
	return r.str("refresh_token")
}

// TestRefresh is the refresh token grant (RFC 6749 §6) with rotation and
// no grace: each line brings a fresh family to a state and checks the
// answer to one refresh, and what still works afterwards.
func TestRefresh(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tests := []struct {
		name string
		// do returns the refresh to check and, when not "", a refresh
		// token that must (alive) or must not work afterwards.
		do     func(rt string) (r reply, after string, alive bool)
		status int
		code   oauth.ErrorCode
	}{
		{"rotation (RT-02)", func(r1 string) (reply, string, bool) {
			r := f.refresh(tv, r1, "")
			return r, r.str("refresh_token"), true
		}, 200, ""},
		{"rotated token presented again revokes the family (RT-03)", func(r1 string) (reply, string, bool) {
			r2 := f.next(r1)
			return f.refresh(tv, r1, ""), r2, false
		}, 400, oauth.InvalidGrant},
		{"an older generation revokes the live descendant (RT-03)", func(r1 string) (reply, string, bool) {
			r3 := f.next(f.next(r1))
			return f.refresh(tv, r1, ""), r3, false
		}, 400, oauth.InvalidGrant},
		{"another client's token, which stays good (RT-01)", func(r1 string) (reply, string, bool) {
			return f.refresh(web, r1, ""), r1, true
		}, 400, oauth.InvalidGrant},
		{"a wider scope, and the token stays good (RT-05)", func(r1 string) (reply, string, bool) {
			return f.refresh(tv, r1, "lights:read lights:write"), r1, true
		}, 400, oauth.InvalidScope},
		{"a malformed scope", func(r1 string) (reply, string, bool) {
			return f.refresh(tv, r1, `lights:read "`), r1, true
		}, 400, oauth.InvalidScope},
		{"idle past its lifetime (RT-06)", func(r1 string) (reply, string, bool) {
			f.clock.Advance(f.h.RefreshTokenIdleTTL)
			return f.refresh(tv, r1, ""), "", false
		}, 400, oauth.InvalidGrant},
		{"used within its idle lifetime, until the family's end (RT-06)", func(r1 string) (reply, string, bool) {
			rt := r1
			for range 4 { // 24 days
				f.clock.Advance(6 * 24 * time.Hour)
				rt = f.next(rt)
			}
			f.clock.Advance(6 * 24 * time.Hour) // 30 days: the family's end
			return f.refresh(tv, rt, ""), "", false
		}, 400, oauth.InvalidGrant},
		{"user disabled (RT-07)", func(r1 string) (reply, string, bool) {
			u := f.newUser(fmt.Sprint("carol-", f.clock.Now().UnixNano()))
			d := f.authorize(tv, "lights:read")
			f.decide(d, u, true)
			rt := f.poll(d).str("refresh_token")
			if err := f.st.SetUserDisabled(t.Context(), u.ID, true); err != nil {
				t.Fatal(err)
			}
			return f.refresh(tv, rt, ""), r1, true
		}, 400, oauth.InvalidGrant},
		{"grant revoked (DEV-23)", func(r1 string) (reply, string, bool) {
			rt, err := f.st.RefreshToken(t.Context(), secret.Hash(r1))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.st.RevokeGrant(t.Context(), rt.GrantID, f.clock.Now()); err != nil {
				t.Fatal(err)
			}
			return f.refresh(tv, r1, ""), "", false
		}, 400, oauth.InvalidGrant},
		{"a token never issued", func(string) (reply, string, bool) {
			return f.refresh(tv, "never-issued-refresh-token", ""), "", false
		}, 400, oauth.InvalidGrant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, after, alive := tt.do(f.family("lights:read"))
			if bad := check(r, tt.status, tt.code); bad != "" {
				t.Fatalf("got %s; want %d %q", bad, tt.status, tt.code)
			}
			if after == "" {
				return
			}
			if got := f.refresh(tv, after, ""); (got.status == 200) != alive {
				t.Errorf("refresh afterwards: %s; want it to work %t", got.raw, alive)
			}
		})
	}
}

// TestRefreshNarrowsScope is RT-05's other half: a refresh may ask for
// less than was granted, and the next refresh token keeps the grant's
// whole scope.
func TestRefreshNarrowsScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r1 := f.family("openid", "lights:read")
	narrow := f.refresh(tv, r1, "lights:read")
	if narrow.status != 200 || narrow.str("scope") != "lights:read" || claims(t, narrow.str("access_token"))["scope"] != "lights:read" {
		t.Fatalf("refresh asking for lights:read: %s", narrow.raw)
	}
	whole := f.refresh(tv, narrow.str("refresh_token"), "")
	if whole.status != 200 || whole.str("scope") != "openid lights:read" {
		t.Errorf("next refresh without a scope: %s; want the whole grant's scope", whole.raw)
	}
}

// TestRefreshGrace is RT-04: within the grace, a rotated token presented
// again gets the same successor, which stays good; the grace covers only
// the generation just rotated, and after it a reuse revokes the family.
func TestRefreshGrace(t *testing.T) {
	t.Parallel()
	const grace = 30 * time.Second
	f := newFixture(t, func(h *Handler) { h.RefreshTokenGrace = grace })
	r1 := f.family("lights:read")
	r2 := f.next(r1)
	f.clock.Advance(grace)
	if r := f.refresh(tv, r1, ""); r.status != 200 || r.str("refresh_token") != r2 {
		t.Fatalf("r1 again within the grace: %s; want r2 again", r.raw)
	}
	r3 := f.next(r2)
	if r := f.refresh(tv, r1, ""); r.status != 400 {
		t.Errorf("r1 again once r2 was used: %s; want invalid_grant", r.raw)
	}
	if r := f.refresh(tv, r3, ""); r.status != 400 {
		t.Errorf("r3 after r1's reuse: %s; want the family revoked", r.raw)
	}

	r1 = f.family("lights:read")
	r2 = f.next(r1)
	f.clock.Advance(grace + time.Second)
	if r := f.refresh(tv, r1, ""); r.status != 400 {
		t.Errorf("r1 again after the grace: %s; want invalid_grant", r.raw)
	}
	if r := f.refresh(tv, r2, ""); r.status != 400 {
		t.Errorf("r2 after r1's reuse: %s; want the family revoked", r.raw)
	}
}

// TestConcurrentRefresh is REL-03 at the endpoint: concurrent refreshes
// of one token within the grace all get the same one successor, and no
// server error.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(h *Handler) { h.RefreshTokenGrace = time.Minute })
	r1 := f.family("lights:read")
	const n = 8
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { replies[i] = f.refresh(tv, r1, "") })
	}
	wg.Wait()
	var successors []string
	for _, r := range replies {
		if r.status != 200 {
			t.Fatalf("a concurrent refresh: %s; want the successor", r.raw)
		}
		successors = append(successors, r.str("refresh_token"))
	}
	if len(slices.Compact(slices.Clone(successors))) != 1 || successors[0] == r1 {
		t.Errorf("successors %q; want one, not r1", successors)
	}
}
