package sqlstore

import (
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/store/sqlstore/pgtest"
)

// seedExpiredGrants inserts n device grants that expire at t0+10m.
func seedExpiredGrants(t *testing.T, s *Store, n int) {
	t.Helper()
	_, err := s.w.ExecContext(t.Context(),
		`INSERT INTO device_grants (device_code_hash, user_code, client_id, scopes, state, user_id,
			poll_interval_ns, created_at, expires_at)
		SELECT 'dc-' || i, 'UC' || i, 'tv', '["openid"]', 'pending', '', $1, $2, $3
		FROM generate_series(1, $4) AS i`,
		int64(5*time.Second), nanos(t0), nanos(t0.Add(10*time.Minute)), n)
	if err != nil {
		t.Fatal(err)
	}
}

// countGrants returns how many device grants s holds.
func countGrants(t *testing.T, s *Store) int64 {
	t.Helper()
	var n int64
	if err := s.r.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM device_grants`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPostgresPurgeOneInstanceAtATime checks that instances sharing a
// database purge one at a time: while another session holds the purge
// lock, PurgeExpired skips (0 rows, no error, nothing deleted); two stores
// purging at once split nothing — one deletes every expired row, the other
// none.
func TestPostgresPurgeOneInstanceAtATime(t *testing.T) {
	rawURL := pgtest.URL(t)
	a, b := openPostgresTest(t, rawURL), openPostgresTest(t, rawURL)
	ctx := t.Context()
	later := t0.Add(time.Hour)
	const rows = 4*purgeBatch + 1

	seedExpiredGrants(t, a, rows)
	holder, err := a.w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, `SELECT pg_advisory_lock(`+purgeLockKey+`)`); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Store{"a": a, "b": b} {
		if n, err := s.PurgeExpired(ctx, later); n != 0 || err != nil {
			t.Errorf("%s purges while another session holds the lock: %d, %v; want 0, nil", name, n, err)
		}
	}
	if n := countGrants(t, a); n != rows {
		t.Errorf("%d grants left after skipped purges, want %d", n, rows)
	}
	if _, err := holder.ExecContext(ctx, `SELECT pg_advisory_unlock(`+purgeLockKey+`)`); err != nil {
		t.Fatal(err)
	}

	for trial := range 3 {
		if trial > 0 {
			seedExpiredGrants(t, a, rows)
		}
		var got [2]int64
		var errs [2]error
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, s := range []*Store{a, b} {
			wg.Go(func() {
				<-start
				got[i], errs[i] = s.PurgeExpired(ctx, later)
			})
		}
		close(start)
		wg.Wait()
		if errs[0] != nil || errs[1] != nil || got[0]+got[1] != rows || (got[0] != 0 && got[1] != 0) {
			t.Errorf("trial %d: concurrent purges removed %d and %d (%v, %v); want %d by one of them",
				trial, got[0], got[1], errs[0], errs[1], rows)
		}
		if n := countGrants(t, a); n != 0 {
			t.Errorf("trial %d: %d grants left, want 0", trial, n)
		}
	}

	// The lock was released each time: a later purge runs.
	seedExpiredGrants(t, a, 1)
	if n, err := b.PurgeExpired(ctx, later); n != 1 || err != nil {
		t.Errorf("purge after the others: %d, %v; want 1, nil", n, err)
	}
}
