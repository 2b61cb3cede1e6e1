package sqlstore

import (
	"context"
	"database/sql"
)

// DataVersion returns SQLite's data version (PRAGMA data_version), read on
// the writer's connection, where it changes exactly when another
// connection has committed; this Store's readers never write, so that
// means another process (pollrecord.Versioner). It is read inside a write
// transaction with no writes, which takes a turn of the writer but commits
// nothing to disk. PostgreSQL has no such number: errors.ErrUnsupported.
func (s *Store) DataVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.inTx(ctx, "read data version", func(ctx context.Context, tx *sql.Tx) (err error) {
		v, err = s.d.dataVersion(ctx, tx)
		return err
	})
	return v, err
}
