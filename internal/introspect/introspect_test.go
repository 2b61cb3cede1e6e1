package introspect_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/bearer/bearertest"
	"github.com/grantd/grantd/internal/introspect"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/secret"
	"github.com/grantd/grantd/internal/store/storetest"
)

const inactiveBody = `{"active":false}`

// generous is a budget no test of token kinds reaches.
var generous = ratelimit.Budget{N: 10_000, Per: time.Minute}

func wantNoStore(t *testing.T, r reply) {
	t.Helper()
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

// TestIntrospectActive checks the claims of active tokens (RFC 7662 §2.2).
func TestIntrospectActive(t *testing.T) {
	f := newFixture(t, generous)
	g := f.Issue("app", "u-alice", "openid profile", rsAudience)
	c := g.Claims

	at := f.introspect("rs", g.AT, "")
	wantNoStore(t, at)
	want := map[string]any{
		"active": true, "sub": "u-alice", "client_id": "app", "scope": "openid profile",
		"exp": float64(c.ExpiresAt), "iat": float64(c.IssuedAt), "token_type": "Bearer",
		"username": "alice", "aud": rsAudience, "iss": bearertest.Issuer, "jti": c.ID,
	}
	wantFields(t, "access token", at, want)

	// A caller bound to the token's audience sees it too.
	wantFields(t, "access token, own audience", f.introspect("rs-aud", g.AT, ""), want)

	now := f.Clock.Now()
	rt := f.introspect("rs", g.RT, "")
	wantNoStore(t, rt)
	wantFields(t, "refresh token", rt, map[string]any{
		"active": true, "sub": "u-alice", "client_id": "app", "scope": "openid profile",
		"exp": float64(now.Add(bearertest.RefreshIdleTTL).Unix()), "iat": float64(now.Unix()),
		"token_type": "refresh_token", "username": "alice", "iss": bearertest.Issuer,
	})

	// The hand-made signer of the forgery tests makes tokens grantd
	// accepts, so that their refusals below are for the forged part only.
	priv, kid := f.signingKey()
	control := jws(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": kid}, c, rs256(priv))
	wantFields(t, "hand-signed control", f.introspect("rs", control, ""), want)
}

func wantFields(t *testing.T, name string, r reply, want map[string]any) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: status %d, want 200 (%s)", name, r.Status, r.Raw)
	}
	if len(r.Body) != len(want) {
		t.Errorf("%s: got %d fields, want %d: %s", name, len(r.Body), len(want), r.Raw)
	}
	for k, v := range want {
		if r.Body[k] != v {
			t.Errorf("%s: %s = %v, want %v", name, k, r.Body[k], v)
		}
	}
}

// inactiveCase is one token that must introspect as exactly {"active":false}.
type inactiveCase struct {
	id, name string
	caller   string // default "rs"
	token    func(f *fixture) string
}

// TestIntrospectInactive checks that every kind of inactive token gets
// exactly {"active":false}, byte for byte (INT-03, INT-04, JWT-08, JWT-09,
// GEN-05).
func TestIntrospectInactive(t *testing.T) {
	f := newFixture(t, generous)
	cases := append(stateCases(), forgeryCases(f)...)
	cases = append(cases, truncationCases(f)...)
	for _, tc := range cases {
		t.Run(tc.id+" "+tc.name, func(t *testing.T) {
			caller := tc.caller
			if caller == "" {
				caller = "rs"
			}
			// The fixture's helpers fail the subtest that uses them.
			defer func(parent testing.TB) { f.T = parent }(f.T)
			f.T = t
			tok := tc.token(f)
			for _, hint := range []string{"", introspect.HintAccessToken, introspect.HintRefreshToken} {
				r := f.introspect(caller, tok, hint)
				if r.Status != http.StatusOK || r.Raw != inactiveBody {
					t.Errorf("hint %q: got %d %s, want 200 %s", hint, r.Status, r.Raw, inactiveBody)
				}
				wantNoStore(t, r)
			}
		})
	}
}

// stateCases are genuine tokens whose state makes them inactive.
func stateCases() []inactiveCase {
	ctx := context.Background()
	return []inactiveCase{
		{"INT-03", "expired access token (clock moved to exp)", "", func(f *fixture) string {
			g := f.Issue("app", "u-alice", "openid", "")
			f.Clock.Add(bearertest.AccessTokenTTL)
			return g.AT
		}},
		{"INT-03", "expired refresh token (idle lifetime over)", "", func(f *fixture) string {
			g := f.Issue("app", "u-alice", "openid", "")
			f.Clock.Add(bearertest.RefreshIdleTTL + time.Second)
			return g.RT
		}},
		{"INT-04", "revoked jti", "", func(f *fixture) string {
			g := f.Issue("app", "u-alice", "openid", "")
			must(f, f.Store.RevokeAccessToken(ctx, g.Claims.ID, time.Unix(g.Claims.ExpiresAt, 0)))
			return g.AT
		}},
		{"INT-04", "access token of a revoked grant", "", func(f *fixture) string {
			g := f.Issue("app", "u-alice", "openid", "")
			must(f, f.Store.RevokeGrant(ctx, g.GrantID, f.Clock.Now()))
			return g.AT
		}},
		{"INT-04", "refresh token of a revoked grant", "", func(f *fixture) string {
			g := f.Issue("app", "u-alice", "openid", "")
			must(f, f.Store.RevokeGrant(ctx, g.GrantID, f.Clock.Now()))
			return g.RT
		}},
		{"RT-02", "rotated refresh token", "", func(f *fixture) string {
			g := f.Issue("app", "u-alice", "openid", "")
			rt, err := f.Store.RefreshToken(ctx, g.RTHash)
			must(f, err)
			next := rt
			next.Hash, next.CreatedAt = secret.Hash("successor of "+g.RT), f.Clock.Now()
			must(f, storetest.Rotate(ctx, f.Store, rt.Hash, next, f.Clock.Now()))
			return g.RT
		}},
		{"RT-07", "access token of a disabled user", "", func(f *fixture) string {
			must(f, f.Store.SetUserDisabled(ctx, "u-carol", false)) // a case before disabled carol
			g := f.Issue("app", "u-carol", "openid", "")
			must(f, f.Store.SetUserDisabled(ctx, "u-carol", true))
			return g.AT
		}},
		{"RT-07", "refresh token of a disabled user", "", func(f *fixture) string {
			must(f, f.Store.SetUserDisabled(ctx, "u-carol", false))
			g := f.Issue("app", "u-carol", "openid", "")
			must(f, f.Store.SetUserDisabled(ctx, "u-carol", true))
			return g.RT
		}},
		{"INT-03", "wrong audience for an audience-bound caller", "rs-aud", func(f *fixture) string {
			return f.Issue("app", "u-alice", "openid", "https://other.example").AT
		}},
		{"INT-03", "refresh token, audience-bound caller", "rs-aud", func(f *fixture) string {
			return f.Issue("app", "u-alice", "openid", rsAudience).RT
		}},
		{"INT-03", "unknown opaque token", "", func(*fixture) string {
			tok, _ := secret.NewToken(rand.Reader)
			return tok
		}},
		{"INT-03", "garbage", "", func(*fixture) string { return "not a token at all" }},
		{"JWT-10", "three empty segments", "", func(*fixture) string { return ".." }},
		{"JWT-10", "many dots", "", func(*fixture) string { return strings.Repeat(".", 20_000) }},
	}
}

func must(f *fixture, err error) {
	f.T.Helper()
	if err != nil {
		f.T.Fatal(err)
	}
}
