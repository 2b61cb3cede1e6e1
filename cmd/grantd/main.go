// Command grantd is an OAuth 2.0 authorization server for devices: the
// device authorization grant (RFC 8628) and account linking (authorization
// code with PKCE), on an embedded SQLite store or a shared PostgreSQL.
//
//	grantd serve [--addr A] [--issuer URL] [--database PATH] [--demo]
//	grantd client create|list|show|update|delete|rotate-secret|disable|enable
//	grantd user create|list|show|set-password|disable|enable|delete
//	grantd grant list|revoke
//	grantd scope set|list|delete
//	grantd upstream create|list|delete|test
//	grantd secrets rekey
//	grantd keys list|rotate
//	grantd migrate
//	grantd version
//
// `grantd COMMAND --help` describes each. Every command that touches state
// reads --database or GRANTD_DATABASE: a SQLite file path, or a
// postgres:// URL for several instances on one database. A usage error
// exits with status 2, any other failure with status 1.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

const usage = `usage: grantd COMMAND [SUB-COMMAND] [ARGUMENTS] [--FLAGS]

commands:
  serve                 run the server
  client create         register a client
  client list           list the clients
  client show ID        show a client
  client update ID      change a client's settings
  client rotate-secret ID   give a client a new secret, the old one kept for --grace
  client disable ID     refuse a client until enabled again
  client enable ID      accept a disabled client again
  client delete ID      delete a client, its grants and tokens
  user create           create a local account
  user list             list the users
  user show USER        show a user (USER: an id or a user name)
  user set-password USER    set a user's password, read from standard input
  user disable USER     refuse a user and end their sessions, grants and tokens
  user enable USER      let a disabled user sign in again
  user delete USER      delete a user with their sessions, grants and tokens
  grant list            list the grants of a user or a client
  grant revoke ID       revoke a grant and its tokens (or --user USER: all of a user's)
  scope set NAME        describe a scope in words, for the approval pages
  scope list            list the scopes in force
  scope delete NAME     delete a scope's stored description
  upstream create       add an OpenID Connect provider to sign in with
  upstream list         list the providers
  upstream delete ID    remove a provider
  upstream test ID      check a provider and say what to fix
  secrets rekey         seal the stored secrets again under a new key
  keys list             list the signing keys
  keys rotate           schedule new signing keys
  migrate               bring the database's schema up to date
  version               print grantd's version

'grantd COMMAND --help' describes a command and its flags. Every command but
serve, version and help prints JSON on standard output. Flags are written
--name VALUE or --name=VALUE. Exit status: 0 done, 1 failed, 2 usage error.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err, if any, on one line and returns the exit status: 0
// for none (or help printed), 2 for a usage error, 1 for anything else.
func exitCode(err error, stderr io.Writer) int {
	var usageErr *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &usageErr) && usageErr.cmd != "":
		fmt.Fprintf(stderr, "grantd: %s (see grantd %s --help)\n", usageErr.msg, usageErr.cmd)
		return 2
	case errors.As(err, &usageErr):
		fmt.Fprintf(stderr, "grantd: %s\n", usageErr.msg)
		return 2
	}
	fmt.Fprintln(stderr, "grantd:", err)
	return 1
}

// action runs a command with the arguments after its name.
type action = func(*environment, context.Context, []string) error

// group is a command with sub-commands, such as client or user.
type group struct {
	usage string
	subs  map[string]action
}

// groups are the commands with sub-commands.
var groups = map[string]group{
	"client": {clientUsage, map[string]action{
		"create": (*environment).createClient, "list": (*environment).listClients, "show": (*environment).showClient,
		"update": (*environment).updateClient, "delete": (*environment).deleteClient,
		"rotate-secret": (*environment).rotateSecret, "disable": (*environment).disableClient,
		"enable": (*environment).enableClient,
	}},
	"user": {userUsage, map[string]action{
		"create": (*environment).createUser, "list": (*environment).listUsers, "show": (*environment).showUser,
		"set-password": (*environment).setPassword, "disable": (*environment).disableUser,
		"enable": (*environment).enableUser, "delete": (*environment).deleteUser,
	}},
	"grant": {grantUsage, map[string]action{
		"list": (*environment).listGrants, "revoke": (*environment).revokeGrants,
	}},
	"scope": {scopeUsage, map[string]action{
		"set": (*environment).setScope, "list": (*environment).listScopes, "delete": (*environment).deleteScope,
	}},
	"upstream": {upstreamUsage, map[string]action{
		"create": (*environment).createUpstream, "list": (*environment).listUpstreams,
		"delete": (*environment).deleteUpstream, "test": (*environment).testUpstream,
	}},
	"secrets": {secretsUsage, map[string]action{
		"rekey": (*environment).rekey,
	}},
	"keys": {keysUsage, map[string]action{
		"list": (*environment).listKeys, "rotate": (*environment).rotateKeys,
	}},
}

// commands are the commands without sub-commands.
var commands = map[string]action{
	"serve":   (*environment).serve,
	"migrate": (*environment).migrate,
	"version": (*environment).version,
}

// run dispatches to a command.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	env := &environment{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		return &usageError{msg: "no command given; grantd --help lists them"}
	}
	name, rest := args[0], args[1:]
	if cmd, ok := commands[name]; ok {
		return cmd(env, ctx, rest)
	}
	if g, ok := groups[name]; ok {
		return g.run(ctx, env, name, rest)
	}
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && name == "help" {
			return run(ctx, append(rest, "--help"), getenv, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return nil
	case "--version", "-version":
		return env.version(ctx, nil)
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q; grantd --help lists the commands", name)}
}

// run dispatches to one of g's sub-commands.
func (g group) run(ctx context.Context, env *environment, name string, args []string) error {
	var subs []string
	for s := range g.subs {
		subs = append(subs, s)
	}
	slices.Sort(subs)
	if len(args) == 0 {
		return usagef(name, "give a sub-command: %s", strings.Join(subs, ", "))
	}
	switch sub := args[0]; {
	case sub == "-h" || sub == "-help" || sub == "--help" || sub == "help":
		fmt.Fprint(env.stdout, g.usage)
		return nil
	case g.subs[sub] != nil:
		return g.subs[sub](env, ctx, args[1:])
	default:
		return usagef(name, "unknown sub-command %q; want one of %s", sub, strings.Join(subs, ", "))
	}
}

// environment is what a command may touch of the outside world.
type environment struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}
