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
	// Reads, on the reader pool. devicePoll reads what a poll needs.
	deviceByHash, devicePoll, client, user, refreshByHash, accessTokenLive *sql.Stmt
	// Writes, on the writer pool.
	insertDevice, redeemDevice, insertGrant, insertRefresh, rotateRefresh *sql.Stmt
	// Reads inside a write transaction, on the writer pool.
	refreshInTx, userInTx *sql.Stmt
	// recordPoll writes SQLite's poll bookkeeping back when the Store
	// closes.
	recordPoll *sql.Stmt
	// PostgreSQL only: a poll of a device grant (PollDeviceGrant).
	pollInRow *sql.Stmt
}

// prepareStatements prepares the hot statements, reads on r and writes on
// w (which may be the same pool).
func prepareStatements(ctx context.Context, r, w *sql.DB, d *dialect) (*statements, error) {
	st := &statements{}
	type prepared struct {
		dst   **sql.Stmt
		db    *sql.DB
		query string
	}
	list := []prepared{
		{&st.deviceByHash, r, selectDeviceByHash},
		{&st.devicePoll, r, selectDevicePoll},
		{&st.client, r, selectClient},
		{&st.user, r, `SELECT ` + userColumns + ` FROM users WHERE id = $1`},
		{&st.refreshByHash, r, selectRefresh + ` WHERE r.hash = $1`},
		{&st.accessTokenLive, r, selectAccessTokenLive},
		{&st.insertDevice, w, insertDeviceGrant},
		{&st.redeemDevice, w, redeemDeviceGrant},
		{&st.insertGrant, w, insertGrantQuery},
		{&st.insertRefresh, w, insertRefreshToken},
		{&st.rotateRefresh, w, rotateRefreshToken},
		{&st.refreshInTx, w, selectRefreshAndUser},
		{&st.userInTx, w, `SELECT ` + userColumns + ` FROM users WHERE id = $1`},
		{&st.recordPoll, w, updateDevicePoll},
	}
	if d == postgresDialect {
		list = append(list, prepared{&st.pollInRow, w, pollInRow})
	}
	for _, p := range list {
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
	for _, s := range []*sql.Stmt{st.deviceByHash, st.devicePoll, st.client, st.user, st.refreshByHash, st.accessTokenLive,
		st.insertDevice, st.redeemDevice, st.insertGrant, st.insertRefresh, st.rotateRefresh, st.recordPoll,
		st.refreshInTx, st.userInTx, st.pollInRow} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
