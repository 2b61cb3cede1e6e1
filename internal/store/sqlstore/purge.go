package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// purgeBatch bounds how many rows one purge statement deletes, so that the
// write lock is released between batches and traffic is not blocked behind a
// large purge (REL-18).
const purgeBatch = 500

// purgeStatements delete, in batches, the rows whose lifetime ended at or
// before $1. Expiry is also checked by every verb, so purging late is
// harmless.
//
// Refresh tokens go only when their family can no longer be used: the
// family's absolute lifetime is over, or every generation's idle lifetime is
// over. A rotated generation of a live family is kept, because presenting it
// again is how reuse is detected (RFC 9700 §4.14.2).
var purgeStatements = []struct{ name, query string }{
	{"device grants", `DELETE FROM device_grants WHERE device_code_hash IN (
		SELECT device_code_hash FROM device_grants WHERE expires_at <= $1 LIMIT ` + fmt.Sprint(purgeBatch) + `)`},
	{"sessions", `DELETE FROM sessions WHERE id_hash IN (
		SELECT id_hash FROM sessions WHERE expires_at <= $1 LIMIT ` + fmt.Sprint(purgeBatch) + `)`},
	{"refresh families past their absolute lifetime", `DELETE FROM refresh_tokens WHERE hash IN (
		SELECT hash FROM refresh_tokens WHERE family_expires_at <= $1 LIMIT ` + fmt.Sprint(purgeBatch) + `)`},
	{"refresh families past every idle lifetime", `DELETE FROM refresh_tokens WHERE family_id IN (
		SELECT family_id FROM refresh_tokens GROUP BY family_id HAVING MAX(expires_at) <= $1
		LIMIT ` + fmt.Sprint(purgeBatch) + `)`},
}

// PurgeExpired deletes device grants, sessions and refresh token families
// whose lifetime ended at or before now, and reports how many rows it
// removed. Each batch is its own statement; on error the count so far is
// returned with the error.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, p := range purgeStatements {
		for {
			res, err := s.w.ExecContext(ctx, p.query, nanos(now))
			if err != nil {
				return total, fmt.Errorf("purge expired %s: %w", p.name, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return total, fmt.Errorf("purge expired %s: %w", p.name, err)
			}
			total += n
			if n == 0 {
				break
			}
		}
	}
	if total > 0 {
		s.logger.DebugContext(ctx, "purged expired rows", "rows", total)
	}
	return total, nil
}
