package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// The contract every redemption keeps (store/redeem.go), checked alike on
// the three verbs that consume a record and issue: RedeemDeviceGrant,
// RedeemAuthorizationCode and RotateRefreshToken. Each test is one
// behaviour, run on each kind of record; a refusal always leaves the
// record as it was and stores nothing, and the record can be redeemed
// afterwards.

// redeemAt is when the contract tests redeem: within the life of every
// kind's record (an authorization code lives a minute).
var redeemAt = at(20 * time.Second)

// issueFunc is an IssueFunc of any of the three kinds, given the record
// it consumes as any.
type issueFunc func(consumed any, user store.User) (store.Issuance, error)

func typed[T any](issue issueFunc) store.IssueFunc[T] {
	return func(consumed T, user store.User) (store.Issuance, error) { return issue(consumed, user) }
}

// issuing returns an issueFunc that issues iss, and reports whether it
// was called.
func issuing(iss store.Issuance) (issueFunc, func() bool) {
	called := false
	return func(any, store.User) (store.Issuance, error) {
		called = true
		return iss, nil
	}, func() bool { return called }
}

// misfit is an issuance that does not fit a redemption, and what is wrong
// with it.
type misfit struct {
	name string
	iss  store.Issuance
}

// redeemable is one stored record that a redemption consumes, with what
// the contract tests need to drive its kind's verb.
type redeemable struct {
	// consumed is the record as the IssueFunc must be handed it.
	consumed any
	// redeem runs the kind's verb on the record for clientID at now.
	redeem func(clientID string, now time.Time, issue issueFunc) (any, error)
	// fits returns an issuance that fits the record, its keys made of tag.
	fits func(tag string) store.Issuance
	// misfits returns issuances that do not fit, their keys made of tag.
	misfits func(tag string) []misfit
	// redeemed is what a redemption that issued iss returns.
	redeemed func(iss store.Issuance) any
	// spent is the record as stored once a redemption issued iss.
	spent func(iss store.Issuance) any
	// lookup returns the record as stored.
	lookup func() any
}

// redemptionKinds are the three kinds of record a redemption consumes.
// new stores record n of clientID for userID, and the user and client,
// enabled, unless they exist; the record is redeemable at redeemAt.
var redemptionKinds = []struct {
	name string
	new  func(t *testing.T, s store.Store, n int, clientID, userID string) redeemable
}{
	{"DeviceGrant", redeemableDeviceGrant},
	{"AuthorizationCode", redeemableCode},
	{"RefreshToken", redeemableRefresh},
}

// newIssue returns the grant tag of clientID for userID that a device code
// or an authorization code creates at redeemAt, and its first refresh
// token.
func newIssue(tag, clientID, userID string) (store.Grant, store.RefreshToken) {
	gr := newGrantRecord(tag, redeemAt)
	gr.ClientID, gr.UserID = clientID, userID
	rt := newRefresh(tag+"-rt", gr.ID, redeemAt)
	rt.ClientID, rt.UserID = clientID, userID
	return gr, rt
}

// newGrantMisfits are issuances that do not fit the redemption of a device
// code or an authorization code of clientID for userID.
func newGrantMisfits(tag, clientID, userID string) []misfit {
	otherUser, otherUserRT := newIssue(tag+"-other-user", clientID, "user-other")
	otherClient, otherClientRT := newIssue(tag+"-other-client", "other", userID)
	gr, rt := newIssue(tag+"-foreign-rt", clientID, userID)
	rt.GrantID = "grant-elsewhere"
	_, orphanRT := newIssue(tag+"-orphan-rt", clientID, userID)
	return []misfit{
		{"a grant for another user", store.Issuance{Grant: &otherUser, RefreshToken: &otherUserRT}},
		{"a grant of another client", store.Issuance{Grant: &otherClient, RefreshToken: &otherClientRT}},
		{"a refresh token of another grant", store.Issuance{Grant: &gr, RefreshToken: &rt}},
		{"a refresh token without a grant", store.Issuance{RefreshToken: &orphanRT}},
	}
}

