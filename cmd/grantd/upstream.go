package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/federation"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/upstream"
)

const upstreamUsage = `usage: grantd upstream SUB-COMMAND [ARGUMENTS] [--FLAGS]

  create         add an OpenID Connect provider users may sign in with
  list           list the providers
  delete ID      remove a provider (its users stay, unable to sign in through it)
  test ID        check a provider as grantd will use it, and say what to fix

Running servers see a change at once.
'grantd upstream SUB-COMMAND --help' describes each.
`

// upstreamView is an upstream as the upstream commands print it: never its
// secret.
type upstreamView struct {
	ID            string            `json:"id"`
	Name          string            `json:"name,omitempty"`
	Issuer        string            `json:"issuer"`
	ClientID      string            `json:"client_id"`
	ClientSecret  bool              `json:"client_secret"` // whether there is one (sealed)
	Scopes        []string          `json:"scopes"`
	UsernameClaim string            `json:"username_claim,omitempty"`
	ExtraParams   map[string]string `json:"extra_params,omitempty"`
	RevocationURL string            `json:"revocation_url,omitempty"`
	RedirectURI   string            `json:"redirect_uri"` // to register at the upstream
}

func viewUpstream(u store.Upstream, issuer string) upstreamView {
	return upstreamView{u.ID, u.Name, u.Issuer, u.ClientID, u.ClientSecret != "", u.Scopes, u.UsernameClaim,
		u.ExtraParams, u.RevocationURL, issuer + federation.CallbackPath}
}

// keyValues is a repeatable NAME=VALUE flag.
type keyValues map[string]string

func (kv keyValues) String() string { return fmt.Sprint(map[string]string(kv)) }
func (kv keyValues) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want NAME=VALUE", v)
	}
	kv[k] = val
	return nil
}

// createUpstream is `grantd upstream create`.
func (e *environment) createUpstream(ctx context.Context, args []string) error {
	c := e.command("upstream create", `usage: grantd upstream create --id ID --issuer URL --client-id ID
                              (--client-secret SECRET | --client-secret-stdin)
                              [--scope SCOPE]... [--name NAME] [--claim-username CLAIM]
                              [--extra-param NAME=VALUE]... [--revocation-url URL]

Adds an OpenID Connect provider (Amazon Cognito, Keycloak, Google...) and
prints it, with the redirect_uri to register at the provider. The client
secret is sealed under the secret key (GRANTD_SECRET_KEY_FILE) before it is
stored. The sign-in page shows a button for each provider. Run
'grantd upstream test ID' next.
`)
	database := c.database()
	var spec admin.UpstreamSpec
	var scopes stringList
	extra := keyValues{}
	c.StringVar(&spec.ID, "id", "", "the provider's `ID`, in grantd's URLs (required)")
	c.StringVar(&spec.Issuer, "issuer", "", "the provider's issuer `URL`, exactly as its discovery document says (required)")
	c.StringVar(&spec.ClientID, "client-id", "", "grantd's client `ID` at the provider (required)")
	c.StringVar(&spec.ClientSecret, "client-secret", "", "grantd's client `SECRET` at the provider")
	fromStdin := c.Bool("client-secret-stdin", false, "read the client secret from the first line of standard input")
	c.Var(&scopes, "scope", "a `SCOPE` to ask the provider for (repeatable; default openid)")
	c.StringVar(&spec.Name, "name", "", "the sign-in button's `TEXT`, e.g. \"Sign in with Lights Incorporated\"")
	c.StringVar(&spec.UsernameClaim, "claim-username", "", "the ID token `CLAIM` shown as the user's name (default preferred_username, then email)")
	c.Var(extra, "extra-param", "`NAME=VALUE` added to the provider's authorization request (repeatable)")
	c.StringVar(&spec.RevocationURL, "revocation-url", "", "the provider's revocation endpoint `URL`, when its discovery names none")
	if _, err := c.parse(args); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"id", spec.ID}, {"issuer", spec.Issuer}, {"client-id", spec.ClientID}} {
		if err := c.required(f.name, f.v); err != nil {
			return err
		}
	}
	switch {
	case *fromStdin && spec.ClientSecret != "":
		return usagef(c.Name(), "give --client-secret or --client-secret-stdin, not both")
	case *fromStdin:
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the client secret from standard input: %w", err)
		}
		spec.ClientSecret = strings.TrimRight(line, "\r\n")
	}
	spec.Scopes, spec.ExtraParams = scopes, extra
	cfg, op, done, err := e.configuredOperator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	sealer, err := loadSealer(cfg)
	if err != nil {
		return err
	}
	u, err := op.CreateUpstream(ctx, sealer, spec)
	if err != nil {
		return err
	}
	return e.printJSON(viewUpstream(u, cfg.Issuer))
}

