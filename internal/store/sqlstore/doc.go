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
//   - synchronous=NORMAL on the writer, and the fsync done by the
//     committer: a commit is fsynced before it is reported, so a consumed
//     device code or rotated refresh token cannot come back after power
//     loss (docs/SECURITY.md REL-07). NORMAL alone would lose recent commits;
//     the committer's own fsync of the log, after COMMIT and before any
//     answer, is what makes them durable (see "pipelined group commit").
//   - wal_autocheckpoint=100000 on the writer, a backstop only: the
//     checkpointer copies the log into the database file every 10,000
//     pages and restarts it every 30,000, off the writer's path (see
//     "checkpoints off the writer's path"), so that no COMMIT does.
//   - busy_timeout=5000: a connection waits up to five seconds for a lock held
//     by another process instead of failing with "database is locked"
//     (REL-08).
//   - foreign_keys=ON, for future references; the schema declares none yet,
//     because clients may come from configuration and users from an upstream
//     identity provider rather than from this database.
//
// The Store holds two pools. The writer pool has a single connection and
// starts every transaction with BEGIN IMMEDIATE, so a transaction takes the
// write lock before reading what it will change. The reader pool has several
// query_only connections.
//
// # SQLite: group commit
//
// Every write goes through one writer goroutine (committer). It takes the
// first queued write, yields once so that goroutines ready to run (on a
// busy core, requests on their way to a write) queue theirs too, drains
// whatever is queued (up to 128 writes, and no more once the batch's writes
// have run for 3 ms; the rest go into the next batch), runs them one
// after another in one BEGIN IMMEDIATE transaction, each inside a SAVEPOINT
// of its own, and COMMITs once: one fsync for the batch instead of one per
// write. Only once that fsync is done is any caller answered, so no caller
// hears of a write before it is durable. Writes queue meanwhile, so the
// busier the writer, the larger its batches.
//
//   - Writes of a batch run sequentially on one connection, each seeing the
//     ones before it, so a conditional state change still succeeds for
//     exactly one of concurrent callers, as it did when every write had a
//     transaction of its own.
//   - A write that fails — a duplicate key, a conditional update that lost,
//     a panic — is rolled back to its savepoint and answered with its own
//     error; the batch's other writes are not disturbed. A lone write needs
//     no savepoint: the transaction is rolled back instead.
//   - If COMMIT fails, or the transaction breaks (SQLite rolls it back after
//     an I/O error), every write that ran in it gets that error — even one
//     that lost a race, since the write it lost to is gone too and the loss
//     must not become a definitive answer (ErrConflict). Writes that had not
//     run yet go into the next batch.
//   - A caller's context is honoured until its write starts: a caller whose
//     context ends while its write is queued gets the context's error at
//     once, and the write is skipped. Once the write has started, its
//     statements run with a context that is never cancelled (an interrupted
//     statement would roll back everyone's transaction) and the caller
//     waits for the commit: its result stands, whatever its context did.
//   - Close lets queued writes finish; a write after Close gets an error.
//
// # SQLite: pipelined group commit
//
// The fsync does not hold up the next batch. The writer connection runs
// with synchronous=NORMAL, so its COMMIT writes the batch's pages to the
// write-ahead log without waiting for the disk, and hands the batch to a
// second goroutine, the syncer, while it goes on with the next batch. The
// syncer fsyncs the log — once for every batch committed meanwhile — and
// only then answers the batches' callers, in commit order. A write that
// lost to a batch still being synced (ErrConflict, say) is answered after
// that batch is durable too. A crash between a COMMIT and its fsync loses
// that batch, whose callers were not answered: SQLite's recovery drops a
// log tail that did not reach the disk whole (frames are checksummed), and
// no commit is reported that was not fsynced.
//
// On Linux the syncer's fsync goes through the kernel's asynchronous I/O
// (io_submit, IOCB_CMD_FSYNC) and waits on an eventfd in the Go runtime's
// poller: a blocking fsync would keep the goroutine's thread on the
// scheduler's P for the whole flush, and with grantd given one core that
// left it idle a tenth of the time under write load, with requests ready
// to run. The kernel does the same fsync on a worker thread; a kernel that
// refuses the command gets a blocking fsync (see aioSyncer), and the log
// says so: at Info when the store opens without asynchronous I/O, at Warn
// when the kernel starts refusing the command later.
//
// Between its COMMIT and its fsync a batch is visible to other
// connections, which is what the reads must not pass on: a device must
// not get access_denied, nor an introspection a revocation, that a crash
// could still undo. So every read on the reader pool (Store.read,
// readRow, queryAll) settles before it returns: the writer numbers each
// COMMIT before issuing it, a read takes the newest number once it has
// read, and waits until the syncer reports that number durable. With no
// fsync under way that is two atomic loads; under write load a read waits
// for at most the fsync in flight, which costs it time, not CPU. One read
// is spared the wait: a device poll that finds its grant pending or
// approved (readPoll). Pending tells the device nothing a crash could
// undo, and an approval reaches it only through the redemption that
// follows, a write answered after its own fsync, which makes the approval
// durable first: the log is fsynced in commit order.
//
// If an fsync fails, the store fails for good: the writes of the batches
// being synced get the error, and so does every write, read and Ping
// after it, until grantd restarts and SQLite recovers the log; Health
// reports it, so that /healthz fails and an orchestrator restarts grantd.
// Retrying would be wrong: Linux may drop pages it could not write and
// report the next fsync as a success.
//
// A file that cannot be opened is another matter: nothing was written or
// lost, so the store retries. The files it fsyncs, the log and the
// database file, are opened once and held (heldFile), so an fsync needs no
// new descriptor; should one be needed (SQLite made the log anew) and the
// process be out of them (EMFILE, under a burst of connections), the
// syncer retries for a second, answers the waiting writes with the error
// (never as durable), fails reads of what they wrote at once, and goes on
// retrying in the background until an fsync succeeds, which makes those
// writes durable after all. A checkpoint that cannot open the database
// file is retried at the next one.
//
// What this does not cover: PurgeExpired's deletions (its own short
// transactions on the writer connection, between batches) are not
// fsynced before readers see them; a crash can bring back an expired row,
// which every verb checks anyway. Two processes on one file (a rolling
// restart) each settle their own commits only; a read in one can see the
// other's last batch for the length of an fsync, and a write in the
// reading process fsyncs the same log file and so makes that batch
// durable before it answers.
//
// # SQLite: checkpoints off the writer's path
//
// A checkpoint copies the write-ahead log into the database file and
// fsyncs that file, after which SQLite can restart the log from its
// beginning. Left to SQLite, the COMMIT that takes the log past
// wal_autocheckpoint pages runs it, on the writer: every write then waits
// for the copy and the database file's fsync, 5 to 17 ms on the load
// harness's machine at 10,000 pages, two or three times a second under
// load. Those stalls were most of the write scenarios' p99.
//
// So the writer leaves checkpoints to the checkpointer (checkpoint.go):
// after each commit it reads how many pages the commit logged (SQLite's
// SQLITE_DBSTATUS_CACHE_WRITE) and, every 10,000 pages or 10 seconds with
// any, the checkpointer copies the log on a connection of its own and
// fsyncs the database file, beside the writer. Every third time, and when
// the writer is quiet, it then finishes on the writer's connection between
// two batches: it copies the few hundred pages committed meanwhile and
// fsyncs them, so that the whole log is copied when the writer's next
// transaction begins, which is when SQLite restarts the log (at about 30,000
// pages, 120 MB). The writer waits only for that last step. The copies are PASSIVE
// checkpoints: they take no lock a write or read waits for, and they fsync
// the log before copying from it, so they never put in the database file a
// commit the log could still lose. An I/O error fails the store, as a
// failed fsync of the log does.
//
// # SQLite: the copy in a process of its own
//
// A checkpoint's copy is CPU work in Go (SQLite here is Go code): some
// 10–30 ms of it, twice a second under write load. In grantd's process it
// would hold one of the Go scheduler's processors all that time, which the
// runtime takes back from it only every 10 ms; on a server with one core
// every request in flight then waits for it, and those waits were the
// write scenarios' p99. So when the store is opened with Options.Copier
// (grantd serve does: the same executable, run as `grantd sqlite-copier
// PATH`), the copies under load are made by a copier process, which opens
// the database file itself, as a second SQLite process may, and runs 10
// nice values below grantd: the kernel gives it the core when grantd
// leaves it idle, and about a tenth of it when grantd is busy, which is
// twice what the copies need at the load harness's rates, so they keep up.
// The checkpointer asks for one copy at a time over the copier's standard
// input and reads its answer from its standard output (ServeCopies);
// step 2 goes to the copier too (below), and step 3 stays in grantd, on
// the writer's connection. The
// copier is started at the first copy under load and stopped when the
// server is quiet (an idle grantd is one process), ends when its input
// does (so also when grantd dies), and its I/O error fails the store as
// one in grantd would. A copier that cannot start, exits, or leaves a
// copy unanswered for 30 seconds is reported once, and the copies are made in grantd from then on: they are
// the same PASSIVE checkpoint either way. In five interleaved pairs of
// the load harness (server on one core) the copier lowered device
// authorization's p99 in every pair (12–25 ms to 10–13 ms) and refresh's
// in every pair, by about a tenth; redemption's moved within its noise;
// the rates stayed the same. While it runs it holds 2–3 MB of its own:
// most of its 14 MB resident set is the executable's pages, which it
// shares with grantd.
//
// # SQLite: the database file's fsync in the copier
//
// Step 2, the fsync of the database file after a copy, hands the disk
// every page the copy wrote at once: 2–5 MB in some 190 requests on the
// load harness's virtual disk. Every fsync of the log issued meanwhile
// queues behind them, 12–23 ms instead of 2–3, and every write in flight
// waits for it: a timeline of one run put each cluster of slow device
// authorizations (all 32 connections' at once, some 1.3% of all, which
// made the p99) on one such fsync, at each checkpoint. And in grantd's
// process a blocking fsync holds the scheduler's P, on one core the
// whole server, until the runtime takes it back. So while a copier runs,
// the checkpointer asks it for step 2 as well ("sync"), and the copier
// writes the file back a quarter of a megabyte at a time, waiting for
// each (sync_file_range), before its fsync (writeBack): a fsync of the
// log then waits behind one chunk at most. Without a copier, or with one
// that does not know the request (from an older grantd, answered once
// with a warning), step 2 is an fsync in grantd, as before. The copier's
// I/O error fails the store as grantd's own would.
//
// # Device polls: soft bookkeeping
//
// A poll (PollDeviceGrant) costs no durable write. Its record — the time of a
// device code's last poll and its interval, raised by 5 seconds at each
// slow_down — is soft state: losing it in a crash is harmless. The device
// then gets one poll answered without slow_down (the last poll is unknown,
// so the next is treated as on time), and its interval falls back to the
// last one written to its row (the base interval, unless a graceful Close
// wrote a raised one back). slow_down only ever tells a device to poll less
// often; no token is issued or refused on account of the poll record, since
// issuance depends on the grant's state alone (approved, then issued in one
// conditional update), which stays durable.
//
// SQLite is served by one process, which keeps the record in memory in the
// Store (pollBook): a map keyed by device code hash, whose mutex orders the
// polls of a code (of 50 concurrent polls at one instant exactly one is on
// time, and each slow one raises the interval by 5 seconds). The map holds
// only codes that exist (an unknown code is never entered). As it grows it
// is pruned of the entries that decide nothing: expired codes, and codes
// never slowed down whose interval has passed since their last poll (their
// next poll is on time either way, at the row's interval). It is capped at
// about a million codes, beyond which arbitrary entries are dropped as a
// crash would drop them. Reads of a grant (DeviceGrantByDeviceCode,
// DeviceGrantByUserCode, DecideDeviceGrant) carry the map's interval and
// last poll; once an entry is pruned they show the row's. Close writes the
// map back to the rows, so a graceful restart keeps them.
//
// The map also remembers which grants are pending, with their client and
// expiry, learnt when this process creates a grant or a poll reads its row,
// so that PollDeviceGrant answers a pending code from memory without a
// SQLite read. Every decision or redemption by this process forgets the
// grant first (a generation counter keeps a read that began before the
// decision from marking it pending again), so within a process answers are
// exact. Two processes serving one file (a rolling restart) each keep their
// own map for its overlap: at most once a second a poll compares SQLite's
// data_version, which changes when another connection commits, and on a
// change everything cached is forgotten, so a decision made by the other
// process reaches this one's polls within about a second (the device sees
// authorization_pending once more, then its tokens). Expired codes are
// always read from the row.
//
// PostgreSQL serves several instances, so the record stays in the grant's
// row and is global: a poll is one statement that locks the row (FOR
// UPDATE inside a WITH), updates it, returns it as it was, and sets
// synchronous_commit off for its transaction, so the commit does not wait
// for the WAL flush. A PostgreSQL crash can lose the last few hundred
// milliseconds of such commits — a poll record, harmless as above — and
// never a durable write, which keeps synchronous_commit on.
//
// # Prepared statements
//
// The hot statements (device grant by hash, client, user and refresh token
// lookups; device grant, grant and refresh token inserts; redemption;
// rotation) are prepared once per pool when the Store opens. database/sql
// prepares each again on every connection of the pool the first time it
// runs there, and a transaction binds it with tx.StmtContext, which reuses
// its connection's. SQLite then parses these statements once per
// connection instead of once per request.
//
// # PostgreSQL: isolation
//
// Transactions run at READ COMMITTED. Every state change that decides a race
// is one conditional statement — UPDATE … WHERE state = … RETURNING, or
// INSERT … ON CONFLICT — which PostgreSQL re-checks against the newest row
// version after waiting on the row lock, so the loser matches no row and gets
// store.ErrConflict. Where a read must precede the write, the read locks the
// row: a poll locks its grant's row with FOR UPDATE, RotateRefreshToken
// locks its grant with FOR SHARE against a concurrent RevokeGrant, and
// EnsureSigningKey and RotateSigningKey take a transaction advisory lock per
// algorithm. Nothing runs at SERIALIZABLE, but should a transaction fail
// with SQLSTATE 40001 or 40P01 (a deadlock) it is run again, up to four
// attempts in all (REL-09). A concurrent duplicate insert is
// store.ErrAlreadyExists, never a fault.
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
