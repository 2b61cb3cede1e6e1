package token

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/oauth"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store"
)

// Device grants of the fixture live codeLifetime and start at interval.
const (
	codeLifetime = 10 * time.Minute
	interval     = 5 * time.Second
)

// deviceGrant is a device authorization request as the device holds it.
type deviceGrant struct {
	client, code, userCode string
}

// authorize stores a pending device grant of client for scopes, as
// POST /device_authorization would.
func (f *fixture) authorize(client string, scopes ...string) deviceGrant {
	f.t.Helper()
	code, err := secret.NewToken(rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	userCode := strings.ToUpper(code[:8])
	now := f.clock.Now()
	err = f.st.CreateDeviceGrant(f.t.Context(), store.DeviceGrant{DeviceCodeHash: secret.Hash(code), UserCode: userCode,
		ClientID: client, Scopes: scopes, State: store.DevicePending, Interval: interval, CreatedAt: now, ExpiresAt: now.Add(codeLifetime)})
	if err != nil {
		f.t.Fatal(err)
	}
	return deviceGrant{client: client, code: code, userCode: userCode}
}

// decide approves or denies d as user u, as the verification page would.
func (f *fixture) decide(d deviceGrant, u store.User, approve bool) {
	f.t.Helper()
	now := f.clock.Now()
	if _, err := f.st.DecideDeviceGrant(f.t.Context(), d.userCode, store.Decision{Approve: approve, UserID: u.ID, AuthTime: now}, now); err != nil {
		f.t.Fatal(err)
	}
}

// credentials of the fixture's device clients.
func deviceAuth(client string) auth {
	if client == bulb {
		return public(bulb)
	}
	return basic(tv, tvSecret)
}

// poll is the device's access token request for d (RFC 8628 §3.4).
func (f *fixture) poll(d deviceGrant) reply {
	f.t.Helper()
	return f.token(deviceAuth(d.client), url.Values{"grant_type": {GrantDeviceCode}, "device_code": {d.code}})
}

// approved returns a device grant of tv that alice has approved.
func (f *fixture) approved(scopes ...string) deviceGrant {
	f.t.Helper()
	d := f.authorize(tv, scopes...)
	f.decide(d, f.alice, true)
	return d
}

// TestDevicePoll is RFC 8628 §3.5's answers to a poll, each from the state
// that earns it (DEV-14): one line per state, one poll (after the ones the
// state needs) checked.
func TestDevicePoll(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	bob := f.newUser("bob")
	tests := []struct {
		name string
		// state brings a fresh grant to the state under test and returns
		// the poll to check.
		state  func() reply
		status int
		code   oauth.ErrorCode
		desc   string // part of error_description, when set
	}{
		{"pending, first poll", func() reply { return f.poll(f.authorize(tv, "lights:read")) }, 400, oauth.AuthorizationPending, ""},
		{"pending, polled again at once (DEV-15)", func() reply {
			d := f.authorize(tv, "lights:read")
			f.poll(d)
			return f.poll(d)
		}, 400, oauth.SlowDown, "10 seconds"},
		{"pending, polled again after the interval", func() reply {
			d := f.authorize(tv, "lights:read")
			f.poll(d)
			f.clock.Advance(interval)
			return f.poll(d)
		}, 400, oauth.AuthorizationPending, ""},
		{"slowed down, polled again after the old interval", func() reply {
			d := f.authorize(tv, "lights:read")
			f.poll(d)
			f.poll(d) // slow_down: the interval is 10 s now
			f.clock.Advance(interval + time.Second)
			return f.poll(d) // too soon again: 15 s
		}, 400, oauth.SlowDown, "15 seconds"},
		{"denied", func() reply {
			d := f.authorize(tv, "lights:read")
			f.decide(d, f.alice, false)
			return f.poll(d)
		}, 400, oauth.AccessDenied, ""},
		{"denied, polled again at once", func() reply {
			d := f.authorize(tv, "lights:read")
			f.poll(d)
			f.decide(d, f.alice, false)
			return f.poll(d) // a decided code is answered by its state however soon
		}, 400, oauth.AccessDenied, ""},
		{"expired (DEV-10)", func() reply {
			d := f.authorize(tv, "lights:read")
			f.clock.Advance(codeLifetime)
			return f.poll(d)
		}, 400, oauth.ExpiredToken, ""},
		{"approved, then expired", func() reply {
			d := f.approved("lights:read")
			f.clock.Advance(codeLifetime)
			return f.poll(d)
		}, 400, oauth.ExpiredToken, ""},
		{"a device code never issued", func() reply {
			return f.poll(deviceGrant{client: tv, code: "not-a-device-code-we-issued"})
		}, 400, oauth.InvalidGrant, ""},
		{"another client's code (DEV-16)", func() reply {
			d := f.authorize(tv, "lights:read")
			return f.poll(deviceGrant{client: bulb, code: d.code})
		}, 400, oauth.InvalidGrant, ""},
		{"approved by a user disabled since (DEV-18)", func() reply {
			d := f.authorize(tv, "lights:read")
			f.decide(d, bob, true)
			if err := f.st.SetUserDisabled(t.Context(), bob.ID, true); err != nil {
				t.Fatal(err)
			}
			return f.poll(d)
		}, 400, oauth.InvalidGrant, ""},
		{"approved", func() reply { return f.poll(f.approved("lights:read")) }, 200, "", ""},
		{"approved, polled at once after a pending poll", func() reply {
			d := f.authorize(tv, "lights:read")
			f.poll(d)
			f.decide(d, f.alice, true)
			return f.poll(d)
		}, 200, "", ""},
		{"issued, polled again (no second token set)", func() reply {
			d := f.approved("lights:read")
			f.poll(d)
			return f.poll(d)
		}, 400, oauth.InvalidGrant, "used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.state()
			if bad := check(r, tt.status, tt.code); bad != "" {
				t.Errorf("got %s; want %d %q", bad, tt.status, tt.code)
			}
			if !strings.Contains(r.str("error_description"), tt.desc) {
				t.Errorf("error_description %q, want it to say %q", r.str("error_description"), tt.desc)
			}
		})
	}
}

