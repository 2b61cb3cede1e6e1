package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/grantd/grantd/internal/store"
)

// PostgreSQL connection defaults (see doc.go). Each can be overridden by the
// URL parameter of the same name.
var postgresDefaults = map[string]string{
	// A statement that runs or waits for a lock longer than this fails, so a
	// stuck database yields an error in bounded time (REL-01).
	"statement_timeout": "5s",
	// A session that stays idle inside a transaction this long is ended, so
	// that a stalled instance cannot hold row locks indefinitely.
	"idle_in_transaction_session_timeout": "30s",
	// Seconds to establish a connection, TLS and authentication included.
	"connect_timeout": "5",
}

// Pool parameters: read from the URL (with the names pgxpool uses) and
// removed from it before pgx sees it, which would otherwise send them to the
// server as settings.
const (
	paramMaxConns        = "pool_max_conns"
	paramMaxConnLifetime = "pool_max_conn_lifetime"
	paramMaxConnIdleTime = "pool_max_conn_idle_time"

	defaultMaxConnLifetime = 30 * time.Minute
	defaultMaxConnIdleTime = 5 * time.Minute
)

// migrationLockTimeout bounds how long a migration's DDL waits for a table
// lock held by live traffic, so that it fails instead of queueing every
// query of every instance behind it.
const migrationLockTimeout = "15s"

// postgresDialect runs at READ COMMITTED: state changes are single
// conditional statements (UPDATE … WHERE … RETURNING, INSERT … ON CONFLICT),
// and a read that precedes a write locks its row (SELECT … FOR UPDATE).
var postgresDialect = &dialect{
	name:            "postgres",
	uniqueViolation: func(err error) bool { return pgCode(err) == "23505" },
	forShare:        " FOR SHARE",
	lockGrant: func(ctx context.Context, tx *sql.Tx, id string) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM grants WHERE id = $1 FOR SHARE`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) { // a family older than grants
			return nil
		}
		return err
	},
	serialize: func(ctx context.Context, tx *sql.Tx, name string) error {
		_, err := tx.ExecContext(ctx,
			`SELECT pg_advisory_xact_lock(hashtextextended(COALESCE(current_schema(), '') || ' ' || $1, 0))`,
			"grantd "+name)
		return err
	},
	pollQuery:   pollInRow,
	poll:        postgresPoll,
	dataVersion: func(context.Context, *sql.Tx) (int64, error) { return 0, errors.ErrUnsupported },
	migrations:  migrations,
	ddl:         postgresDDL,
}

// pgCode returns err's SQLSTATE, or "" when err is not from the server.
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// postgresRetryable reports a serialisation failure (40001) or a deadlock
// (40P01): the transaction was rolled back and may be run again (REL-09).
func postgresRetryable(err error) bool {
	code := pgCode(err)
	return code == "40001" || code == "40P01"
}

// maxAttempts bounds how many times a transaction that failed with a
// retryable error is run (REL-09).
const maxAttempts = 4

// postgresRunner runs each write transaction on the pool, again after a
// serialisation failure or a deadlock.
type postgresRunner struct {
	db     *sql.DB
	logger *slog.Logger
}

func (r postgresRunner) tx(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return r.retry(ctx, op, func() error {
		tx, err := r.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		if err := fn(ctx, tx); err != nil {
			_ = tx.Rollback() // the error that matters is fn's
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
}

func (r postgresRunner) write(ctx context.Context, op string, fn func(ctx context.Context, q queryer) error) error {
	return r.retry(ctx, op, func() error { return fn(ctx, autocommit{r.db}) })
}

// purge runs fn on a connection that holds the purge lock, so that
// instances sharing the database purge one at a time; an instance that
// finds the lock taken skips this round. A session lock rather than a
// transaction-level one lets each of fn's statements be its own short
// transaction, so that row locks are released between them; the lock ends
// with the connection if unlocking fails.
func (r postgresRunner) purge(ctx context.Context, fn func(ctx context.Context, e execer) (int64, error)) (int64, error) {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("purge expired: connect: %w", err)
	}
	defer conn.Close()
	var locked bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(`+purgeLockKey+`)`).Scan(&locked); err != nil {
		return 0, fmt.Errorf("purge expired: take lock: %w", err)
	}
	if !locked {
		r.logger.DebugContext(ctx, "purge skipped: another instance is purging")
		return 0, nil
	}
	defer func() {
		_, err := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+purgeLockKey+`)`)
		if err != nil {
			// Discard the connection: ending its session releases the lock.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return fn(ctx, retrying{conn, r})
}

// purgeLockKey is the key of the advisory lock that lets one instance at a
// time purge a schema.
const purgeLockKey = `hashtextextended('grantd purge expired ' || COALESCE(current_schema(), ''), 0)`

