package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
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
	forShare:        " FOR SHARE",
	uniqueViolation: func(err error) bool { return pgCode(err) == "23505" },
	retryable:       postgresRetryable,
	serialize: func(ctx context.Context, tx *sql.Tx, name string) error {
		_, err := tx.ExecContext(ctx,
			`SELECT pg_advisory_xact_lock(hashtextextended(COALESCE(current_schema(), '') || ' ' || $1, 0))`,
			"grantd "+name)
		return err
	},
	migrations: migrations,
	ddl:        postgresDDL,
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
	return &Store{path: redacted, logger: logger, d: postgresDialect, w: db, r: db, st: st}, nil
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