// TestDeviceCodeOtherClientUsesNothing is DEV-16's second half: another
// client's poll neither uses the code up nor counts as a poll, so the
// owner's next poll is on time and gets the tokens.
func TestDeviceCodeOtherClientUsesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	d := f.authorize(tv, "lights:read")
	if r := f.poll(d); r.str("error") != string(oauth.AuthorizationPending) {
		t.Fatalf("first poll: %s", r.raw)
	}
	f.clock.Advance(interval)
	stolen := deviceGrant{client: bulb, code: d.code}
	if r := f.poll(stolen); r.str("error") != string(oauth.InvalidGrant) {
		t.Fatalf("another client's poll: %s", r.raw)
	}
	if r := f.poll(d); r.str("error") != string(oauth.AuthorizationPending) {
		t.Errorf("owner's poll right after another client's: %s; want authorization_pending, no slow_down", r.raw)
	}
	f.decide(d, f.alice, true)
	if r := f.poll(stolen); r.str("error") != string(oauth.InvalidGrant) {
		t.Errorf("another client's poll of an approved code: %s; want invalid_grant", r.raw)
	}
	if r := f.poll(d); r.status != 200 {
		t.Errorf("owner's poll after approval: %s; want the tokens", r.raw)
	}
}

// TestDeviceTokenSet is DEV-17 and RESULT_TOKEN_SET: the tokens of an
// approved code name the approving user and the device's client, carry the
// scope asked for, and come with a refresh token and an ID token as the
// token set and the client's grants say.
func TestDeviceTokenSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		set                 TokenSet
		client              string
		scopes              []string
		wantRefresh, wantID bool
	}{
		{"access and refresh", TokenSet{Access: true, Refresh: true}, tv, []string{"lights:read"}, true, false},
		{"with ID, openid asked", TokenSet{Access: true, Refresh: true, ID: true}, tv, []string{"openid", "lights:read"}, true, true},
		{"with ID, no openid", TokenSet{Access: true, Refresh: true, ID: true}, tv, []string{"lights:read"}, true, false},
		{"no refresh in the set", TokenSet{Access: true}, tv, []string{"lights:read"}, false, false},
		{"client without the refresh grant", TokenSet{Access: true, Refresh: true}, bulb, []string{"lights:read"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(h *Handler) { h.TokenSet = tt.set })
			d := f.authorize(tt.client, tt.scopes...)
			f.decide(d, f.alice, true)
			r := f.poll(d)
			if bad := check(r, 200, ""); bad != "" {
				t.Fatalf("got %s; want the tokens", bad)
			}
			if (r.str("refresh_token") != "") != tt.wantRefresh || (r.str("id_token") != "") != tt.wantID {
				t.Errorf("refresh token %t, ID token %t; want %t, %t", r.str("refresh_token") != "", r.str("id_token") != "",
					tt.wantRefresh, tt.wantID)
			}
			scope := strings.Join(tt.scopes, " ")
			c := claims(t, r.str("access_token"))
			if c["sub"] != f.alice.ID || c["client_id"] != tt.client || c["scope"] != scope || c["iss"] != issuer ||
				c["aud"] != issuer || r.str("scope") != scope || r.body["expires_in"] != float64(3600) {
				t.Errorf("access token claims %v, response %v; want alice's, %s's, scope %q, an hour", c, r.body, tt.client, scope)
			}
			if tt.wantID {
				if id := claims(t, r.str("id_token")); id["sub"] != f.alice.ID || id["aud"] != tt.client || id["at_hash"] == nil {
					t.Errorf("ID token claims %v", id)
				}
			}
		})
	}
}

