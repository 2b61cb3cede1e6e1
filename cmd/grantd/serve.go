package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/buildinfo"
	"github.com/grantd/grantd/internal/config"
	"github.com/grantd/grantd/internal/httpserver"
	"github.com/grantd/grantd/internal/logbuf"
	"github.com/grantd/grantd/internal/metrics"
	"github.com/grantd/grantd/internal/ratelimit"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/memstore"
	"github.com/grantd/grantd/internal/store/pollrecord"
	"github.com/grantd/grantd/internal/store/sqlstore"
)

// The server's log is written at least every logFlushInterval, in writes
// of up to logBuffer bytes.
const (
	logBuffer        = 64 << 10
	logFlushInterval = 100 * time.Millisecond
)

// serve is `grantd serve`.
func (e *environment) serve(ctx context.Context, args []string) error {
	c := e.command("serve", `usage: grantd serve [--addr ADDR] [--issuer URL] [--database PATH_OR_URL] [--demo]

Runs the server until SIGTERM or Ctrl-C, then stops gracefully. Flags win
over the environment (GRANTD_ADDR, GRANTD_ISSUER, GRANTD_DATABASE); every
other setting is read from the environment (see the README's
"Configuration"). Logs go to standard error, as GRANTD_LOG_FORMAT says.
`)
	var o config.Overrides
	c.StringVar(&o.Addr, "addr", "", "listen `ADDR`, host:port (default $GRANTD_ADDR or 127.0.0.1:8080)")
	c.StringVar(&o.Issuer, "issuer", "", "issuer `URL` (default $GRANTD_ISSUER or http://ADDR)")
	c.StringVar(&o.Database, "database", "", "SQLite file path or postgres:// `URL` (default $GRANTD_DATABASE or grantd.db); "+
		"memory: for a demo that keeps nothing")
	demo := c.Bool("demo", false, "create a demo device client and user (once) and print their credentials")
	if _, err := c.parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(e.getenv, o)
	if err != nil {
		return err
	}
	// The access log is batched (package logbuf): one write system call per
	// request was a tenth of a request's cost. Warnings go out at once.
	logw := logbuf.New(e.stderr, logBuffer, logFlushInterval)
	defer logw.Close()
	logger := slog.New(logbuf.Handler(logHandler(logw, cfg.LogFormat, slog.LevelInfo), logw))
	setMemoryLimit(e.getenv, logger)
	raw, database, err := openServedStore(ctx, cfg.Database, logger)
	if err != nil {
		return err
	}
	defer raw.Close()
	sealer, err := loadSealer(cfg)
	if err != nil {
		return err
	}
	if err := needSealer(ctx, raw, sealer); err != nil {
		return err
	}
	build := buildinfo.Read()
	var rec *metrics.Recorder // nil: metrics off, and instrumenting costs a nil check
	if cfg.MetricsAddr != "" {
		rec = metrics.New(metrics.Options{ClientLabels: cfg.MetricsClientLabels, Version: build.Version, Revision: build.Revision,
			Collectors: []prometheus.Collector{collectors.NewGoCollector(),
				collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}})
	}
	st := metrics.Store(raw, rec)
	opts := httpserver.Options{Config: cfg, Store: st, Logger: logger, Now: time.Now, Rand: rand.Reader, Sealer: sealer,
		Metrics: rec}
	if isPostgres(cfg.Database) {
		// Several instances may share this database: every attempt budget
		// is kept in it, so none is multiplied by the number of instances.
		opts.Limiter = ratelimit.Shared{Attempts: st}
	}
	srv, err := httpserver.New(ctx, opts)
	if err != nil {
		return err
	}
	if err := serveExtras(ctx, cfg, rec, logger); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	logger.Info("grantd listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "database", database,
		"version", build.Version, "revision", build.Revision)
	logw.Flush() // the line operators and scripts wait for
	if *demo {
		d, err := admin.EnsureDemo(ctx, st, rand.Reader, time.Now())
		if err != nil {
			ln.Close()
			return err
		}
		e.printDemo(cfg, d)
	}
	return srv.Serve(ctx, ln)
}

// defaultMemoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT
// does not set one: the garbage collector works harder as the heap nears
// it, so that memory a burst took (password checks, say) goes back soon.
// It is not a cap: a server that needs more gets more.
const defaultMemoryLimit = 256 << 20

// setMemoryLimit sets the soft memory limit to defaultMemoryLimit unless
// GOMEMLIMIT, which the runtime reads itself, is set.
func setMemoryLimit(getenv func(string) string, logger *slog.Logger) {
	if getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
	logger.Debug("soft memory limit", "bytes", defaultMemoryLimit)
}

// printDemo prints the demo's outputs, as a deployment prints its outputs.
func (e *environment) printDemo(cfg config.Config, d admin.DemoOutputs) {
	shown := func(v string) string {
		if v == "" {
			return "(set when first created; stored only as a hash)"
		}
		return v
	}
	rows := [][2]string{
		{"DeviceClientId", d.ClientID},
		{"DeviceClientSecret", shown(d.ClientSecret)},
		{"DeviceAuthorizationEndpoint", cfg.Issuer + httpserver.DeviceAuthorizationPath},
		{"TokenEndpoint", cfg.Issuer + httpserver.TokenPath},
		{"VerificationURL", cfg.Issuer + httpserver.VerificationPath},
		{"DemoUsername", d.Username},
		{"DemoUserId", d.UserID},
		{"DemoPassword", shown(d.Password)},
	}
	var b strings.Builder
	b.WriteString("grantd demo outputs:\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-28s %s\n", r[0], r[1])
	}
	fmt.Fprint(e.stdout, b.String())
}

