package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/config"
	"github.com/grantd/grantd/internal/federation"
	"github.com/grantd/grantd/internal/store"
	"github.com/grantd/grantd/internal/store/sqlstore"
	"github.com/grantd/grantd/internal/upstream"
)

// upstreamJSON is how the upstream commands print an upstream: never its
// secret.
type upstreamJSON struct {
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

func showUpstream(u store.Upstream, issuer string) upstreamJSON {
	return upstreamJSON{u.ID, u.Name, u.Issuer, u.ClientID, u.ClientSecret != "", u.Scopes, u.UsernameClaim,
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
	fs := flag.NewFlagSet("upstream create", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var spec admin.UpstreamSpec
	var scopes stringList
	extra := keyValues{}
	database := fs.String("database", "", "SQLite file path or postgres:// URL (default $GRANTD_DATABASE or grantd.db)")
	fs.StringVar(&spec.ID, "id", "", "the upstream's id, in grantd's URLs (required)")
	fs.StringVar(&spec.Issuer, "issuer", "", "the provider's issuer URL, exactly as its discovery document says (required)")
	fs.StringVar(&spec.ClientID, "client-id", "", "grantd's client id at the provider (required)")
	fs.StringVar(&spec.ClientSecret, "client-secret", "", "grantd's client secret at the provider")
	fromStdin := fs.Bool("client-secret-stdin", false, "read the client secret from the first line of standard input")
	fs.Var(&scopes, "scope", "a scope to ask the provider for (repeatable; default openid)")
	fs.StringVar(&spec.Name, "name", "", `the sign-in button's text, e.g. "Sign in with Lights Incorporated"`)
	fs.StringVar(&spec.UsernameClaim, "claim-username", "", "the ID token claim shown as the user's name (default preferred_username, then email)")
	fs.Var(extra, "extra-param", "NAME=VALUE added to the provider's authorization request (repeatable)")
	fs.StringVar(&spec.RevocationURL, "revocation-url", "", "the provider's revocation endpoint, when its discovery names none")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"--id", spec.ID}, {"--issuer", spec.Issuer}, {"--client-id", spec.ClientID}} {
		if f.v == "" {
			return fmt.Errorf("upstream create: %s is required", f.name)
		}
	}
	switch {
	case *fromStdin && spec.ClientSecret != "":
		return errors.New("upstream create: give --client-secret or --client-secret-stdin, not both")
	case *fromStdin:
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the client secret from stdin: %w", err)
		}
		spec.ClientSecret = strings.TrimRight(line, "\r\n")
	}
	spec.Scopes, spec.ExtraParams = scopes, extra
	cfg, st, err := e.configAndStore(ctx, *database)
	if err != nil {
		return err
	}
	defer st.Close()
	sealer, err := loadSealer(cfg)
	if err != nil {
		return err
	}
	u, err := admin.CreateUpstream(ctx, st, sealer, time.Now(), spec)
	if err != nil {
		return err
	}
	return e.printJSON(showUpstream(u, cfg.Issuer))
}

// listUpstreams is `grantd upstream list`.
func (e *environment) listUpstreams(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("upstream list", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	database := fs.String("database", "", "SQLite file path or postgres:// URL (default $GRANTD_DATABASE or grantd.db)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, st, err := e.configAndStore(ctx, *database)
	if err != nil {
		return err
	}
	defer st.Close()
	ups, err := st.Upstreams(ctx)
	if err != nil {
		return err
	}
	out := struct {
		Upstreams []upstreamJSON `json:"upstreams"`
	}{Upstreams: []upstreamJSON{}}
	for _, u := range ups {
		out.Upstreams = append(out.Upstreams, showUpstream(u, cfg.Issuer))
	}
	return e.printJSON(out)
}

// deleteUpstream is `grantd upstream delete ID`.
func (e *environment) deleteUpstream(ctx context.Context, args []string) error {
	id, database, err := e.upstreamArg("upstream delete", args)
	if err != nil {
		return err
	}
	_, st, err := e.configAndStore(ctx, database)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.DeleteUpstream(ctx, id); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("upstream %q does not exist", id)
	} else if err != nil {
		return err
	}
	return e.printJSON(struct {
		Deleted string `json:"deleted"`
	}{id})
}

// testUpstream is `grantd upstream test ID`: it checks the provider as
// grantd will use it and prints each finding, with what to fix. It fails
// when any check fails.
func (e *environment) testUpstream(ctx context.Context, args []string) error {
	id, database, err := e.upstreamArg("upstream test", args)
	if err != nil {
		return err
	}
	cfg, st, err := e.configAndStore(ctx, database)
	if err != nil {
		return err
	}
	defer st.Close()
	sealer, err := loadSealer(cfg)
	if err != nil {
		return err
	}
	u, err := st.Upstream(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("upstream %q does not exist", id)
	} else if err != nil {
		return err
	}
	dir := &federation.Directory{Sealer: sealer}
	ucfg, err := dir.Config(u)
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

// upstreamArg parses `upstream delete|test ID [--database D]`.
func (e *environment) upstreamArg(name string, args []string) (id, database string, err error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	db := fs.String("database", "", "SQLite file path or postgres:// URL (default $GRANTD_DATABASE or grantd.db)")
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return "", "", err
	}
	if id == "" {
		return "", "", fmt.Errorf("%s: give the upstream's id", name)
	}
	return id, *db, nil
}

// configAndStore loads the settings and opens the store of a sub-command.
func (e *environment) configAndStore(ctx context.Context, database string) (config.Config, *sqlstore.Store, error) {
	cfg, err := config.Load(e.getenv, config.Overrides{Database: database})
	if err != nil {
		return config.Config{}, nil, err
	}
	st, err := e.openStore(ctx, database)
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, st, nil
}
