package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

func testDeviceCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	g1, g2 := newGrant(1, at(0)), newGrant(2, at(time.Second))
	g2.Scopes = nil
	g3 := newGrant(3, at(0))
	g3.State, g3.UserID, g3.DecidedAt = store.DeviceApproved, "user-1", at(0)
	for _, g := range []store.DeviceGrant{g1, g2, g3} {
		mustOK(t, s.CreateDeviceGrant(ctx, g), "create "+g.DeviceCodeHash)
	}
	// CreateDeviceGrant stores every grant pending, whatever it is given.
	g3.State, g3.UserID, g3.DecidedAt = store.DevicePending, "", time.Time{}

	for _, want := range []store.DeviceGrant{g1, g2, g3} {
		got, err := s.DeviceGrantByDeviceCode(ctx, want.DeviceCodeHash)
		mustOK(t, err, "by device code "+want.DeviceCodeHash)
		wantEqual(t, "by device code", got, want)
		got, err = s.DeviceGrantByUserCode(ctx, want.UserCode)
		mustOK(t, err, "by user code "+want.UserCode)
		wantEqual(t, "by user code", got, want)
	}

	sameHash, sameUserCode := newGrant(4, at(0)), newGrant(5, at(0))
	sameHash.DeviceCodeHash = g1.DeviceCodeHash
	sameUserCode.UserCode = g1.UserCode
	wantErr(t, s.CreateDeviceGrant(ctx, sameHash), store.ErrAlreadyExists, "duplicate device code")
	wantErr(t, s.CreateDeviceGrant(ctx, sameUserCode), store.ErrAlreadyExists, "duplicate user code")
	_, err := s.DeviceGrantByUserCode(ctx, sameHash.UserCode)
	wantErr(t, err, store.ErrNotFound, "grant refused for its device code")
	_, err = s.DeviceGrantByDeviceCode(ctx, sameUserCode.DeviceCodeHash)
	wantErr(t, err, store.ErrNotFound, "grant refused for its user code")
	got, err := s.DeviceGrantByDeviceCode(ctx, g1.DeviceCodeHash)
	mustOK(t, err, "original after duplicates")
	wantEqual(t, "original after duplicates", got, g1)

	_, err = s.DeviceGrantByDeviceCode(ctx, "unknown")
	wantErr(t, err, store.ErrNotFound, "unknown device code")
	_, err = s.DeviceGrantByUserCode(ctx, "UNKNOWN")
	wantErr(t, err, store.ErrNotFound, "unknown user code")
}