func redeemableDeviceGrant(t *testing.T, s store.Store, n int, clientID, userID string) redeemable {
	t.Helper()
	ctx := t.Context()
	ensureParties(t, s, userID, clientID)
	g := newGrant(n, at(0))
	g.ClientID = clientID
	mustOK(t, s.CreateDeviceGrant(ctx, g), "create device grant")
	sealed := fmt.Sprintf("v1.k.sealed-%d", n)
	g, err := s.DecideDeviceGrant(ctx, g.UserCode, store.Decision{Approve: true, UserID: userID,
		AuthTime: at(5 * time.Second), UpstreamTokens: sealed}, at(10*time.Second))
	mustOK(t, err, "approve device grant")
	consumed := g
	consumed.UpstreamTokens = sealed // handed to the IssueFunc, never to a lookup
	return redeemable{
		consumed: consumed,
		redeem: func(clientID string, now time.Time, issue issueFunc) (any, error) {
			return s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, clientID, now, typed[store.DeviceGrant](issue))
		},
		fits: func(tag string) store.Issuance {
			gr, rt := newIssue(tag, clientID, userID)
			return store.Issuance{Grant: &gr, RefreshToken: &rt}
		},
		misfits: func(tag string) []misfit {
			p := store.PassthroughToken{Hash: tag + "-pt", ClientID: clientID, UserID: "user-other", UpstreamID: "cognito",
				CreatedAt: redeemAt, ExpiresAt: redeemAt.Add(familyLifetime)}
			return append(newGrantMisfits(tag, clientID, userID),
				misfit{"a passthrough record for another user", store.Issuance{Passthrough: &p}})
		},
		redeemed: func(store.Issuance) any { return consumed },
		spent: func(store.Issuance) any {
			issued := g
			issued.State = store.DeviceIssued
			return issued
		},
		lookup: func() any {
			got, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
			mustOK(t, err, "device grant")
			return got
		},
	}
}

func redeemableCode(t *testing.T, s store.Store, n int, clientID, userID string) redeemable {
	t.Helper()
	ctx := t.Context()
	ensureParties(t, s, userID, clientID)
	c := newCode(n, at(0))
	c.ClientID, c.UserID = clientID, userID
	mustOK(t, s.CreateAuthorizationCode(ctx, c), "create authorization code")
	redeemed := func(iss store.Issuance) any {
		r := c
		r.RedeemedAt, r.GrantID = redeemAt, iss.Grant.ID
		return r
	}
	return redeemable{
		consumed: c,
		redeem: func(clientID string, now time.Time, issue issueFunc) (any, error) {
			return s.RedeemAuthorizationCode(ctx, c.Hash, clientID, now, typed[store.AuthorizationCode](issue))
		},
		fits: func(tag string) store.Issuance {
			gr, rt := newIssue(tag, clientID, userID)
			gr.Kind = "authorization_code"
			return store.Issuance{Grant: &gr, RefreshToken: &rt}
		},
		misfits: func(tag string) []misfit {
			_, rt := newIssue(tag+"-no-grant", clientID, userID)
			return append(newGrantMisfits(tag, clientID, userID),
				misfit{"no grant", store.Issuance{}},
				misfit{"a refresh token alone", store.Issuance{RefreshToken: &rt}})
		},
		redeemed: redeemed,
		spent:    redeemed,
		lookup: func() any {
			got, err := s.AuthorizationCode(ctx, c.Hash)
			mustOK(t, err, "authorization code")
			return got
		},
	}
}

