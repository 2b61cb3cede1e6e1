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
	// Reads, on the reads' pool.
	deviceByHash, client, user, refreshByHash, accessTokenLive *sql.Stmt
	// Writes, on the writes' pool.
	insertDevice, redeemDevice, insertGrant, insertRefresh, rotateRefresh *sql.Stmt
	// Reads inside a write transaction, on the writes' pool.
	refreshInTx, partiesInTx *sql.Stmt
	// poll is the dialect's pollQuery, on the writes' pool.
	poll *sql.Stmt
}

// prepareStatements prepares the hot statements of dialect d, reads on r
// and writes on w (which may be the same pool).
func prepareStatements(ctx context.Context, r, w *sql.DB, d *dialect) (*statements, error) {
	st := &statements{}
	type prepared struct {
		dst   **sql.Stmt
		db    *sql.DB
		query string
	}
	list := []prepared{
		{&st.deviceByHash, r, selectDeviceByHash},
		{&st.client, r, selectClient},
		{&st.user, r, `SELECT ` + userColumns + ` FROM users WHERE id = $1`},
		{&st.refreshByHash, r, selectRefresh + ` WHERE r.hash = $1`},
		{&st.accessTokenLive, r, selectAccessTokenLive},
		{&st.insertDevice, w, insertDeviceGrant},
		{&st.redeemDevice, w, redeemDeviceGrant},
		{&st.insertGrant, w, insertGrantQuery},
		{&st.insertRefresh, w, insertRefreshToken},
		{&st.rotateRefresh, w, rotateRefreshToken},
		{&st.refreshInTx, w, selectRefreshInTx},
		{&st.partiesInTx, w, selectParties + d.forShare},
		{&st.poll, w, d.pollQuery},
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
	for _, s := range []*sql.Stmt{st.deviceByHash, st.client, st.user, st.refreshByHash, st.accessTokenLive,
		st.insertDevice, st.redeemDevice, st.insertGrant, st.insertRefresh, st.rotateRefresh,
		st.refreshInTx, st.partiesInTx, st.poll} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