func testDevicePoll(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := newGrant(1, at(0))
	mustOK(t, s.CreateDeviceGrant(ctx, g), "create")

	// Each poll sees the interval and last poll that the previous one left.
	// A poll up to a second early is on time (store.PollTooSoon).
	s5, ms := time.Second, time.Millisecond
	steps := []struct {
		at           time.Duration
		wantSlow     bool
		wantInterval time.Duration // before this poll
		wantLast     time.Duration // before this poll; -1 for never
	}{
		{0, false, 5 * s5, -1},         // the first poll is never slow, even at once
		{4 * s5, false, 5 * s5, 0},     // a second early: on time
		{6 * s5, true, 5 * s5, 4 * s5}, // 2s < 5s - 1s
		{15 * s5, false, 10 * s5, 6 * s5},
		{23*s5 + 999*ms, true, 10 * s5, 15 * s5},        // 8.999s < 10s - 1s
		{23*s5 + 999*ms, true, 15 * s5, 23*s5 + 999*ms}, // same instant
		{42*s5 + 999*ms, false, 20 * s5, 23*s5 + 999*ms},
	}
	for i, st := range steps {
		before, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
		mustOK(t, err, "grant before poll")
		p, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, tvClient, at(st.at))
		mustOK(t, err, "poll")
		if p.SlowDown != st.wantSlow {
			t.Errorf("poll %d at +%v: slowDown = %t, want %t", i, st.at, p.SlowDown, st.wantSlow)
		}
		if before.Interval != st.wantInterval {
			t.Errorf("poll %d at +%v: interval before = %v, want %v", i, st.at, before.Interval, st.wantInterval)
		}
		wantLast := time.Time{}
		if st.wantLast >= 0 {
			wantLast = at(st.wantLast)
		}
		if !before.LastPolledAt.Equal(wantLast) {
			t.Errorf("poll %d at +%v: last poll before = %v, want %v", i, st.at, before.LastPolledAt, wantLast)
		}
		after := st.wantInterval
		if st.wantSlow {
			after += store.SlowDownStep
		}
		want := store.PollResult{ClientID: tvClient, State: store.DevicePending, ExpiresAt: g.ExpiresAt,
			SlowDown: st.wantSlow, Interval: after}
		wantEqual(t, fmt.Sprintf("poll %d", i), p, want)
	}

	want := g
	want.Interval, want.LastPolledAt = 20*time.Second, at(42*s5+999*ms)
	got, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
	mustOK(t, err, "grant after polls")
	wantEqual(t, "grant after polls", got, want)

	// A poll reports the decision it finds and does not change it.
	decided, err := s.DecideDeviceGrant(ctx, g.UserCode, store.Decision{Approve: true, UserID: "user-1", AuthTime: at(0)}, at(time.Minute))
	mustOK(t, err, "approve")
	p, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, tvClient, at(2*time.Minute))
	mustOK(t, err, "poll after approval")
	wantEqual(t, "poll after approval", p, store.PollResult{ClientID: tvClient, State: store.DeviceApproved,
		ExpiresAt: g.ExpiresAt, Interval: 20 * time.Second})
	got, err = s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
	mustOK(t, err, "grant after a poll of the approved code")
	decided.LastPolledAt = at(2 * time.Minute)
	wantEqual(t, "grant after a poll of the approved code", got, decided)

	t.Run("PollDeviceGrant", func(t *testing.T) { testPollDeviceGrant(t, s) })
}

