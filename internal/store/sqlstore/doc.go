// Package sqlstore is grantd's SQL backend for store.Store, with two
// dialects behind one database/sql code path: SQLite (Open, through
// modernc.org/sqlite) for a single instance, and PostgreSQL (OpenPostgres,
// through github.com/jackc/pgx/v5/stdlib) for several instances sharing one
// database. The statements are shared; a small dialect value holds what
// differs (row-lock clauses, error classification, an advisory lock, DDL
// type names).
//
// # Why modernc.org/sqlite
//
// modernc.org/sqlite is SQLite transpiled to Go: no cgo, so grantd stays one
// static binary that cross-compiles with GOOS/GOARCH alone and runs in a
// scratch container. It is slower than the C library, which does not matter
// at the write rates of an authorization server.
//
// # SQLite: durability and concurrency
//
// Every connection is configured through DSN parameters, so a connection the
// pool opens later gets the same settings:
//
//   - journal_mode=WAL (set by the writer; it persists in the file): readers
//     never block the writer or each other.
//   - synchronous=FULL: a commit is fsynced before it is reported, so a
//     consumed device code or rotated refresh token cannot come back after
//     power loss (SECURITY.md REL-07; WAL with NORMAL may lose recent commits).
//   - busy_timeout=5000: a connection waits up to five seconds for a lock held
//     by another process instead of failing with "database is locked"
//     (REL-08).
//   - foreign_keys=ON, for future references; the schema declares none yet,
//     because clients may come from configuration and users from an upstream
//     identity provider rather than from this database.
//
// The Store holds two pools. The writer pool has a single connection and
// starts every transaction with BEGIN IMMEDIATE, so writers of this process
// queue in database/sql and take the write lock before reading what they will
// change; a conditional state change therefore succeeds for exactly one of
// concurrent callers. The reader pool has several query_only connections.
//
// # PostgreSQL: isolation
//
// Transactions run at READ COMMITTED. Every state change that decides a race
// is one conditional statement — UPDATE … WHERE state = … RETURNING, or
// INSERT … ON CONFLICT — which PostgreSQL re-checks against the newest row
// version after waiting on the row lock, so the loser matches no row and gets
// store.ErrConflict. Where a read must precede the write, the read locks the
// row: RecordDevicePoll reads with SELECT … FOR UPDATE, RotateRefreshToken
// locks its grant with FOR SHARE against a concurrent RevokeGrant, and
// EnsureSigningKey takes a transaction advisory lock per algorithm. Nothing
// runs at SERIALIZABLE, but should a transaction fail with SQLSTATE 40001 or
// 40P01 (a deadlock) it is run again, up to four attempts in all (REL-09). A
// concurrent duplicate insert is store.ErrAlreadyExists, never a fault.
//
// # PostgreSQL: connections and timeouts
//
// OpenPostgres takes a postgres:// URL. One pool serves reads and writes:
//
//   - at most 2×GOMAXPROCS+4 open connections (8 on a 2-core machine), all of
//     which may stay idle: each request makes one or two short statements,
//     so a handful of connections per core keeps the CPUs busy while some
//     wait on the network or a row lock, and several instances together stay
//     well under PostgreSQL's default max_connections of 100. Override with
//     the URL parameter pool_max_conns.
//   - a connection is closed after 5 minutes idle (pool_max_conn_idle_time)
//     and after 30 minutes in any case (pool_max_conn_lifetime), so that the
//     pool follows a failover or a load balancer's changes.
//
// Each connection starts with statement_timeout=5s, so a statement that
// waits on a stuck database or a lock fails in bounded time instead of
// hanging (REL-01); idle_in_transaction_session_timeout=30s, so a stalled
// client cannot hold row locks; and connect_timeout=5 seconds. Any of these
// can be set in the URL instead, as can every libpq parameter pgx knows
// (sslmode, search_path, …). Ping checks the pool for readiness.
//
// # Schema
//
// Migrations are numbered, shared by both dialects (PostgreSQL reads BLOB as
// BYTEA), append-only and additive, so that an older grantd keeps running
// against a newer schema during a rolling upgrade (REL-19). schema_migrations
// records the versions applied, each in its own transaction that re-checks
// its version. On PostgreSQL the run also holds a session advisory lock on a
// connection of its own, so instances starting together apply each migration
// once; MigrateSQLite and MigratePostgres run them alone, for a migrate
// sub-command. Times are stored as BIGINT Unix nanoseconds in UTC, NULL for
// the zero time; lists are JSON arrays in TEXT columns; queries use $N
// placeholders.
//
// # Tests
//
// Both dialects run the whole storetest conformance suite. The PostgreSQL
// tests and benchmarks read GRANTD_TEST_POSTGRES, the URL of a scratch
// database, and skip when it is unset; each test works in a schema of its
// own, dropped when it ends.
package sqlstore
