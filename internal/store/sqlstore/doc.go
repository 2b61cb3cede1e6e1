// Package sqlstore is grantd's SQL backend for store.Store. This file set is
// the SQLite dialect, through database/sql and modernc.org/sqlite.
//
// # Why modernc.org/sqlite
//
// modernc.org/sqlite is SQLite transpiled to Go: no cgo, so grantd stays one
// static binary that cross-compiles with GOOS/GOARCH alone and runs in a
// scratch container. It is slower than the C library, which does not matter
// at the write rates of an authorization server.
//
// # Durability and concurrency
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
// # Schema
//
// Migrations are numbered; schema_migrations records the versions applied,
// each in its own transaction. Times are stored as INTEGER (BIGINT) Unix
// nanoseconds in UTC, NULL for the zero time; lists are JSON arrays in TEXT
// columns; queries use $N placeholders. A PostgreSQL dialect can share the
// version numbers and most statements.
package sqlstore
