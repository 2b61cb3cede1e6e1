// Command grantd is an OAuth 2.0 authorization server for devices: the
// device authorization grant (RFC 8628) and account linking (authorization
// code with PKCE), on an embedded SQLite store or a shared PostgreSQL.
//
//	grantd serve [--addr A] [--issuer URL] [--database PATH] [--demo]
//	grantd client create --id ID (--secret S | --public) [--name N] [--redirect-uri U]... [--grant-type T]... [--scope S]...
//	grantd user create --username NAME (--password PW | --password-stdin)
//	grantd scope set NAME --description TEXT [--hidden]
//	grantd scope list
//	grantd scope delete NAME
//	grantd migrate [--database PATH_OR_URL]
//	grantd keys list
//	grantd keys rotate [--alg ALG] [--publish-ahead D | --immediately]
//
// Every sub-command reads --database or GRANTD_DATABASE: a SQLite file path,
// or a postgres:// URL for several instances on one database.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/grantd/grantd/internal/store/sqlstore"
)

const usage = `usage:
  grantd serve [--addr ADDR] [--issuer URL] [--database PATH] [--demo]
  grantd client create --id ID (--secret SECRET | --public) [--name NAME]
                       [--redirect-uri URI]... [--grant-type TYPE]... [--scope SCOPE]...
                       [--auth-method METHOD] [--audience URI] [--introspect]
                       [--revoke-ends-grant]
  grantd user create --username NAME (--password PW | --password-stdin)
  grantd scope set NAME --description TEXT [--hidden] [--database PATH_OR_URL]
  grantd scope list [--database PATH_OR_URL]
  grantd scope delete NAME [--database PATH_OR_URL]
  grantd upstream create --id ID --issuer URL --client-id ID (--client-secret S | --client-secret-stdin)
                         [--scope SCOPE]... [--name NAME] [--claim-username CLAIM]
                         [--extra-param NAME=VALUE]... [--revocation-url URL]
  grantd upstream list
  grantd upstream delete ID
  grantd upstream test ID
  grantd secrets rekey --old-key-file FILE
  grantd migrate [--database PATH_OR_URL]
  grantd keys list [--database PATH_OR_URL]
  grantd keys rotate [--alg RS256|ES256|EdDSA] [--publish-ahead DURATION | --immediately]
                     [--database PATH_OR_URL]
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "grantd:", err)
		os.Exit(1)
	}
}

// run dispatches to a sub-command.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	env := &environment{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "serve":
		return env.serve(ctx, rest)
	case cmd == "client" && len(rest) > 0 && rest[0] == "create":
		return env.createClient(ctx, rest[1:])
	case cmd == "user" && len(rest) > 0 && rest[0] == "create":
		return env.createUser(ctx, rest[1:])
	case cmd == "scope" && len(rest) > 0 && rest[0] == "set":
		return env.setScope(ctx, rest[1:])
	case cmd == "scope" && len(rest) > 0 && rest[0] == "list":
		return env.listScopes(ctx, rest[1:])
	case cmd == "scope" && len(rest) > 0 && rest[0] == "delete":
		return env.deleteScope(ctx, rest[1:])
	case cmd == "keys" && len(rest) > 0 && rest[0] == "list":
		return env.listKeys(ctx, rest[1:])
	case cmd == "keys" && len(rest) > 0 && rest[0] == "rotate":
		return env.rotateKeys(ctx, rest[1:])
	case cmd == "upstream" && len(rest) > 0 && rest[0] == "create":
		return env.createUpstream(ctx, rest[1:])
	case cmd == "upstream" && len(rest) > 0 && rest[0] == "list":
		return env.listUpstreams(ctx, rest[1:])
	case cmd == "upstream" && len(rest) > 0 && rest[0] == "delete":
		return env.deleteUpstream(ctx, rest[1:])
	case cmd == "upstream" && len(rest) > 0 && rest[0] == "test":
		return env.testUpstream(ctx, rest[1:])
	case cmd == "secrets" && len(rest) > 0 && rest[0] == "rekey":
		return env.rekey(ctx, rest[1:])
	case cmd == "migrate":
		return env.migrate(ctx, rest)
	case cmd == copierSubcommand && len(rest) == 1:
		return sqlstore.ServeCopies(ctx, rest[0], stdin, stdout)
	case cmd == "help" || cmd == "-h" || cmd == "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// environment is what a sub-command may touch of the outside world.
type environment struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