func (postgresRunner) health() error { return nil }

func (postgresRunner) close() error { return nil }

// retry runs run again after a retryable error (a serialisation failure
// or a deadlock, REL-09), up to maxAttempts times in all, waiting a little
// longer after each.
func (r postgresRunner) retry(ctx context.Context, op string, run func() error) error {
	for attempt := 1; ; attempt++ {
		err := run()
		if err == nil || attempt == maxAttempts || !postgresRetryable(err) || backOff(ctx, attempt) != nil {
			return err
		}
		r.logger.DebugContext(ctx, "retrying", "op", op, "attempt", attempt, "err", err)
	}
}

// backOff waits a little longer after each failed attempt, or until ctx
// ends.
func backOff(ctx context.Context, attempt int) error {
	t := time.NewTimer(time.Duration(attempt) * 5 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retrying is an execer that runs each statement on e again after a
// retryable error (a deadlock with live traffic, REL-09).
type retrying struct {
	e execer
	r postgresRunner
}

func (x retrying) ExecContext(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	err = x.r.retry(ctx, "purge", func() (err error) {
		res, err = x.e.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// pollInRow is PostgreSQL's poll of a device grant, where the poll record
// lives in the grant's row so that every instance sees it, as one statement
// and so one round trip. It locks the grant's row (FOR UPDATE), returns its
// poll columns as they were before the poll and whether the poll came too
// soon, and records the poll if $2 names the grant's client: the last poll
// is $3, and the interval grows by $4 when the poll came sooner than the
// interval after the one before (RFC 8628 §3.5). Concurrent polls of a
// grant queue on the row lock, and at READ COMMITTED each then reads and
// updates the row as the one before left it, so none is lost. The
// transaction commits without waiting for the WAL flush (set_config:
// synchronous_commit off for the transaction), as poll bookkeeping is soft.
const pollInRow = `WITH old AS (SELECT ` + devicePollColumns + ` FROM device_grants WHERE device_code_hash = $1 FOR UPDATE),
	poll AS (UPDATE device_grants g SET last_polled_at = $3::bigint,
			poll_interval_ns = old.poll_interval_ns + CASE WHEN ` + pollTooSoon + ` THEN $4::bigint ELSE 0 END
		FROM old WHERE g.device_code_hash = $1 AND old.client_id = $2::text)
	SELECT ` + devicePollColumns + `, ` + pollTooSoon + `, set_config('synchronous_commit', 'off', true) FROM old`

// pollTooSoon is true when the grant is pending and unexpired and the poll
// at $3 comes too soon after the last one: store.PollTooSoon in SQL, with
// its tolerance of a second or a fifth of the interval.
const pollTooSoon = `old.state = 'pending' AND old.expires_at > $3::bigint AND old.last_polled_at IS NOT NULL AND
	$3::bigint - old.last_polled_at < old.poll_interval_ns - LEAST(1000000000, old.poll_interval_ns / 5)`

// postgresPoll runs pollInRow for a poll at now by clientID, and reports
// slow_down only for a poll it recorded.
func postgresPoll(ctx context.Context, s *Store, deviceCodeHash, clientID string, now time.Time) (store.DeviceGrant, bool, error) {
	var (
		g          store.DeviceGrant
		tooSoon    bool
		syncCommit string
	)
	err := s.run.write(ctx, "poll device grant", func(ctx context.Context, q queryer) (err error) {
		row := q.StmtContext(ctx, s.st.poll).QueryRowContext(ctx, deviceCodeHash, clientID, nanos(now), int64(slowDownStep))
		g, err = scanDevicePoll(scanAlso{row, []any{&tooSoon, &syncCommit}})
		return err
	})
	if err != nil {
		return store.DeviceGrant{}, false, err
	}
	return g, tooSoon && g.ClientID == clientID, nil
}

// pool is the connection pool's sizing.
type pool struct {
	maxConns                 int
	maxLifetime, maxIdleTime time.Duration
}

// OpenPostgres connects to the PostgreSQL database at rawURL (postgres:// or
// postgresql://), applies pending schema migrations under an advisory lock
// (see MigratePostgres), and returns a store whose pool is sized as doc.go
// describes. A nil logger discards logs.
func OpenPostgres(ctx context.Context, rawURL string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, p, redacted, err := parsePostgresURL(rawURL)
	if err != nil {
		return nil, err
	}
	if _, err := migratePostgres(ctx, cfg, logger.With("database", redacted)); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", redacted, err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(p.maxConns)
	db.SetMaxIdleConns(p.maxConns)
	db.SetConnMaxLifetime(p.maxLifetime)
	db.SetConnMaxIdleTime(p.maxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s: %w", redacted, err)
	}
	st, err := prepareStatements(ctx, db, db, postgresDialect)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s: %w", redacted, err)
	}
	return &Store{path: redacted, logger: logger, d: postgresDialect, run: postgresRunner{db, logger}, w: db, r: db, st: st}, nil
}

// MigratePostgres applies pending schema migrations to the PostgreSQL
// database at rawURL and returns the schema version it is at. It is safe
// when several instances start at once: the run holds a session advisory
// lock, on a connection of its own, keyed by the current schema; whoever
// waits for it then finds the migrations recorded and applies none. Pass a
// ctx with a deadline to bound that wait. OpenPostgres does the same; this
// is for the migrate sub-command.
func MigratePostgres(ctx context.Context, rawURL string, logger *slog.Logger) (int, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, _, redacted, err := parsePostgresURL(rawURL)
	if err != nil {
		return 0, err
	}
	v, err := migratePostgres(ctx, cfg, logger.With("database", redacted))
	if err != nil {
		return 0, fmt.Errorf("migrate %s: %w", redacted, err)
	}
	return v, nil
}

// migratePostgres runs the migrations on a dedicated connection that holds
// the migration lock. Closing the connection releases the lock even when
// unlocking fails.
func migratePostgres(ctx context.Context, cfg *pgx.ConnConfig, logger *slog.Logger) (int, error) {
	mcfg := cfg.Copy()
	mcfg.RuntimeParams["statement_timeout"] = "0" // DDL may be slow; ctx bounds the run
	db := stdlib.OpenDB(*mcfg)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	const key = `hashtextextended('grantd schema migrations ' || COALESCE(current_schema(), ''), 0)`
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		return 0, fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// The lock must not outlive the run; a failed unlock is released
		// when db.Close ends the session.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+key+`)`)
	}()
	if _, err := conn.ExecContext(ctx, `SET lock_timeout = '`+migrationLockTimeout+`'`); err != nil {
		return 0, fmt.Errorf("set lock_timeout: %w", err)
	}
	return migrateDB(ctx, conn, postgresDialect, logger)
}

// parsePostgresURL parses a postgres:// URL into a pgx configuration with the
// connection defaults applied and the pool parameters taken out, and returns
// the URL without its password for logs.
func parsePostgresURL(rawURL string) (*pgx.ConnConfig, pool, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, pool{}, "", errors.New("postgres database: need a postgres:// or postgresql:// URL")
	}
	redacted := u.Redacted()
	q := u.Query()
	p, err := poolFromQuery(q)
	if err != nil {
		return nil, pool{}, "", fmt.Errorf("postgres database %s: %w", redacted, err)
	}
	for k, v := range postgresDefaults {
		if !q.Has(k) {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		// pgx's message quotes the URL, redacting the password only as far
		// as it can; its cause does not.
		if cause := errors.Unwrap(err); cause != nil {
			return nil, pool{}, "", fmt.Errorf("postgres database %s: invalid connection settings: %w", redacted, cause)
		}
		return nil, pool{}, "", fmt.Errorf("postgres database %s: invalid connection settings", redacted)
	}
	return cfg, p, redacted, nil
}

// poolFromQuery reads and removes the pool parameters of q.
func poolFromQuery(q url.Values) (pool, error) {
	p := pool{
		maxConns:    2*runtime.GOMAXPROCS(0) + 4,
		maxLifetime: defaultMaxConnLifetime,
		maxIdleTime: defaultMaxConnIdleTime,
	}
	if v := q.Get(paramMaxConns); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return pool{}, fmt.Errorf("%s=%q: need a positive integer", paramMaxConns, v)
		}
		p.maxConns = n
	}
	for name, dst := range map[string]*time.Duration{
		paramMaxConnLifetime: &p.maxLifetime,
		paramMaxConnIdleTime: &p.maxIdleTime,
	} {
		if v := q.Get(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return pool{}, fmt.Errorf("%s=%q: need a positive duration such as 30m", name, v)
			}
			*dst = d
		}
	}
	q.Del(paramMaxConns)
	q.Del(paramMaxConnLifetime)
	q.Del(paramMaxConnIdleTime)
	return p, nil
}

// blobType matches the SQLite type name that PostgreSQL spells BYTEA.
var blobType = regexp.MustCompile(`\bBLOB\b`)

// postgresDDL returns the statements PostgreSQL runs for m.
func postgresDDL(m migration) []string {
	if m.postgres != nil {
		return m.postgres
	}
	pg := make([]string, len(m.statements))
	for i, stmt := range m.statements {
		pg[i] = blobType.ReplaceAllString(stmt, "BYTEA")
	}
	return pg
}
