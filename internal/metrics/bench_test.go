package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// pollStore answers polls as a pending grant's.
type pollStore struct{ store.Store }

func (pollStore) PollDeviceGrant(context.Context, string, string, time.Time) (store.PollResult, error) {
	return store.PollResult{State: store.DevicePending}, nil
}

// BenchmarkPollInstrumentation measures what metrics add to a device poll
// answered authorization_pending: the store call timed, the poll counted
// and the request observed. Compare with BenchmarkPollPendingFleet in
// package httpserver, the whole poll:
//
//	go test -run '^$' -bench PollInstrumentation ./internal/metrics
func BenchmarkPollInstrumentation(b *testing.B) {
	for _, tc := range []struct {
		name string
		r    *Recorder
	}{{"off", nil}, {"on", New(Options{})}, {"on, client labels", New(Options{ClientLabels: true})}} {
		b.Run(tc.name, func(b *testing.B) {
			st := Store(pollStore{}, tc.r)
			ctx, now := context.Background(), time.Now()
			b.ReportAllocs()
			for b.Loop() {
				st.PollDeviceGrant(ctx, "hash", "tv", now)
				tc.r.DevicePoll("tv", PollPending)
				tc.r.Request("/token", 400, time.Millisecond)
			}
		})
	}
}
