package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// statements are the hot statements, prepared once per pool: database/sql
// prepares each again on every connection of the pool the first time it
// runs there, and keeps it, so SQL is parsed once per connection instead of
// once per request. Inside a write transaction they are bound to it with
// tx.StmtContext, which reuses the connection's prepared statement.
type statements struct {
	// Reads, on the reader pool.
	deviceByHash, client, user, refreshByHash, accessTokenLive *sql.Stmt
	// Writes, on the writer pool.
	insertDevice, redeemDevice, insertGrant, insertRefresh, rotateRefresh *sql.Stmt
	// recordPoll writes a grant's poll bookkeeping: on PostgreSQL at every
	// poll, after deviceForUpdate; on SQLite when the Store closes.
	deviceForUpdate, recordPoll *sql.Stmt
}

// prepareStatements prepares the hot statements, reads on r and writes on
// w (which may be the same pool).
func prepareStatements(ctx context.Context, r, w *sql.DB, d *dialect) (*statements, error) {
	st := &statements{}
	for _, p := range []struct {
		dst   **sql.Stmt
		db    *sql.DB
		query string
	}{
		{&st.deviceByHash, r, selectDeviceByHash},
		{&st.client, r, selectClient},
		{&st.user, r, `SELECT ` + userColumns + ` FROM users WHERE id = $1`},
		{&st.refreshByHash, r, `SELECT ` + refreshColumns + ` FROM refresh_tokens WHERE hash = $1`},
		{&st.accessTokenLive, r, selectAccessTokenLive},
		{&st.insertDevice, w, insertDeviceGrant},
		{&st.redeemDevice, w, redeemDeviceGrant},
		{&st.insertGrant, w, insertGrantQuery},
		{&st.insertRefresh, w, insertRefreshToken},
		{&st.rotateRefresh, w, rotateRefreshToken},
		{&st.deviceForUpdate, w, selectDeviceByHash + d.forUpdate},
		{&st.recordPoll, w, updateDevicePoll},
	} {
		s, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.dst = s
	}
	return st, nil
}

// close closes every prepared statement.
func (st *statements) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{st.deviceByHash, st.client, st.user, st.refreshByHash, st.accessTokenLive, st.insertDevice,
		st.redeemDevice, st.insertGrant, st.insertRefresh, st.rotateRefresh, st.deviceForUpdate, st.recordPoll} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