// listUpstreams is `grantd upstream list`.
func (e *environment) listUpstreams(ctx context.Context, args []string) error {
	c := e.command("upstream list", `usage: grantd upstream list [--output json|table]

Prints {"upstreams": [...]}: every provider, without its secret.
`)
	database := c.database()
	c.withOutput()
	if _, err := c.parse(args); err != nil {
		return err
	}
	cfg, op, done, err := e.configuredOperator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	ups, err := op.Store.Upstreams(ctx)
	if err != nil {
		return err
	}
	out := struct {
		Upstreams []upstreamView `json:"upstreams"`
	}{Upstreams: []upstreamView{}}
	rows := make([][]string, 0, len(ups))
	for _, u := range ups {
		out.Upstreams = append(out.Upstreams, viewUpstream(u, cfg.Issuer))
		rows = append(rows, []string{u.ID, u.Issuer, u.ClientID, orDash(u.Name)})
	}
	if c.table() {
		return table(e.stdout, []string{"ID", "ISSUER", "CLIENT ID", "NAME"}, rows)
	}
	return e.printJSON(out)
}

// deleteUpstream is `grantd upstream delete ID`.
func (e *environment) deleteUpstream(ctx context.Context, args []string) error {
	c := e.command("upstream delete", `usage: grantd upstream delete ID

Removes the provider ID and its sign-in button. Its users stay, with their
grants; they can no longer sign in through it. Prints {"deleted": ID}.
`, "ID")
	database := c.database()
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	op, done, err := e.operator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	if err := op.DeleteUpstream(ctx, pos[0]); err != nil {
		return err
	}
	return e.printJSON(struct {
		Deleted string `json:"deleted"`
	}{pos[0]})
}

// testUpstream is `grantd upstream test ID`: it checks the provider as
// grantd will use it and prints each finding, with what to fix. It fails
// when any check fails.
func (e *environment) testUpstream(ctx context.Context, args []string) error {
	c := e.command("upstream test", `usage: grantd upstream test ID

Checks the provider ID as grantd will use it: its discovery document, its
keys, the endpoints and methods grantd needs, and grantd's client secret.
Prints one line per finding, each failure with what to fix, and exits with
status 1 if any check failed.
`, "ID")
	database := c.database()
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	id := pos[0]
	cfg, op, done, err := e.configuredOperator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	sealer, err := loadSealer(cfg)
	if err != nil {
		return err
	}
	u, err := op.Store.Upstream(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("upstream %q not found", id)
	} else if err != nil {
		return err
	}
	ucfg, err := (&federation.Directory{Sealer: sealer}).Config(u)
	if err != nil {
		return fmt.Errorf("upstream %q: %w", id, err)
	}
	findings := upstream.Check(ctx, ucfg, cfg.Issuer+federation.CallbackPath, upstream.Options{})
	for _, f := range findings {
		fmt.Fprintln(e.stdout, f)
	}
	if upstream.Failed(findings) {
		return fmt.Errorf("upstream %q: sign-in through it will not work until the failures above are fixed", id)
	}
	return nil
}
