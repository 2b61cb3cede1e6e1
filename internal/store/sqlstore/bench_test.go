package sqlstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store"
)

// Every write commits with synchronous=FULL, so these figures include an
// fsync per operation and depend on the disk under the temporary directory.

func BenchmarkCreateDeviceGrant(b *testing.B) {
	s := openTemp(b, filepath.Join(b.TempDir(), "grantd.db"))
	ctx := b.Context()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.CreateDeviceGrant(ctx, grant(i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordDevicePoll(b *testing.B) {
	s := openTemp(b, filepath.Join(b.TempDir(), "grantd.db"))
	ctx := b.Context()
	g := grant(0)
	g.ExpiresAt = t0.Add(24 * time.Hour)
	if err := s.CreateDeviceGrant(ctx, g); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, _, err := s.RecordDevicePoll(ctx, g.DeviceCodeHash, t0.Add(time.Duration(i)*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedeemDeviceGrant times the redemption alone, refresh token
// included; creating and approving each grant is excluded.
func BenchmarkRedeemDeviceGrant(b *testing.B) {
	s := openTemp(b, filepath.Join(b.TempDir(), "grantd.db"))
	ctx := b.Context()
	now := t0.Add(2 * time.Minute)
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
		rt := store.RefreshToken{Hash: g.DeviceCodeHash + "-rt", FamilyID: g.DeviceCodeHash, ClientID: "tv",
			UserID: "u1", Scopes: g.Scopes, AuthTime: t0, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
			FamilyExpiresAt: now.Add(720 * time.Hour)}
		b.StartTimer()
		if err := s.RedeemDeviceGrant(ctx, g.DeviceCodeHash, "tv", now, &rt); err != nil {
			b.Fatal(err)
		}
	}
}
