package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

func newCode(n int, created time.Time) store.AuthorizationCode {
	return store.AuthorizationCode{
		Hash:          fmt.Sprintf("code-hash-%d", n),
		ClientID:      "platform",
		UserID:        "user-1",
		RedirectURI:   "https://example.com/cb?x=1 2",
		Scopes:        []string{"openid", "lights:write"},
		Nonce:         "n-0S6_WzA2Mj",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		Resource:      "https://api.example.com/",
		AuthTime:      created.Add(-time.Minute),
		CreatedAt:     created,
		ExpiresAt:     created.Add(codeLifetime),
	}
}

// platformGrant is the grant an authorization code for the platform client
// creates.
func platformGrant(id string, created time.Time) store.Grant {
	g := newGrantRecord(id, created)
	g.ClientID, g.Kind = "platform", "authorization_code"
	return g
}

// platformRefresh is a first refresh token of the platform's grant gr.
func platformRefresh(hash string, gr store.Grant) store.RefreshToken {
	rt := newRefresh(hash, gr.ID, gr.CreatedAt)
	rt.ClientID = gr.ClientID
	return rt
}

func testCodeCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	full, bare := newCode(1, at(0)), newCode(2, at(time.Second))
	bare.Scopes, bare.Nonce, bare.CodeChallenge, bare.Resource, bare.AuthTime = nil, "", "", "", time.Time{}
	preset := newCode(3, at(0))
	preset.RedeemedAt, preset.GrantID = at(0), "grant-x"
	for _, c := range []store.AuthorizationCode{full, bare, preset} {
		mustOK(t, s.CreateAuthorizationCode(ctx, c), "create "+c.Hash)
	}
	// CreateAuthorizationCode stores every code unredeemed.
	preset.RedeemedAt, preset.GrantID = time.Time{}, ""
	for _, want := range []store.AuthorizationCode{full, bare, preset} {
		got, err := s.AuthorizationCode(ctx, want.Hash)
		mustOK(t, err, "lookup "+want.Hash)
		wantEqual(t, "code "+want.Hash, got, want)
	}
	dup := newCode(1, at(time.Hour))
	dup.UserID = "mallory"
	wantErr(t, s.CreateAuthorizationCode(ctx, dup), store.ErrAlreadyExists, "duplicate code")
	got, err := s.AuthorizationCode(ctx, full.Hash)
	mustOK(t, err, "lookup after duplicate")
	wantEqual(t, "code after duplicate", got, full)
	_, err = s.AuthorizationCode(ctx, "unknown")
	wantErr(t, err, store.ErrNotFound, "unknown code")
}

func testCodeRedeem(t *testing.T, s store.Store) {
	ctx := t.Context()
	ensureParties(t, s, "user-1", "platform")
	cases := []struct {
		name    string
		at      time.Duration
		withRT  bool
		wantErr error
	}{
		{"fresh", 10 * time.Second, true, nil},
		{"fresh, no refresh token", 10 * time.Second, false, nil},
		{"last instant", codeLifetime - time.Millisecond, true, nil},
		{"at expiry", codeLifetime, true, store.ErrConflict},
		{"after expiry", time.Hour, true, store.ErrConflict},
	}
	for i, tc := range cases {
		c := newCode(i, at(0))
		mustOK(t, s.CreateAuthorizationCode(ctx, c), tc.name+": create")
		now := at(tc.at)
		gr := platformGrant(fmt.Sprintf("grant-%d", i), now)
		rt := platformRefresh(gr.ID+"-rt", gr)
		rt.Resource = c.Resource
		rtp := &rt
		if !tc.withRT {
			rtp = nil
		}
		got, err := s.RedeemAuthorizationCode(ctx, c.Hash, c.ClientID, now, Issue[store.AuthorizationCode](&gr, rtp))
		wantErr(t, err, tc.wantErr, tc.name)
		want := c
		if tc.wantErr == nil {
			want.RedeemedAt, want.GrantID = now, gr.ID
		}
		wantEqual(t, tc.name+": returned code", got, want)
		stored, err := s.AuthorizationCode(ctx, c.Hash)
		mustOK(t, err, tc.name+": lookup")
		wantEqual(t, tc.name+": stored code", stored, want)
		wantStored(t, s, tc.name, gr, rt, tc.wantErr == nil, tc.wantErr == nil && tc.withRT)
		if tc.wantErr != nil {
			continue
		}

		// A second redemption loses and learns which grant the first made.
		gr2 := platformGrant(gr.ID+"-again", now)
		rt2 := platformRefresh(gr2.ID+"-rt", gr2)
		got, err = s.RedeemAuthorizationCode(ctx, c.Hash, c.ClientID, now.Add(time.Millisecond),
			Issue[store.AuthorizationCode](&gr2, &rt2))
		wantErr(t, err, store.ErrConflict, tc.name+": redeem twice")
		wantEqual(t, tc.name+": code returned to the second redemption", got, want)
		wantStored(t, s, tc.name+": second redemption", gr2, rt2, false, false)
	}
	unknown := platformGrant("g-unknown", at(0))
	_, err := s.RedeemAuthorizationCode(ctx, "unknown", "platform", at(0), Issue[store.AuthorizationCode](&unknown, nil))
	wantErr(t, err, store.ErrNotFound, "redeem unknown code")
	_, err = s.Grant(ctx, "g-unknown")
	wantErr(t, err, store.ErrNotFound, "grant of an unknown code")
}

