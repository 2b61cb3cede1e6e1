package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/store"
)

// value returns the value of the sample of the metric family name with
// exactly labels (name=value pairs), or -1 when there is none.
func value(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName()+"="+l.GetValue())
			}
			if strings.Join(got, ",") != strings.Join(labels, ",") {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// TestNilRecorder: a nil Recorder records nothing and costs nothing: its
// methods do not panic and the decorators hand back what they were given.
func TestNilRecorder(t *testing.T) {
	var r *Recorder
	r.Request("/token", 200, time.Millisecond)
	r.DeviceAuthorized("tv")
	r.DevicePoll("tv", PollPending)
	r.DeviceDecided(true, time.Second)
	r.DeviceRedeemed(time.Second)
	r.TokensIssued("tv", "refresh_token")
	r.RefreshReuse()
	r.ClientAuthFailed(AuthBadSecret)
	var st store.Store = fakeStore{}
	if Store(st, nil) != st {
		t.Error("Store with a nil Recorder wraps the store")
	}
	l := ratelimit.NewMemory()
	if Limiter(l, nil) != ratelimit.Limiter(l) {
		t.Error("Limiter with a nil Recorder wraps the limiter")
	}
}

// TestBudgetOf: a rejection is labelled by its budget, never by the IP,
// account or client its key names.
func TestBudgetOf(t *testing.T) {
	for key, want := range map[string]string{
		"signin:ip:203.0.113.7":       "signin_ip",
		"signin:account:alice":        "signin_account",
		"signin:global":               "signin_global",
		"signin:browser:abc":          "signin_browser",
		"usercode:ip:2001:db8::/64":   "usercode_ip",
		"usercode:account:u1":         "usercode_account",
		"usercode:global":             "usercode_global",
		"client-auth:tv|203.0.113.7":  "client_auth",
		"device-auth-ip:203.0.113.7":  "device_authorization_ip",
		"device-auth-client:tv":       "device_authorization_client",
		"introspect:rs":               "introspect",
		"revoke:tv":                   "revoke",
		"something-new:secret-detail": "other",
	} {
		if got := budgetOf(key); got != want {
			t.Errorf("budgetOf(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestLimiterCountsRejections: only refused attempts are counted.
func TestLimiterCountsRejections(t *testing.T) {
	r := New(Options{})
	l := Limiter(ratelimit.NewMemory(), r)
	now := time.Unix(1_800_000_000, 0)
	for range 3 {
		l.Take(t.Context(), "signin:account:alice", ratelimit.Budget{N: 2, Per: time.Hour}, now)
	}
	if got := value(t, r.Gatherer(), "grantd_rate_limited_total", "budget=signin_account"); got != 1 {
		t.Errorf("rejections of 3 attempts on a budget of 2: %v, want 1", got)
	}
}

// fakeStore answers Client with the error its id names, and decides every
// device grant as approved.
type fakeStore struct{ store.Store }

func (fakeStore) Client(_ context.Context, id string) (store.Client, error) {
	switch id {
	case "missing":
		return store.Client{}, fmt.Errorf("client: %w", store.ErrNotFound)
	case "broken":
		return store.Client{}, errors.New("connection refused")
	}
	return store.Client{ID: id}, nil
}

func (fakeStore) DecideDeviceGrant(_ context.Context, _ string, d store.Decision, now time.Time) (store.DeviceGrant, error) {
	state := store.DeviceDenied
	if d.Approve {
		state = store.DeviceApproved
	}
	return store.DeviceGrant{State: state, CreatedAt: now.Add(-time.Minute)}, nil
}

// RotateRefreshToken fails as its id says: "refused" by the caller's
// IssueFunc, "broken" by a fault, anything else by a conflict.
func (fakeStore) RotateRefreshToken(_ context.Context, hash, _ string, _ time.Time, issue store.IssueFunc[store.RefreshToken]) (store.RefreshToken, error) {
	switch hash {
	case "refused":
		_, err := issue(store.RefreshToken{Hash: hash}, store.User{})
		return store.RefreshToken{}, fmt.Errorf("rotate refresh token: %w", err)
	case "broken":
		return store.RefreshToken{}, errors.New("disk I/O error")
	}
	return store.RefreshToken{}, fmt.Errorf("rotate refresh token: %w", store.ErrConflict)
}

// TestStoreTimesAndCountsFaults: every call is timed; only faults count
// as errors, not the sentinels that are ordinary outcomes; a decision
// counts as one, with its time since the device authorization.
func TestStoreTimesAndCountsFaults(t *testing.T) {
	r := New(Options{})
	st := Store(fakeStore{}, r)
	for _, id := range []string{"tv", "missing", "broken", "broken"} {
		st.Client(t.Context(), id)
	}
	st.DecideDeviceGrant(t.Context(), "WDJBMJHT", store.Decision{Approve: true}, time.Unix(1_800_000_000, 0))
	refuse := func(store.RefreshToken, store.User) (store.Issuance, error) {
		return store.Issuance{}, errors.New("the requested scope exceeds the granted scope")
	}
	for _, hash := range []string{"refused", "rotated", "broken"} {
		st.RotateRefreshToken(t.Context(), hash, "tv", time.Unix(1_800_000_000, 0), refuse)
	}
	for _, tc := range []struct {
		name  string
		label []string
		want  float64
	}{
		{"grantd_store_operation_duration_seconds", []string{"operation=client"}, 4},
		{"grantd_store_errors_total", []string{"operation=client"}, 2},
		{"grantd_store_operation_duration_seconds", []string{"operation=decide_device_grant"}, 1},
		// A refusal by the caller is an outcome like a conflict; only the fault counts.
		{"grantd_store_operation_duration_seconds", []string{"operation=rotate_refresh_token"}, 3},
		{"grantd_store_errors_total", []string{"operation=rotate_refresh_token"}, 1},
		{"grantd_device_decisions_total", []string{"decision=approved"}, 1},
		{"grantd_device_decision_seconds", []string{"decision=approved"}, 1},
	} {
		if got := value(t, r.Gatherer(), tc.name, tc.label...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.label, got, tc.want)
		}
	}
}
