package sqlstore

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/storetest"
)

// BenchmarkSQLite times the store's hot verbs on SQLite. Every write is
// answered after the committer's fsync, so these figures include an fsync
// per operation and depend on the disk under the temporary directory.
func BenchmarkSQLite(b *testing.B) {
	runBenchmarks(b, func(b *testing.B) *Store { return openTemp(b, filepath.Join(b.TempDir(), "grantd.db")) })
}

// runBenchmarks runs every benchmark on a fresh store from open.
func runBenchmarks(b *testing.B, open func(*testing.B) *Store) {
	for _, bm := range []struct {
		name string
		fn   func(*testing.B, *Store)
	}{
		{"CreateDeviceGrant", benchCreateDeviceGrant},
		{"CreateDeviceGrantParallel", benchCreateDeviceGrantParallel},
		{"PollDeviceGrant", benchPollDeviceGrant},
		{"PollDeviceGrantParallel", benchPollDeviceGrantParallel},
		{"DeviceGrantLookup", benchDeviceGrantLookup},
		{"ClientLookup", benchClientLookup},
		{"RedeemDeviceGrant", benchRedeemDeviceGrant},
		{"RedeemAuthorizationCode", benchRedeemAuthorizationCode},
		{"RotateRefreshToken", benchRotateRefreshToken},
		{"RotateRefreshTokenParallel", benchRotateRefreshTokenParallel},
		{"TakeAttempt", benchTakeAttempt},
		{"TakeAttemptParallel", benchTakeAttemptParallel},
		{"RefreshTokenLookup", benchRefreshTokenLookup},
	} {
		b.Run(bm.name, func(b *testing.B) { bm.fn(b, open(b)) })
	}
}