// testPollDeviceGrant: PollDeviceGrant records the owner's polls, and not
// another client's (DEV-16); it reports the grant's state as it stands,
// decisions included, and its expiry.
func testPollDeviceGrant(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := newGrant(10, at(0))
	mustOK(t, s.CreateDeviceGrant(ctx, g), "create")
	// Polls close together as well as seconds apart, so that a backend that
	// answers some from memory shows both ways.
	ms := time.Millisecond
	steps := []struct {
		at           time.Duration
		client       string
		wantSlow     bool
		wantInterval time.Duration // after the poll
	}{
		{0, tvClient, false, 5 * time.Second},               // the first poll is never slow, even at once
		{100 * ms, "other", false, 0},                       // another client's poll is not recorded
		{5 * time.Second, tvClient, false, 5 * time.Second}, // on time: the other client's poll did not count
		{5100 * ms, "other", false, 0},                      // never slowed down, and not recorded
		{7 * time.Second, tvClient, true, 10 * time.Second}, // 2s < 4s
		{7100 * ms, "other", false, 0},
		{7200 * ms, tvClient, true, 15 * time.Second}, // 200ms < 9s
		{28 * time.Second, tvClient, false, 15 * time.Second},
		{28100 * ms, tvClient, true, 20 * time.Second}, // 100ms < 14s
	}
	for i, st := range steps {
		p, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, st.client, at(st.at))
		mustOK(t, err, "poll")
		want := store.PollResult{ClientID: tvClient, State: store.DevicePending, ExpiresAt: g.ExpiresAt,
			SlowDown: st.wantSlow, Interval: st.wantInterval}
		wantEqual(t, fmt.Sprintf("poll %d at +%v by %s", i, st.at, st.client), p, want)
	}
	want := g
	want.Interval, want.LastPolledAt = 20*time.Second, at(28100*ms)
	got, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
	mustOK(t, err, "grant after polls")
	wantEqual(t, "grant after polls", got, want)

	// Every poll sees a decision as soon as it is made, whether or not the
	// grant was polled before, and at expiry the grant's lifetime is over.
	deny := store.Decision{UserID: "user-1", AuthTime: at(0)}
	approve := store.Decision{Approve: true, UserID: "user-1", AuthTime: at(0)}
	decided := at(time.Minute)
	for i, tc := range []struct {
		name       string
		pollBefore bool
		d          store.Decision
		want       store.DeviceState
	}{
		{"approved, polled before", true, approve, store.DeviceApproved},
		{"denied, polled before", true, deny, store.DeviceDenied},
		{"approved, first poll", false, approve, store.DeviceApproved},
		{"denied, first poll", false, deny, store.DeviceDenied},
	} {
		g := newGrant(20+i, at(0))
		mustOK(t, s.CreateDeviceGrant(ctx, g), tc.name+": create")
		if tc.pollBefore {
			p, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, tvClient, decided.Add(-100*ms))
			mustOK(t, err, tc.name+": poll before")
			if p.State != store.DevicePending {
				t.Errorf("%s: state before the decision = %s, want pending", tc.name, p.State)
			}
		}
		_, err := s.DecideDeviceGrant(ctx, g.UserCode, tc.d, decided)
		mustOK(t, err, tc.name+": decide")
		for _, client := range []string{tvClient, "other"} {
			p, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, client, decided.Add(100*ms))
			mustOK(t, err, tc.name+": poll")
			// 200ms after the poll before, if any, but a decided grant
			// is answered by its state, never slow_down (RFC 8628 §3.5).
			want := store.PollResult{ClientID: tvClient, State: tc.want, ExpiresAt: g.ExpiresAt}
			if client == tvClient {
				want.Interval = 5 * time.Second
			}
			wantEqual(t, tc.name+": poll by "+client, p, want)
		}
		p, err := s.PollDeviceGrant(ctx, g.DeviceCodeHash, tvClient, g.ExpiresAt)
		mustOK(t, err, tc.name+": poll at expiry")
		if !p.Expired(g.ExpiresAt) || p.Expired(g.ExpiresAt.Add(-time.Millisecond)) {
			t.Errorf("%s: ExpiresAt = %v, want %v", tc.name, p.ExpiresAt, g.ExpiresAt)
		}
	}

	redeemed := approvedGrant(t, s, 30)
	gr := newGrantRecord("g-poll-redeemed", at(2*time.Minute))
	_, err = s.RedeemDeviceGrant(ctx, redeemed.DeviceCodeHash, tvClient, at(2*time.Minute), Issue[store.DeviceGrant](&gr, nil))
	mustOK(t, err, "redeem")
	p, err := s.PollDeviceGrant(ctx, redeemed.DeviceCodeHash, tvClient, at(3*time.Minute))
	mustOK(t, err, "poll of a redeemed grant")
	if p.State != store.DeviceIssued {
		t.Errorf("poll of a redeemed grant: state %s, want issued", p.State)
	}

	_, err = s.PollDeviceGrant(ctx, "unknown", tvClient, at(0))
	wantErr(t, err, store.ErrNotFound, "poll unknown device code")
}

func testDeviceDecide(t *testing.T, s store.Store) {
	ctx := t.Context()
	approve := store.Decision{Approve: true, UserID: "user-1", AuthTime: at(30 * time.Second)}
	deny := store.Decision{Approve: false, UserID: "user-2", AuthTime: at(40 * time.Second)}
	cases := []struct {
		name      string
		d         store.Decision
		at        time.Duration
		wantErr   error
		wantState store.DeviceState
	}{
		{"approve", approve, time.Minute, nil, store.DeviceApproved},
		{"deny", deny, time.Minute, nil, store.DeviceDenied},
		{"approve at the last instant", approve, grantLifetime - time.Millisecond, nil, store.DeviceApproved},
		{"approve at expiry", approve, grantLifetime, store.ErrConflict, store.DevicePending},
		{"deny after expiry", deny, grantLifetime + time.Hour, store.ErrConflict, store.DevicePending},
	}
	for i, tc := range cases {
		g := newGrant(i, at(0))
		mustOK(t, s.CreateDeviceGrant(ctx, g), tc.name+": create")
		got, err := s.DecideDeviceGrant(ctx, g.UserCode, tc.d, at(tc.at))
		wantErr(t, err, tc.wantErr, tc.name)
		want := g
		if tc.wantErr == nil {
			want.State, want.UserID, want.AuthTime, want.DecidedAt = tc.wantState, tc.d.UserID, tc.d.AuthTime, at(tc.at)
			wantEqual(t, tc.name+": returned grant", got, want)
		}
		stored, err := s.DeviceGrantByUserCode(ctx, g.UserCode)
		mustOK(t, err, tc.name+": lookup")
		wantEqual(t, tc.name+": stored grant", stored, want)

		if tc.wantErr != nil {
			continue
		}
		// A decided grant stays decided: neither answer can replace it.
		for _, again := range []store.Decision{approve, deny} {
			_, err := s.DecideDeviceGrant(ctx, g.UserCode, again, at(tc.at+time.Second))
			wantErr(t, err, store.ErrConflict, tc.name+": decide again")
		}
		stored, err = s.DeviceGrantByUserCode(ctx, g.UserCode)
		mustOK(t, err, tc.name+": lookup after second decision")
		wantEqual(t, tc.name+": grant after second decision", stored, want)
	}

	_, err := s.DecideDeviceGrant(ctx, "UNKNOWN", approve, at(0))
	wantErr(t, err, store.ErrNotFound, "decide unknown user code")
}

