package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ReturnAttempt gives one attempt back to key's budget: it moves the
// bucket's theoretical arrival time one emission interval earlier. A time
// in the past counts as now at the next attempt, so the budget is never
// fuller than full.
func (s *Store) ReturnAttempt(ctx context.Context, key string, n int, window time.Duration) error {
	if n <= 0 || window <= 0 {
		return fmt.Errorf("return attempt: budget of %d per %v", n, window)
	}
	emission := max(window/time.Duration(n), 1)
	if _, err := s.exec(ctx, "return attempt", `UPDATE attempts SET tat = tat - $2 WHERE bucket = $1`, key, int64(emission)); err != nil {
		return fmt.Errorf("return attempt: %w", err)
	}
	return nil
}

// TakeAttempt spends one attempt of key's budget of n per window at now. The
// budget is a GCRA token bucket kept as one number per key, the theoretical
// arrival time (tat): each attempt moves it one emission interval T =
// window/n later, starting from now when it lies in the past, and an attempt
// is allowed while that leaves tat at most n·T ahead of now. So n attempts
// pass at once, then one per T. One upsert decides, so concurrent attempts
// never overshoot: SQLite runs it under the write lock, PostgreSQL's ON
// CONFLICT DO UPDATE locks the row and re-reads it. A refused attempt leaves
// the bucket as it was and reports when the next one is allowed.
func (s *Store) TakeAttempt(ctx context.Context, key string, n int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	if n <= 0 || window <= 0 {
		return false, 0, fmt.Errorf("take attempt: budget of %d per %v", n, window)
	}
	emission := max(window/time.Duration(n), 1)
	limit := emission * time.Duration(n)
	t := nanos(now)
	// Allowed ⇔ max(tat, now) + T − now ≤ n·T ⇔ tat ≤ now + n·T − T, since
	// now ≤ now + n·T − T always holds.
	const spend = `INSERT INTO attempts (bucket, tat) VALUES ($1, $2)
		ON CONFLICT (bucket) DO UPDATE
			SET tat = CASE WHEN attempts.tat > $3 THEN attempts.tat ELSE $3 END + $4
			WHERE attempts.tat <= $5
		RETURNING tat`
	args := []any{key, t + int64(emission), t, int64(emission), t + int64(limit-emission)}
	var tat int64
	err := s.write(ctx, "take attempt", func(ctx context.Context, q queryer) error {
		return q.QueryRowContext(ctx, spend, args...).Scan(&tat)
	})
	switch {
	case err == nil:
		return true, 0, nil
	case !errors.Is(err, sql.ErrNoRows):
		return false, 0, err
	}
	// Refused. Read the bucket to say when the next attempt fits; a
	// concurrent attempt or purge only makes this estimate early.
	err = s.read(ctx, `SELECT tat FROM attempts WHERE bucket = $1`, key).Scan(&tat)
	switch {
	case errors.Is(err, sql.ErrNoRows): // purged since: the bucket is full again
		return false, time.Nanosecond, nil
	case err != nil:
		return false, 0, fmt.Errorf("take attempt: read bucket: %w", err)
	}
	return false, max(time.Duration(tat-t)+emission-limit, time.Nanosecond), nil
}