func benchCreateDeviceGrant(b *testing.B, s *Store) {
	ctx := b.Context()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.CreateDeviceGrant(ctx, grant(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// parallelWriters is how many goroutines per GOMAXPROCS the parallel
// benchmarks run: with 2 CPUs, 32, as the load harness's 32 connections.
const parallelWriters = 16

// benchCreateDeviceGrantParallel creates grants from many goroutines at once,
// as concurrent device authorizations do: where group commit shows.
func benchCreateDeviceGrantParallel(b *testing.B, s *Store) {
	ctx := b.Context()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(parallelWriters)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.CreateDeviceGrant(ctx, grant(int(n.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// pollFleet is how many pending grants the PollDeviceGrant benchmarks
// poll, each at its 5-second interval: the clock moves 5 s / pollFleet a
// poll, as under a fleet's steady polling.
const pollFleet = 1000

// createFleet creates pollFleet pending grants that live a day.
func createFleet(b *testing.B, s *Store) {
	for i := range pollFleet {
		g := grant(i)
		g.ExpiresAt = t0.Add(24 * time.Hour)
		if err := s.CreateDeviceGrant(b.Context(), g); err != nil {
			b.Fatal(err)
		}
	}
}

// pollAt returns the grant and time of the fleet's poll number i.
func pollAt(i int64) (string, time.Time) {
	return grant(int(i % pollFleet)).DeviceCodeHash, t0.Add(time.Duration(i) * 5 * time.Second / pollFleet)
}

// benchPollDeviceGrant times the token endpoint's poll of a pending code.
func benchPollDeviceGrant(b *testing.B, s *Store) {
	ctx := b.Context()
	createFleet(b, s)
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		hash, now := pollAt(i)
		if _, err := s.PollDeviceGrant(ctx, hash, "tv", now); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPollDeviceGrantParallel is benchPollDeviceGrant from many
// goroutines.
func benchPollDeviceGrantParallel(b *testing.B, s *Store) {
	ctx := b.Context()
	createFleet(b, s)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(parallelWriters)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			hash, now := pollAt(n.Add(1))
			if _, err := s.PollDeviceGrant(ctx, hash, "tv", now); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchDeviceGrantLookup(b *testing.B, s *Store) {
	ctx := b.Context()
	g := grant(0)
	if err := s.CreateDeviceGrant(ctx, g); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.DeviceGrantByDeviceCode(ctx, g.DeviceCodeHash); err != nil {
			b.Fatal(err)
		}
	}
}

func benchClientLookup(b *testing.B, s *Store) {
	ctx := b.Context()
	c := store.Client{ID: "tv", SecretHash: "x", Name: "TV", GrantTypes: []string{"refresh_token"},
		Scopes: []string{"openid"}, CreatedAt: t0}
	if err := s.CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Client(ctx, c.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRedeemDeviceGrant times the redemption alone, grant and refresh token
// included; creating and approving each device grant is excluded.
func benchRedeemDeviceGrant(b *testing.B, s *Store) {
	ctx := b.Context()
	now := t0.Add(2 * time.Minute)
	createU1(b, s)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		g := grant(i)
		if err := s.CreateDeviceGrant(ctx, g); err != nil {
			b.Fatal(err)
		}
		d := store.Decision{Approve: true, UserID: "u1", AuthTime: t0}
		if _, err := s.DecideDeviceGrant(ctx, g.UserCode, d, t0.Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
		gr := userGrant(g.DeviceCodeHash + "-grant")
		rt := benchRefresh(g.DeviceCodeHash+"-rt", gr.ID, now)
		b.StartTimer()
		if _, err := s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, "tv", now, storetest.Issue[store.DeviceGrant](&gr, &rt)); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRedeemAuthorizationCode times the redemption alone, grant and
// refresh token included.
func benchRedeemAuthorizationCode(b *testing.B, s *Store) {
	ctx := b.Context()
	now := t0.Add(10 * time.Second)
	createU1(b, s)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		c := store.AuthorizationCode{Hash: fmt.Sprintf("code-%d", i), ClientID: "tv", UserID: "u1",
			RedirectURI: "https://example.com/cb", Scopes: []string{"openid"}, CodeChallenge: "challenge",
			CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
		if err := s.CreateAuthorizationCode(ctx, c); err != nil {
			b.Fatal(err)
		}
		gr := userGrant(c.Hash + "-grant")
		rt := benchRefresh(c.Hash+"-rt", gr.ID, now)
		b.StartTimer()
		if _, err := s.RedeemAuthorizationCode(ctx, c.Hash, "tv", now, storetest.Issue[store.AuthorizationCode](&gr, &rt)); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRotateRefreshToken rotates one family again and again.
func benchRotateRefreshToken(b *testing.B, s *Store) {
	ctx := b.Context()
	createU1(b, s)
	prev := benchRefresh("gen-0", "g", t0)
	if err := s.CreateRefreshToken(ctx, prev); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 1; b.Loop(); i++ {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		next := benchRefresh(fmt.Sprintf("gen-%d", i), prev.GrantID, now)
		next.FamilyExpiresAt = prev.FamilyExpiresAt
		if err := storetest.Rotate(ctx, s, prev.Hash, next, now); err != nil {
			b.Fatal(err)
		}
		prev = next
	}
}

// benchRotateRefreshTokenParallel rotates one family per goroutine, as the
// load harness's connections do.
func benchRotateRefreshTokenParallel(b *testing.B, s *Store) {
	ctx := b.Context()
	createU1(b, s)
	var families atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(parallelWriters)
	b.RunParallel(func(pb *testing.PB) {
		f := families.Add(1)
		prev := benchRefresh(fmt.Sprintf("f%d-gen-0", f), fmt.Sprintf("g%d", f), t0)
		if err := s.CreateRefreshToken(ctx, prev); err != nil {
			b.Error(err)
			return
		}
		for i := 1; pb.Next(); i++ {
			now := t0.Add(time.Duration(i) * time.Millisecond)
			next := benchRefresh(fmt.Sprintf("f%d-gen-%d", f, i), prev.GrantID, now)
			next.FamilyExpiresAt = prev.FamilyExpiresAt
			if err := storetest.Rotate(ctx, s, prev.Hash, next, now); err != nil {
				b.Error(err)
				return
			}
			prev = next
		}
	})
}

func benchTakeAttempt(b *testing.B, s *Store) {
	ctx := b.Context()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, _, err := s.TakeAttempt(ctx, fmt.Sprintf("ip-%d", i%64), 10, time.Minute, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// benchTakeAttemptParallel spends from one budget on every goroutine: the
// worst case for row contention.
func benchTakeAttemptParallel(b *testing.B, s *Store) {
	ctx := b.Context()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.TakeAttempt(ctx, "global", 1000, time.Minute, t0); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchRefreshTokenLookup(b *testing.B, s *Store) {
	ctx := b.Context()
	rt := benchRefresh("rt", "g", t0)
	if err := s.CreateRefreshToken(ctx, rt); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.RefreshToken(ctx, rt.Hash); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchRefresh(hash, grantID string, now time.Time) store.RefreshToken {
	return store.RefreshToken{Hash: hash, GrantID: grantID, ClientID: "tv", UserID: "u1", Scopes: []string{"openid"},
		AuthTime: t0, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), FamilyExpiresAt: t0.Add(720 * time.Hour)}
}