// approvedGrant stores grant n, created at start(), and approves it a minute
// later. It stores the TV client and the approving user, user-1, unless
// they exist.
func approvedGrant(t *testing.T, s store.Store, n int) store.DeviceGrant {
	t.Helper()
	ensureParties(t, s, "user-1", tvClient)
	g := newGrant(n, at(0))
	mustOK(t, s.CreateDeviceGrant(t.Context(), g), "create")
	g, err := s.DecideDeviceGrant(t.Context(), g.UserCode,
		store.Decision{Approve: true, UserID: "user-1", AuthTime: at(30 * time.Second)}, at(time.Minute))
	mustOK(t, err, "approve")
	return g
}

func testDeviceRedeem(t *testing.T, s store.Store) {
	ctx := t.Context()
	pending := func(t *testing.T, s store.Store, n int) store.DeviceGrant {
		g := newGrant(n, at(0))
		mustOK(t, s.CreateDeviceGrant(ctx, g), "create")
		return g
	}
	denied := func(t *testing.T, s store.Store, n int) store.DeviceGrant {
		g := pending(t, s, n)
		g, err := s.DecideDeviceGrant(ctx, g.UserCode, store.Decision{UserID: "user-1"}, at(time.Minute))
		mustOK(t, err, "deny")
		return g
	}
	cases := []struct {
		name      string
		setup     func(*testing.T, store.Store, int) store.DeviceGrant
		client    string
		at        time.Duration
		withRT    bool
		wantErr   error
		wantState store.DeviceState
	}{
		{"approved", approvedGrant, tvClient, 2 * time.Minute, true, nil, store.DeviceIssued},
		{"approved, no refresh token", approvedGrant, tvClient, 2 * time.Minute, false, nil, store.DeviceIssued},
		{"approved, last instant", approvedGrant, tvClient, grantLifetime - time.Millisecond, true, nil, store.DeviceIssued},
		{"wrong client", approvedGrant, "other", 2 * time.Minute, true, store.ErrNotFound, store.DeviceApproved},
		{"pending", pending, tvClient, 2 * time.Minute, true, store.ErrConflict, store.DevicePending},
		{"denied", denied, tvClient, 2 * time.Minute, true, store.ErrConflict, store.DeviceDenied},
		{"approved, at expiry", approvedGrant, tvClient, grantLifetime, true, store.ErrConflict, store.DeviceApproved},
		{"approved, after expiry", approvedGrant, tvClient, time.Hour, true, store.ErrConflict, store.DeviceApproved},
	}
	for i, tc := range cases {
		g := tc.setup(t, s, i)
		gr := newGrantRecord(g.DeviceCodeHash+"-grant", at(tc.at))
		rt := newRefresh(g.DeviceCodeHash+"-rt", gr.ID, at(tc.at))
		var rtp *store.RefreshToken
		if tc.withRT {
			rtp = &rt
		}
		got, err := s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, tc.client, at(tc.at), Issue[store.DeviceGrant](&gr, rtp))
		wantErr(t, err, tc.wantErr, tc.name)
		if tc.wantErr == nil || errors.Is(tc.wantErr, store.ErrConflict) {
			wantEqual(t, tc.name+": returned grant", got, g) // as it was, or as it stands
		}
		want := g
		want.State = tc.wantState
		stored, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
		mustOK(t, err, tc.name+": lookup")
		wantEqual(t, tc.name+": stored grant", stored, want)

		gotGrant, err := s.Grant(ctx, gr.ID)
		if tc.wantErr == nil {
			mustOK(t, err, tc.name+": grant")
			wantEqual(t, tc.name+": grant", gotGrant, gr)
		} else {
			wantErr(t, err, store.ErrNotFound, tc.name+": grant must not be stored")
		}
		gotRT, err := s.RefreshToken(ctx, rt.Hash)
		if tc.wantErr == nil && tc.withRT {
			mustOK(t, err, tc.name+": refresh token")
			wantEqual(t, tc.name+": refresh token", gotRT, ofGrant(rt, gr))
		} else {
			wantErr(t, err, store.ErrNotFound, tc.name+": refresh token must not be stored")
		}
		if tc.wantErr == nil {
			gr2 := newGrantRecord(gr.ID+"-again", at(tc.at))
			rt2 := newRefresh(rt.Hash+"-again", gr2.ID, at(tc.at))
			got, err := s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, tc.client, at(tc.at), Issue[store.DeviceGrant](&gr2, &rt2))
			wantErr(t, err, store.ErrConflict, tc.name+": redeem twice")
			wantEqual(t, tc.name+": grant returned to the second redemption", got, want)
			_, err = s.RefreshToken(ctx, rt2.Hash)
			wantErr(t, err, store.ErrNotFound, tc.name+": second refresh token must not be stored")
			_, err = s.Grant(ctx, gr2.ID)
			wantErr(t, err, store.ErrNotFound, tc.name+": second grant must not be stored")
		}
	}
	unknown := newGrantRecord("g-unknown", at(0))
	_, err := s.RedeemDeviceGrant(ctx, "unknown", tvClient, at(0), Issue[store.DeviceGrant](&unknown, nil))
	wantErr(t, err, store.ErrNotFound, "redeem unknown")
}