func redeemableRefresh(t *testing.T, s store.Store, n int, clientID, userID string) redeemable {
	t.Helper()
	ctx := t.Context()
	gr := newGrantRecord(fmt.Sprintf("grant-of-family-%d", n), at(0))
	gr.ClientID, gr.UserID = clientID, userID
	rt := newRefresh(fmt.Sprintf("family-%d-gen-1", n), gr.ID, at(0))
	rt.ClientID, rt.UserID = clientID, userID
	storeGrant(t, s, gr, &rt)
	consumed := ofGrant(rt, gr)
	successor := func(hash string) store.RefreshToken {
		next := nextGen(rt, hash, redeemAt)
		next.ClientID, next.UserID = clientID, userID
		return next
	}
	return redeemable{
		consumed: consumed,
		redeem: func(clientID string, now time.Time, issue issueFunc) (any, error) {
			return s.RotateRefreshToken(ctx, rt.Hash, clientID, now, typed[store.RefreshToken](issue))
		},
		fits: func(tag string) store.Issuance {
			next := successor(tag)
			return store.Issuance{RefreshToken: &next}
		},
		misfits: func(tag string) []misfit {
			otherFamily, later, otherUser := successor(tag+"-other-family"), successor(tag+"-later"), successor(tag+"-other-user")
			otherFamily.GrantID = "grant-elsewhere"
			later.FamilyExpiresAt = later.FamilyExpiresAt.Add(time.Hour)
			otherUser.UserID = "user-other"
			withGrant, next := newGrantRecord(tag+"-grant", redeemAt), successor(tag+"-with-grant")
			return []misfit{
				{"a successor of another family", store.Issuance{RefreshToken: &otherFamily}},
				{"a successor outliving its family", store.Issuance{RefreshToken: &later}},
				{"a successor for another user", store.Issuance{RefreshToken: &otherUser}},
				{"a grant besides the successor", store.Issuance{Grant: &withGrant, RefreshToken: &next}},
				{"no successor", store.Issuance{}},
			}
		},
		redeemed: func(store.Issuance) any { return consumed },
		spent: func(store.Issuance) any {
			rotated := consumed
			rotated.RotatedAt = redeemAt
			return rotated
		},
		lookup: func() any {
			got, err := s.RefreshToken(ctx, rt.Hash)
			mustOK(t, err, "refresh token")
			return got
		},
	}
}

// wantIssued checks that what iss issues is stored.
func wantIssued(t *testing.T, s store.Store, what string, iss store.Issuance) {
	t.Helper()
	if g := iss.Grant; g != nil {
		got, err := s.Grant(t.Context(), g.ID)
		mustOK(t, err, what+": grant issued")
		wantEqual(t, what+": grant issued", got, *g)
	}
	if rt := iss.RefreshToken; rt != nil {
		got, err := s.RefreshToken(t.Context(), rt.Hash)
		mustOK(t, err, what+": refresh token issued")
		if got.GrantID != rt.GrantID || !got.Active(redeemAt) {
			t.Errorf("%s: refresh token issued %+v, want an active generation of grant %q", what, got, rt.GrantID)
		}
	}
	if p := iss.Passthrough; p != nil {
		got, err := s.PassthroughToken(t.Context(), p.Hash)
		mustOK(t, err, what+": passthrough record issued")
		wantEqual(t, what+": passthrough record issued", got, *p)
	}
}

// wantNotIssued checks that nothing iss would issue is stored.
func wantNotIssued(t *testing.T, s store.Store, what string, iss store.Issuance) {
	t.Helper()
	if g := iss.Grant; g != nil {
		_, err := s.Grant(t.Context(), g.ID)
		wantErr(t, err, store.ErrNotFound, what+": grant must not be stored")
	}
	if rt := iss.RefreshToken; rt != nil {
		_, err := s.RefreshToken(t.Context(), rt.Hash)
		wantErr(t, err, store.ErrNotFound, what+": refresh token must not be stored")
	}
	if p := iss.Passthrough; p != nil {
		_, err := s.PassthroughToken(t.Context(), p.Hash)
		wantErr(t, err, store.ErrNotFound, what+": passthrough record must not be stored")
	}
}

// wantRedeemable checks that r, refused before, is as it was and is
// redeemed now by clientID.
func wantRedeemable(t *testing.T, s store.Store, what string, r redeemable, before any, clientID, tag string) {
	t.Helper()
	wantEqual(t, what+": record after the refusal", r.lookup(), before)
	iss := r.fits(tag)
	issue, _ := issuing(iss)
	_, err := r.redeem(clientID, redeemAt, issue)
	mustOK(t, err, what+": redeem after the refusal")
	wantIssued(t, s, what+": redeem after the refusal", iss)
}

