package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/grantd/grantd/internal/store/sqlstore"
)

// migrateTimeout bounds how long `grantd migrate` waits, e.g. for another
// instance holding the migration lock.
const migrateTimeout = 2 * time.Minute

// migrate is `grantd migrate`: it brings the database's schema up to date
// and exits, for operators who migrate before starting instances. `serve`
// migrates on start as well; both take a lock, so running them together is
// safe.
func (e *environment) migrate(ctx context.Context, args []string) error {
	c := e.command("migrate", `usage: grantd migrate [--database PATH_OR_URL]

Brings the database's schema up to date and prints {"schema_version": N}.
serve also migrates on start; both hold a lock, so running them together is
safe, and migrations only add, so older instances keep running.
`)
	database := c.database()
	if _, err := c.parse(args); err != nil {
		return err
	}
	cfg, err := e.adminConfig(*database)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	logger := slog.New(logHandler(e.stderr, cfg.LogFormat, slog.LevelInfo))
	var version int
	if isPostgres(cfg.Database) {
		version, err = sqlstore.MigratePostgres(ctx, cfg.Database, logger)
	} else {
		version, err = sqlstore.MigrateSQLite(ctx, cfg.Database, logger)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return e.printJSON(struct {
		SchemaVersion int `json:"schema_version"`
	}{version})
}
