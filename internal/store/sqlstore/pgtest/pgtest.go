// Package pgtest gives tests a PostgreSQL schema of their own in the
// scratch database that GRANTD_TEST_POSTGRES names, for the tests of
// sqlstore and of the stores layered over it.
package pgtest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Env names the variable that holds the URL of a scratch database for the
// PostgreSQL tests, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const Env = "GRANTD_TEST_POSTGRES"

// URL creates a schema of its own in the database Env names, dropped when
// tb ends, and returns the URL with search_path set to it and with params,
// name and value pairs, set in its query. It skips tb when Env is unset.
func URL(tb testing.TB, params ...string) string {
	tb.Helper()
	base := os.Getenv(Env)
	if base == "" {
		tb.Skip(Env + " is unset: set it to a postgres:// URL of a scratch database " +
			"to run the PostgreSQL tests")
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		tb.Fatalf("%s: %v", Env, err)
	}
	admin := stdlib.OpenDB(*cfg)
	schema := "grantd_test_" + strings.ToLower(rand.Text())
	if _, err := admin.ExecContext(context.Background(), `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		admin.Close()
		tb.Fatalf("create test schema: %v", err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("drop test schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}