// testRedeemAnotherClientsRecord: a record redeemed by a client other than
// its own is not found, and its IssueFunc is not asked; the record stays
// as it was for its owner (DEV-16, RT-01).
func testRedeemAnotherClientsRecord(t *testing.T, s store.Store) {
	ensureClient(t, s, "other")
	for n, k := range redemptionKinds {
		t.Run(k.name, func(t *testing.T) {
			r := k.new(t, s, n, tvClient, "user-1")
			before := r.lookup()
			iss := r.fits(k.name + "-by-other")
			issue, called := issuing(iss)
			_, err := r.redeem("other", redeemAt, issue)
			wantErr(t, err, store.ErrNotFound, "redeem by another client")
			if called() {
				t.Error("IssueFunc called for another client's record")
			}
			wantNotIssued(t, s, "redeem by another client", iss)
			wantRedeemable(t, s, "owner", r, before, tvClient, k.name+"-by-owner")
		})
	}
}

// testRedeemRechecksParties: a record whose user or client has been
// disabled since it was stored is not redeemed, the user checked first:
// the IssueFunc is not asked, nothing changes, and once both are enabled
// again the record is redeemed (DEV-18, RT-07).
func testRedeemRechecksParties(t *testing.T, s store.Store) {
	ctx := t.Context()
	cases := []struct {
		name                string
		disableUser, client bool
		want                error
	}{
		{"user disabled", true, false, store.ErrUserInactive},
		{"client disabled", false, true, store.ErrClientInactive},
		{"user and client disabled", true, true, store.ErrUserInactive},
	}
	setClient := func(id string, disabled bool) {
		mustOK(t, s.UpdateClient(ctx, store.Client{ID: id, Name: "name-of-" + id, Disabled: disabled}), "update client "+id)
	}
	n := 0
	for _, k := range redemptionKinds {
		for _, tc := range cases {
			t.Run(k.name+"/"+tc.name, func(t *testing.T) {
				n++
				userID, clientID := fmt.Sprintf("user-%s-%d", k.name, n), fmt.Sprintf("client-%s-%d", k.name, n)
				r := k.new(t, s, n, clientID, userID)
				before := r.lookup()
				mustOK(t, s.SetUserDisabled(ctx, userID, tc.disableUser), "set user disabled")
				setClient(clientID, tc.client)
				iss := r.fits(fmt.Sprintf("%s-%d-refused", k.name, n))
				issue, called := issuing(iss)
				_, err := r.redeem(clientID, redeemAt, issue)
				wantErr(t, err, tc.want, tc.name)
				if called() {
					t.Errorf("%s: IssueFunc called", tc.name)
				}
				wantNotIssued(t, s, tc.name, iss)
				mustOK(t, s.SetUserDisabled(ctx, userID, false), "enable user")
				setClient(clientID, false)
				wantRedeemable(t, s, tc.name, r, before, clientID, fmt.Sprintf("%s-%d-enabled", k.name, n))
			})
		}
	}
}

// issueRefusal is an IssueFunc's own error, of a type of its own.
type issueRefusal struct{ reason string }

func (e *issueRefusal) Error() string { return "refused: " + e.reason }

// testRedeemIssueFails: an error from the IssueFunc ends the redemption
// with nothing changed, even when it came with an issuance, and is
// returned so that errors.Is and errors.As find it.
func testRedeemIssueFails(t *testing.T, s store.Store) {
	for n, k := range redemptionKinds {
		t.Run(k.name, func(t *testing.T) {
			r := k.new(t, s, n, tvClient, "user-1")
			before := r.lookup()
			refusal := &issueRefusal{"cannot unseal"}
			iss := r.fits(k.name + "-refused")
			_, err := r.redeem(tvClient, redeemAt, func(any, store.User) (store.Issuance, error) { return iss, refusal })
			wantErr(t, err, refusal, "IssueFunc fails")
			if got := (*issueRefusal)(nil); !errors.As(err, &got) || got.reason != "cannot unseal" {
				t.Errorf("IssueFunc fails: errors.As(%v) finds %+v, want the IssueFunc's error", err, got)
			}
			wantNotIssued(t, s, "IssueFunc fails", iss)
			wantRedeemable(t, s, "IssueFunc fails", r, before, tvClient, k.name+"-after")
		})
	}
}

