// Package sqlstore is grantd's SQL backend for store.Store: SQLite (Open,
// through modernc.org/sqlite) for a single instance, and PostgreSQL
// (OpenPostgres, through github.com/jackc/pgx/v5/stdlib) for several
// instances sharing one database.
//
// The verbs and their SQL are shared (accounts.go, clients.go, device.go,
// grants.go, …). What differs lives in sqlite.go and postgres.go, in two
// values: a dialect (error codes, row-lock clauses, how a poll is recorded,
// DDL type names) and a runner, which owns how a write transaction runs.
// No verb asks which database it runs on.
//
// modernc.org/sqlite is SQLite translated to Go: no cgo, so grantd stays
// one static binary that cross-compiles with GOOS/GOARCH alone. It is
// slower than the C library, which does not matter at an authorization
// server's write rates.
//
// # What the store guarantees
//
// Durability: a write is answered only once it is durable (REL-07), so a
// consumed device code or a rotated refresh token cannot come back after a
// crash or a power loss. On SQLite the log is in WAL mode with
// synchronous=FULL: every COMMIT fsyncs the write-ahead log before it
// returns, and before its pages are published to other connections, so a
// read never sees a write a crash could undo. On PostgreSQL a write is
// durable once its COMMIT returns (synchronous_commit stays on).
//
// Exactly once: every state change that decides a race (approve or deny,
// redeem a device code or an authorization code, rotate a refresh token,
// take an attempt) is a conditional statement inside the write
// transaction — UPDATE … WHERE state = 'approved' … RETURNING, INSERT … ON
// CONFLICT — so of concurrent callers exactly one changes the row and the
// others get store.ErrConflict. A redemption (redeem.go) re-reads the user
// and the client in the same transaction, after the update that claims the
// code — on PostgreSQL locking both rows FOR SHARE, so that deleting or
// disabling either waits for it or is seen by it — and asks the caller
// what to issue; if the user or client is gone or disabled, the caller
// refuses, or what it issues cannot be stored, the whole transaction rolls
// back and the code stays as it was. The conformance suite
// (internal/store/storetest) proves this with real concurrency on both
// databases.
//
// # SQLite: one writer, group commit
//
// The Store holds two pools on the file. The writes' pool has one
// connection, whose transactions begin IMMEDIATE (taking the write lock
// before they read), with busy_timeout=5000 so that another process's lock
// is waited for rather than failed (REL-08). The reads' pool has several
// query_only connections; WAL lets them read while the writer writes.
//
// Every write goes through package groupcommit: writes queued together run
// one after another in one transaction, each in a savepoint of its own,
// and commit once, which is one fsync for the batch. Each sees the writes
// before it, so a conditional update still decides races as above. A write
// that fails is rolled back to its savepoint alone; if the COMMIT fails,
// every write of the batch gets the error, never a success. See that
// package for what it buys and its rules for contexts and panics.
//
// SQLite checkpoints by itself: the COMMIT that takes the log past
// walAutocheckpointPages (10,000 pages; SQLite's default is 1,000, see the
// constant for why) copies the log
// into the database file and fsyncs it; once no reader needs the copied
// frames, the log is written again from its start.
//
// # SQLite: faults
//
// A COMMIT that fails with an I/O error (SQLITE_IOERR, a failed fsync
// above all) fails the store for good: what reached the disk is unknown,
// and Linux may report the next fsync as a success after dropping the
// pages it could not write. Writes and Ping then fail, and Health returns
// the error so that /healthz answers 503 and an orchestrator restarts
// grantd, after which SQLite's recovery of the log shows what is there.
// Reads go on: a commit that failed was never published to them.
//
// Any other failure — a lock held by another process past busy_timeout, a
// connection that cannot be opened because the process is out of file
// descriptors (issue 16), a full disk — rolled its transaction back
// whole. It fails the writes of that batch only, and the next batch is
// tried afresh, so the store heals by itself. SQLite holds its files open
// once a connection has opened them, so a burst of client connections
// does not take descriptors from commits.
//
// # The poll record is soft
//
// A device poll's record — the time of a code's last poll and its
// interval, raised by 5 seconds at each slow_down (RFC 8628 §3.5) — is
// soft state: losing it is harmless. A device whose record is lost gets
// one poll answered without slow_down, and its interval falls back to the
// one in its row. slow_down only ever tells a device to poll less often;
// no token is issued or refused on account of the record, since issuance
// depends on the grant's state alone, which is durable.
//
// PollDeviceGrant keeps the record in the grant's row, so that every
// process serving the database sees it and a poll decides slow_down
// exactly: SQLite reads the row and updates it in one write transaction,
// PostgreSQL in one statement that locks the row (FOR UPDATE inside a
// WITH) and sets synchronous_commit off for its transaction, since the
// record need not wait for the WAL flush. grantd serve does not send every
// poll to the database: on SQLite the pollrecord decorator
// (internal/store/pollrecord) answers most polls from memory and keeps
// their records there, which a restart forgets.
//
// # PostgreSQL: isolation and retries
//
// Transactions run at READ COMMITTED. A conditional statement is re-checked
// by PostgreSQL against the newest row version after waiting on the row
// lock, so the loser matches no row. Where a read must precede a write,
// the read locks the row: a poll locks its grant's row FOR UPDATE,
// RotateRefreshToken locks its grant FOR SHARE against a concurrent
// RevokeGrant (a revoked grant never keeps a live successor), and
// EnsureSigningKey and RotateSigningKey take a transaction advisory lock
// per algorithm. A transaction that fails with SQLSTATE 40001 or 40P01 (a
// deadlock) is run again, up to four attempts in all (REL-09). A write of
// one statement runs without BEGIN and COMMIT, one round trip. Instances
// purge expired rows one at a time, under a session advisory lock.
//
// # PostgreSQL: connections and timeouts
//
// One pool serves reads and writes: at most 2×GOMAXPROCS+4 connections
// (pool_max_conns in the URL), closed after 5 minutes idle
// (pool_max_conn_idle_time) and 30 minutes in any case
// (pool_max_conn_lifetime), so that the pool follows a failover. Each
// connection starts with statement_timeout=5s, so a stuck database yields
// an error in bounded time (REL-01); idle_in_transaction_session_timeout=30s,
// so a stalled instance cannot hold row locks; and connect_timeout=5. The
// URL may set any of these, and any libpq parameter pgx knows (sslmode,
// search_path, …).
//
// # Prepared statements
//
// The hot statements are prepared once per pool when the Store opens;
// database/sql prepares each again on every connection the first time it
// runs there, and a transaction binds it with tx.StmtContext, so SQL is
// parsed once per connection instead of once per request.
//
// # Schema
//
// Migrations are numbered, shared by both dialects (PostgreSQL reads BLOB
// as BYTEA), append-only and additive, so that an older grantd keeps
// running against a newer schema during a rolling upgrade (REL-19).
// schema_migrations records the versions applied, each in its own
// transaction that re-checks its version; on PostgreSQL the run also holds
// a session advisory lock, so instances starting together apply each
// migration once. Times are BIGINT Unix nanoseconds in UTC, NULL for the
// zero time; lists are JSON arrays in TEXT columns; queries use $N
// placeholders.
//
// # Tests
//
// Both dialects run the whole conformance suite. The PostgreSQL tests read
// GRANTD_TEST_POSTGRES, the URL of a scratch database, and skip when it is
// unset; each works in a schema of its own, dropped when it ends. How the
// write path got here, with the measurements that decided what stayed, is
// in BENCHMARKS.md ("History of the SQLite write path").
package sqlstore