// wantStored checks whether a redemption stored gr and rt.
func wantStored(t *testing.T, s store.Store, what string, gr store.Grant, rt store.RefreshToken, grant, token bool) {
	t.Helper()
	got, err := s.Grant(t.Context(), gr.ID)
	if grant {
		mustOK(t, err, what+": grant")
		wantEqual(t, what+": grant", got, gr)
	} else {
		wantErr(t, err, store.ErrNotFound, what+": grant must not be stored")
	}
	if grant {
		rt = ofGrant(rt, gr)
	}
	gotRT, err := s.RefreshToken(t.Context(), rt.Hash)
	if token {
		mustOK(t, err, what+": refresh token")
		wantEqual(t, what+": refresh token", gotRT, rt)
	} else {
		wantErr(t, err, store.ErrNotFound, what+": refresh token must not be stored")
	}
}

// testCodeRedeemAtomic checks docs/SECURITY.md INV-03 for codes: when
// the refresh token cannot be stored, the code stays unredeemed and the
// grant is not stored.
func testCodeRedeemAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	ensureParties(t, s, "user-1", "platform")
	taken := newRefresh("taken", "grant-0", at(0))
	mustOK(t, s.CreateRefreshToken(ctx, taken), "create refresh token")
	c := newCode(1, at(0))
	mustOK(t, s.CreateAuthorizationCode(ctx, c), "create code")
	now := at(10 * time.Second)
	gr := platformGrant("grant-1", now)
	clash := platformRefresh(taken.Hash, gr)
	_, err := s.RedeemAuthorizationCode(ctx, c.Hash, c.ClientID, now, Issue[store.AuthorizationCode](&gr, &clash))
	wantErr(t, err, store.ErrAlreadyExists, "redeem with a refresh token hash in use")
	stored, err := s.AuthorizationCode(ctx, c.Hash)
	mustOK(t, err, "lookup")
	wantEqual(t, "code after failed redeem", stored, c)
	wantStored(t, s, "failed redeem", gr, taken, false, true)

	// A grant id in use is refused alike.
	storeGrant(t, s, platformGrant("grant-taken", at(0)), nil)
	dup := platformGrant("grant-taken", now)
	_, err = s.RedeemAuthorizationCode(ctx, c.Hash, c.ClientID, now, Issue[store.AuthorizationCode](&dup, nil))
	wantErr(t, err, store.ErrAlreadyExists, "redeem with a grant id in use")
	stored, err = s.AuthorizationCode(ctx, c.Hash)
	mustOK(t, err, "lookup")
	wantEqual(t, "code after a redeem with a grant id in use", stored, c)

	rt := platformRefresh("fresh", gr)
	_, err = s.RedeemAuthorizationCode(ctx, c.Hash, c.ClientID, now, Issue[store.AuthorizationCode](&gr, &rt))
	wantErr(t, err, nil, "redeem after failed redeem")
	wantStored(t, s, "redeem after failed redeem", gr, rt, true, true)
}