// testRedeemIssueSeesRecordAndUser: the IssueFunc is handed the record as
// stored — a device grant with the sealed upstream tokens of its approval,
// a refresh token generation with its grant's kind — and the record's
// user; the redemption returns the record as it was (a code, as
// redeemed) and stores what was issued.
func testRedeemIssueSeesRecordAndUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	for n, k := range redemptionKinds {
		t.Run(k.name, func(t *testing.T) {
			user := store.User{ID: "dana-" + k.name, Username: "dana-" + k.name, PasswordHash: "x",
				Email: "dana@example.com", EmailVerified: true, CreatedAt: at(0)}
			mustOK(t, s.CreateUser(ctx, user), "create user")
			r := k.new(t, s, n, tvClient, user.ID)
			iss := r.fits(k.name + "-seen")
			var (
				seen     any
				seenUser store.User
			)
			got, err := r.redeem(tvClient, redeemAt, func(consumed any, u store.User) (store.Issuance, error) {
				seen, seenUser = consumed, u
				return iss, nil
			})
			mustOK(t, err, "redeem")
			wantEqual(t, "record handed to the IssueFunc", seen, r.consumed)
			wantEqual(t, "user handed to the IssueFunc", seenUser, user)
			wantEqual(t, "record returned", got, r.redeemed(iss))
			wantEqual(t, "record after the redemption", r.lookup(), r.spent(iss))
			wantIssued(t, s, "redeem", iss)
		})
	}
}

// testRedeemRefusesMisfits: an issuance that does not fit what was
// redeemed — a grant for another user or client, a refresh token of
// another grant, a successor of another family — is a caller's bug,
// refused with an error that is none of the sentinels, and nothing
// changes.
func testRedeemRefusesMisfits(t *testing.T, s store.Store) {
	for n, k := range redemptionKinds {
		t.Run(k.name, func(t *testing.T) {
			r := k.new(t, s, n, tvClient, "user-1")
			before := r.lookup()
			for _, m := range r.misfits(k.name + "-misfit") {
				issue, _ := issuing(m.iss)
				_, err := r.redeem(tvClient, redeemAt, issue)
				wantNonSentinel(t, err, "issue "+m.name)
				wantNotIssued(t, s, "issue "+m.name, m.iss)
				wantEqual(t, "record after issuing "+m.name, r.lookup(), before)
			}
			wantRedeemable(t, s, "misfits", r, before, tvClient, k.name+"-fit")
		})
	}
}

// testRedeemConflictReturnsRecord: a second redemption of a record loses
// with ErrConflict, without asking its IssueFunc, and is returned the
// record as the first left it, so that the caller can tell what happened:
// a device grant issued, a code naming the winner's grant (RFC 6749
// §4.1.2), a generation rotated (RFC 9700 §4.14.2) (INV-02).
func testRedeemConflictReturnsRecord(t *testing.T, s store.Store) {
	for n, k := range redemptionKinds {
		t.Run(k.name, func(t *testing.T) {
			r := k.new(t, s, n, tvClient, "user-1")
			first := r.fits(k.name + "-first")
			issue, _ := issuing(first)
			_, err := r.redeem(tvClient, redeemAt, issue)
			mustOK(t, err, "first redemption")
			second := r.fits(k.name + "-second")
			issue, called := issuing(second)
			got, err := r.redeem(tvClient, redeemAt.Add(time.Millisecond), issue)
			wantErr(t, err, store.ErrConflict, "second redemption")
			if called() {
				t.Error("IssueFunc of the second redemption called")
			}
			wantEqual(t, "record returned with the conflict", got, r.spent(first))
			wantEqual(t, "record after the conflict", r.lookup(), r.spent(first))
			wantNotIssued(t, s, "second redemption", second)
		})
	}
}
