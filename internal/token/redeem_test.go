package token

import (
	"regexp"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/oauth"
)

// TestRedemptionRechecksClient: the client authenticator may answer from a
// cache (clientauth.Authenticator.ClientTTL), so a client disabled a moment
// ago still authenticates; the redemption re-checks the client in the
// transaction that would consume the code or token, refuses it with
// invalid_client, and consumes nothing: once the client is enabled again,
// the same code or token works.
func TestRedemptionRechecksClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(h *Handler) { h.Auth.ClientTTL = time.Hour })
	tests := []struct {
		name   string
		client string
		// ready returns a redemption that works while the client is
		// enabled, after one authenticated request has cached the client.
		ready func() func() reply
	}{
		{"device code", tv, func() func() reply {
			d := f.approved("lights:read")
			f.poll(f.authorize(tv, "lights:read")) // caches tv
			return func() reply { return f.poll(d) }
		}},
		{"authorization code", web, func() func() reply {
			code := f.code(nil)
			f.exchange(f.code(nil), nil) // caches web
			return func() reply { return f.exchange(code, nil) }
		}},
		{"refresh token", tv, func() func() reply {
			rt := f.family("lights:read")
			return func() reply { return f.refresh(tv, rt, "") }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			redeem := tt.ready()
			f.setDisabled(tt.client, true)
			if bad := check(redeem(), 401, oauth.InvalidClient); bad != "" {
				t.Fatalf("disabled client: %s; want invalid_client", bad)
			}
			f.setDisabled(tt.client, false)
			if bad := check(redeem(), 200, ""); bad != "" {
				t.Errorf("enabled again: %s; want tokens", bad)
			}
		})
	}
}

// setDisabled disables or enables a client in the store, behind the
// authenticator's cache.
func (f *fixture) setDisabled(id string, disabled bool) {
	f.t.Helper()
	c, err := f.st.Client(f.t.Context(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	c.Disabled = disabled
	if err := f.st.UpdateClient(f.t.Context(), c); err != nil {
		f.t.Fatal(err)
	}
}

// TestIDsCanBeTyped: grant ids and access token ids are 26 lower-case
// base32 characters, so an operator can paste one after `grantd grant
// revoke` (a base64url id may begin with "-", which reads as a flag) and a
// platform can put one in a URL or a user id field.
func TestIDsCanBeTyped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	id := regexp.MustCompile(`^[a-z2-7]{26}$`)
	for name, r := range map[string]reply{
		"device code":        f.poll(f.approved("lights:read")),
		"authorization code": f.exchange(f.code(nil), nil),
	} {
		c := claims(t, r.str("access_token"))
		for _, claim := range []string{"grant_id", "jti"} {
			if v, _ := c[claim].(string); !id.MatchString(v) {
				t.Errorf("%s: %s %q; want 26 lower-case base32 characters", name, claim, v)
			}
		}
	}
}