// TestDeviceRedemptionOnce is REL-04 (a) at the endpoint: of concurrent
// polls of an approved code, exactly one gets a token set; the others get
// invalid_grant, and none a server error.
func TestDeviceRedemptionOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	d := f.approved("lights:read")
	const polls = 8
	replies := make([]reply, polls)
	var wg sync.WaitGroup
	for i := range polls {
		wg.Go(func() { replies[i] = f.poll(d) })
	}
	wg.Wait()
	var answers []string
	for _, r := range replies {
		answers = append(answers, fmt.Sprint(r.status, " ", r.str("error")))
	}
	slices.Sort(answers)
	want := append([]string{"200 "}, slices.Repeat([]string{"400 invalid_grant"}, polls-1)...)
	if !slices.Equal(answers, want) {
		t.Errorf("answers to %d concurrent polls: %q, want one token set and the rest invalid_grant", polls, answers)
	}
}

// TestDeviceRedelivery: within the refresh grace of its redemption, a
// device code presented again by its client gets the same token set (its
// response may have been lost); after the grace, or once the device has
// used its refresh token, the code is used (DEV-14).
func TestDeviceRedelivery(t *testing.T) {
	t.Parallel()
	const grace = time.Minute
	tests := []struct {
		name   string
		then   func(f *fixture, first reply)
		status int
	}{
		{"at once", func(*fixture, reply) {}, 200},
		{"at the end of the grace", func(f *fixture, _ reply) { f.clock.Advance(grace) }, 200},
		{"after the grace", func(f *fixture, _ reply) { f.clock.Advance(grace + time.Second) }, 400},
		{"after a refresh", func(f *fixture, first reply) { f.refresh(tv, first.str("refresh_token"), "") }, 400},
		{"after the user was disabled", func(f *fixture, _ reply) {
			if err := f.st.SetUserDisabled(f.t.Context(), f.alice.ID, true); err != nil {
				f.t.Fatal(err)
			}
		}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(h *Handler) { h.RefreshTokenGrace = grace })
			d := f.approved("lights:read")
			first := f.poll(d)
			if first.status != 200 {
				t.Fatalf("first poll: %s", first.raw)
			}
			tt.then(f, first)
			again := f.poll(d)
			if tt.status != 200 {
				if bad := check(again, 400, oauth.InvalidGrant); bad != "" {
					t.Errorf("got %s; want invalid_grant", bad)
				}
				return
			}
			if bad := check(again, 200, ""); bad != "" {
				t.Fatalf("got %s; want the token set again", bad)
			}
			c1, c2 := claims(t, first.str("access_token")), claims(t, again.str("access_token"))
			if again.str("refresh_token") != first.str("refresh_token") || c1["jti"] != c2["jti"] || c1["iat"] != c2["iat"] {
				t.Errorf("token set again: refresh %t, jti %v/%v, iat %v/%v; want the same",
					again.str("refresh_token") == first.str("refresh_token"), c1["jti"], c2["jti"], c1["iat"], c2["iat"])
			}
		})
	}
}

// TestPollOutcome names each answer of a poll as the metrics label it.
func TestPollOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{nil, "issued"},
		{oauth.NewError(oauth.AuthorizationPending, ""), "authorization_pending"},
		{oauth.NewError(oauth.SlowDown, ""), "slow_down"},
		{oauth.NewError(oauth.AccessDenied, ""), "access_denied"},
		{oauth.NewError(oauth.ExpiredToken, ""), "expired_token"},
		{oauth.NewError(oauth.InvalidGrant, ""), "invalid_grant"},
		{oauth.Unavailable(nil), "error"},
		{fmt.Errorf("anything else"), "error"},
		{oauth.NewError(oauth.InvalidRequest, ""), "invalid_request"},
	}
	for _, tt := range tests {
		if got := pollOutcome(tt.err); got != tt.want {
			t.Errorf("pollOutcome(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
