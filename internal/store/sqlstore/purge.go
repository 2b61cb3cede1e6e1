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
// again is how reuse is detected (RFC 9700 §4.14.2). For the same reason a
// redeemed authorization code is kept until it expires, so that a second
// use is still recognised (RFC 6749 §4.1.2). Revoked grants are kept until
// they expire, so that introspection still finds them revoked. A signing
// key goes at its retirement, when no token it signed is valid any more.
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
	{"authorization codes", `DELETE FROM authorization_codes WHERE hash IN (
		SELECT hash FROM authorization_codes WHERE expires_at <= $1 LIMIT ` + fmt.Sprint(purgeBatch) + `)`},
	{"grants", `DELETE FROM grants WHERE id IN (
		SELECT id FROM grants WHERE expires_at <= $1 LIMIT ` + fmt.Sprint(purgeBatch) + `)`},
	{"access token revocations", `DELETE FROM revoked_access_tokens WHERE jti IN (
		SELECT jti FROM revoked_access_tokens WHERE expires_at <= $1 LIMIT ` + fmt.Sprint(purgeBatch) + `)`},
	{"retired signing keys", `DELETE FROM signing_keys WHERE id IN (
		SELECT id FROM signing_keys WHERE retires_at <= $1 LIMIT ` + fmt.Sprint(purgeBatch) + `)`},
	{"full attempt budgets", `DELETE FROM attempts WHERE bucket IN (
		SELECT bucket FROM attempts WHERE tat <= $1 LIMIT ` + fmt.Sprint(purgeBatch) + `)`},
	{"passthrough token records", `DELETE FROM passthrough_tokens WHERE hash IN (
		SELECT hash FROM passthrough_tokens WHERE expires_at <= $1 LIMIT ` + fmt.Sprint(purgeBatch) + `)`},
	{"used single-use values", `DELETE FROM used_once WHERE id IN (
		SELECT id FROM used_once WHERE expires_at <= $1 LIMIT ` + fmt.Sprint(purgeBatch) + `)`},
}

// PurgeExpired deletes device grants, sessions, refresh token families,
// authorization codes, grants and access token revocations whose lifetime
// ended at or before now, and attempt budgets that are full again at now,
// and reports how many rows it removed. Each batch is its own statement; on
// error the count so far is returned with the error. On PostgreSQL,
// instances sharing the database purge one at a time: while another purges,
// PurgeExpired returns 0 without error (see postgresRunner.purge).
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) (int64, error) {
	return s.run.purge(ctx, func(ctx context.Context, e execer) (int64, error) {
		var total int64
		for _, p := range purgeStatements {
			for {
				res, err := e.ExecContext(ctx, p.query, nanos(now))
				if err != nil {
					return total, fmt.Errorf("purge expired %s: %w", p.name, err)
				}
				n, err := res.RowsAffected()
				if err != nil {
					return total, fmt.Errorf("purge expired %s: %w", p.name, err)
				}
				if total += n; n == 0 {
					break
				}
			}
		}
		if total > 0 {
			s.logger.DebugContext(ctx, "purged expired rows", "rows", total)
		}
		return total, nil
	})
}