// openStore opens the store a sub-command's --database names.
func (e *environment) openStore(ctx context.Context, flagValue string) (*sqlstore.Store, error) {
	cfg, err := e.adminConfig(flagValue)
	if err != nil {
		return nil, err
	}
	return openStore(ctx, cfg.Database, slog.New(logHandler(e.stderr, cfg.LogFormat, slog.LevelWarn)))
}

// operator opens the store a sub-command's --database names and returns an
// Operator on it, whose audit events go to standard error, and a function
// that closes the store.
func (e *environment) operator(ctx context.Context, database string) (*admin.Operator, func(), error) {
	_, op, done, err := e.configuredOperator(ctx, database)
	return op, done, err
}

// configuredOperator is operator, with the settings it loaded.
func (e *environment) configuredOperator(ctx context.Context, database string) (config.Config, *admin.Operator, func(), error) {
	cfg, err := e.adminConfig(database)
	if err != nil {
		return config.Config{}, nil, nil, err
	}
	st, err := openStore(ctx, cfg.Database, slog.New(logHandler(e.stderr, cfg.LogFormat, slog.LevelWarn)))
	if err != nil {
		return config.Config{}, nil, nil, err
	}
	actor := "cli"
	if u := e.getenv("USER"); u != "" {
		actor += ":" + u
	}
	op := &admin.Operator{Store: st, Rand: rand.Reader, Now: time.Now, Actor: actor,
		Logger: slog.New(logHandler(e.stderr, cfg.LogFormat, slog.LevelInfo))}
	return cfg, op, func() { st.Close() }, nil
}

// warn prints warnings on standard error.
func (e *environment) warn(warnings []string) {
	for _, w := range warnings {
		fmt.Fprintln(e.stderr, "grantd: warning:", w)
	}
}

// logHandler returns a handler that writes records of level and above to w
// as format says: text (key=value) or json.
func logHandler(w io.Writer, format string, level slog.Level) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// isPostgres reports whether database is a PostgreSQL URL rather than a
// SQLite file path.
func isPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// memoryDatabase is the database that serve keeps in its own memory
// (package memstore): for tests and demos, lost when the process exits.
const memoryDatabase = "memory:"

// errMemoryElsewhere refuses a command other than serve on the memory
// database, which lives inside one serve process that no other process can
// reach.
var errMemoryElsewhere = &usageError{msg: "database " + memoryDatabase + " lives inside one grantd serve process and is " +
	"lost when it exits: this command runs in a process of its own and can reach none of it; give a SQLite file or a " +
	"postgres:// URL (--database or GRANTD_DATABASE)"}

// adminConfig loads the settings of a command other than serve, whose
// --database is flagValue, refusing the memory database.
func (e *environment) adminConfig(flagValue string) (config.Config, error) {
	cfg, err := config.Load(e.getenv, config.Overrides{Database: flagValue})
	if err != nil {
		return config.Config{}, err
	}
	if cfg.Database == memoryDatabase {
		return config.Config{}, errMemoryElsewhere
	}
	return cfg, nil
}

// openServedStore opens the store serve runs on, and returns it with the
// name of its database for the start-up line (a PostgreSQL URL without its
// password). The memory database gets a memory store, and a warning that
// nothing is kept; a SQLite file gets its device polls recorded in memory
// (package pollrecord); PostgreSQL, whose instances share the poll record
// in the grants' rows, neither.
func openServedStore(ctx context.Context, database string, logger *slog.Logger) (store.Store, string, error) {
	if database == memoryDatabase {
		logger.Warn("database memory: keeps everything in this process's memory: it is all lost when grantd exits, " +
			"and no other process (grantd client, user, keys …) can reach it; for tests and demos only")
		return memstore.New(), memoryDatabase, nil
	}
	st, err := openStore(ctx, database, logger)
	if err != nil {
		return nil, "", err
	}
	if isPostgres(database) {
		// Instances share the poll record in the grants' rows.
		return st, st.Path(), nil
	}
	// SQLite: device polls are recorded in memory (package pollrecord).
	return pollrecord.New(st, pollrecord.WithLogger(logger)), st.Path(), nil
}

// openStore opens SQLite or PostgreSQL, migrating the schema as needed. It
// refuses the memory database, which is serve's alone.
func openStore(ctx context.Context, database string, logger *slog.Logger) (*sqlstore.Store, error) {
	if database == memoryDatabase {
		return nil, errMemoryElsewhere
	}
	var st *sqlstore.Store
	var err error
	if isPostgres(database) {
		st, err = sqlstore.OpenPostgres(ctx, database, logger)
	} else {
		st, err = sqlstore.Open(ctx, database, logger)
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return st, nil
}