// testDeviceRedeemRechecksUser is DEV-18 at the store: a grant approved by
// a user since disabled, or gone, is not redeemed; it stays approved,
// nothing is stored, and it is redeemed once the user is enabled again.
func testDeviceRedeemRechecksUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(2 * time.Minute)
	g := approvedGrant(t, s, 1)
	mustOK(t, s.SetUserDisabled(ctx, "user-1", true), "disable user")
	gr := newGrantRecord("grant-disabled", now)
	rt := newRefresh("rt-disabled", gr.ID, now)
	_, err := s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, tvClient, now, Issue[store.DeviceGrant](&gr, &rt))
	wantErr(t, err, store.ErrUserInactive, "redeem for a disabled user")
	stored, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
	mustOK(t, err, "lookup")
	wantEqual(t, "device grant after a refused redemption", stored, g)
	_, err = s.Grant(ctx, rt.GrantID)
	wantErr(t, err, store.ErrNotFound, "grant of a refused redemption")
	_, err = s.RefreshToken(ctx, rt.Hash)
	wantErr(t, err, store.ErrNotFound, "refresh token of a refused redemption")

	mustOK(t, s.SetUserDisabled(ctx, "user-1", false), "enable user")
	_, err = s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, tvClient, now, Issue[store.DeviceGrant](&gr, &rt))
	mustOK(t, err, "redeem once the user is enabled again")

	ghost := newGrant(2, at(0))
	mustOK(t, s.CreateDeviceGrant(ctx, ghost), "create")
	_, err = s.DecideDeviceGrant(ctx, ghost.UserCode, store.Decision{Approve: true, UserID: "ghost", AuthTime: at(0)}, at(time.Minute))
	mustOK(t, err, "approve as a user the store does not hold")
	gr = newGrantRecord("grant-ghost", now)
	gr.UserID = "ghost"
	_, err = s.RedeemDeviceGrant(ctx, ghost.DeviceCodeHash, tvClient, now, Issue[store.DeviceGrant](&gr, nil))
	wantErr(t, err, store.ErrUserInactive, "redeem for an unknown user")
}

// testDeviceRedeemWrongClient: a wrong client's attempt finds no grant and
// does not burn the grant for the right one (DEV-16).
func testDeviceRedeemWrongClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := approvedGrant(t, s, 100)
	ensureClient(t, s, "other")
	other, tv := newGrantRecord("g-other", at(0)), newGrantRecord("g-tv", at(0))
	other.ClientID = "other"
	_, err := s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, "other", at(2*time.Minute), Issue[store.DeviceGrant](&other, nil))
	wantErr(t, err, store.ErrNotFound, "redeem by wrong client")
	_, err = s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, tvClient, at(2*time.Minute), Issue[store.DeviceGrant](&tv, nil))
	wantErr(t, err, nil, "redeem by right client after wrong one")
}

// testDeviceRedeemAtomic checks docs/SECURITY.md INV-03: when the grant,
// the refresh token or the passthrough record cannot be stored, the
// device grant is not consumed and nothing else is stored either.
func testDeviceRedeemAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(2 * time.Minute)
	taken := newRefresh("taken", "grant-0", at(0))
	mustOK(t, s.CreateRefreshToken(ctx, taken), "create refresh token")
	first := newGrantRecord("grant-taken", now)
	takenPT := store.PassthroughToken{Hash: "pt-taken", ClientID: tvClient, UserID: "user-1", UpstreamID: "cognito",
		CreatedAt: now, ExpiresAt: now.Add(familyLifetime)}
	_, err := s.RedeemDeviceGrant(ctx, approvedGrant(t, s, 2).DeviceCodeHash, tvClient, now,
		func(store.DeviceGrant, store.User) (store.Issuance, error) {
			return store.Issuance{Grant: &first, Passthrough: &takenPT}, nil
		})
	mustOK(t, err, "redeem another device grant")
	g := approvedGrant(t, s, 1)

	freshPT := takenPT
	freshPT.Hash = "pt-fresh"
	for _, tc := range []struct {
		name string
		gr   store.Grant
		rt   store.RefreshToken
		pt   *store.PassthroughToken
	}{
		{"refresh token hash in use", newGrantRecord("grant-1", now), newRefresh(taken.Hash, "grant-1", now), &freshPT},
		{"grant id in use", newGrantRecord("grant-taken", now), newRefresh("fresh-1", "grant-taken", now), &freshPT},
		{"passthrough record hash in use", newGrantRecord("grant-1", now), newRefresh("fresh-1", "grant-1", now), &takenPT},
	} {
		_, err := s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, tvClient, now,
			func(store.DeviceGrant, store.User) (store.Issuance, error) {
				return store.Issuance{Grant: &tc.gr, RefreshToken: &tc.rt, Passthrough: tc.pt}, nil
			})
		wantErr(t, err, store.ErrAlreadyExists, "redeem with a "+tc.name)
		stored, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash)
		mustOK(t, err, "lookup")
		wantEqual(t, tc.name+": device grant after failed redeem", stored, g)
	}
	_, err = s.Grant(ctx, "grant-1")
	wantErr(t, err, store.ErrNotFound, "grant of a failed redeem")
	_, err = s.RefreshToken(ctx, "fresh-1")
	wantErr(t, err, store.ErrNotFound, "refresh token of a failed redeem")
	_, err = s.PassthroughToken(ctx, freshPT.Hash)
	wantErr(t, err, store.ErrNotFound, "passthrough record of a failed redeem")
	gotRT, err := s.RefreshToken(ctx, taken.Hash)
	mustOK(t, err, "existing refresh token")
	wantEqual(t, "existing refresh token", gotRT, taken)

	gr, rt := newGrantRecord("grant-1", now), newRefresh("fresh", "grant-1", now)
	_, err = s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, tvClient, now, Issue[store.DeviceGrant](&gr, &rt))
	wantErr(t, err, nil, "redeem after failed redeem")
}
