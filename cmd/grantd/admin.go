package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/grantd/grantd/internal/admin"
	"github.com/grantd/grantd/internal/oauth"
)

// createClient is `grantd client create`.
func (e *environment) createClient(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("client create", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var spec admin.ClientSpec
	var redirects, grants, scopes stringList
	database := fs.String("database", "", "SQLite file path or postgres:// URL (default $GRANTD_DATABASE or grantd.db)")
	fs.StringVar(&spec.ID, "id", "", "client id (required)")
	fs.StringVar(&spec.Secret, "secret", "", "client secret (default: generate one and print it once)")
	fs.BoolVar(&spec.Public, "public", false, "a public client, with no secret")
	fs.StringVar(&spec.Name, "name", "", "display name shown on the approval page")
	fs.Var(&redirects, "redirect-uri", "a redirect URI (repeatable)")
	fs.Var(&grants, "grant-type", "a grant type (repeatable; default: device_code and refresh_token)")
	fs.Var(&scopes, "scope", "a scope the client may request (repeatable)")
	fs.StringVar(&spec.AuthMethod, "auth-method", "", "token endpoint auth method: client_secret_basic (HTTP_BASIC), client_secret_post (REQUEST_BODY_CREDENTIALS) or none (default: either secret method)")
	fs.StringVar(&spec.Audience, "audience", "", "default aud of the client's access tokens (default: the issuer)")
	fs.BoolVar(&spec.Introspect, "introspect", false, "allow the client to introspect other clients' tokens (every client may introspect its own)")
	fs.StringVar(&spec.TokenMode, "token-mode", "local", "what the client's device grants yield: local (grantd's tokens) or "+
		"passthrough (the upstream provider's tokens of the user's sign-in)")
	fs.BoolVar(&spec.RevokeEndsGrant, "revoke-ends-grant", false, "revoking one of the client's access tokens revokes its whole grant (refresh and access tokens)")
	fs.StringVar(&spec.LogoURI, "logo-uri", "", "an https URL of the client's logo, shown on the consent page (browsers load it; grantd never does)")
	fs.StringVar(&spec.ClientURI, "client-uri", "", "an https URL of the client's home page, linked from the consent page")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if spec.ID == "" {
		return errors.New("client create: --id is required")
	}
	spec.RedirectURIs, spec.GrantTypes, spec.Scopes = redirects, grants, scopes
	st, err := e.openStore(ctx, *database)
	if err != nil {
		return err
	}
	defer st.Close()
	created, err := admin.CreateClient(ctx, st, rand.Reader, time.Now(), spec)
	if err != nil {
		return err
	}
	c := created.Client
	method := c.AuthMethod
	if method == "" {
		method = oauth.AuthBasic
	}
	return e.printJSON(struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret,omitempty"`
		ClientName   string   `json:"client_name,omitempty"`
		Public       bool     `json:"public"`
		AuthMethod   string   `json:"token_endpoint_auth_method"`
		RedirectURIs []string `json:"redirect_uris"`
		GrantTypes   []string `json:"grant_types"`
		Scope        string   `json:"scope"`
		Audience     string   `json:"audience,omitempty"`
		Introspect   bool     `json:"introspect"`
		EndsGrant    bool     `json:"revoke_ends_grant"`
		TokenMode    string   `json:"token_mode"`
		LogoURI      string   `json:"logo_uri,omitempty"`
		ClientURI    string   `json:"client_uri,omitempty"`
	}{c.ID, created.GeneratedSecret, c.Name, c.Public, method, nonNil(c.RedirectURIs), c.GrantTypes,
		strings.Join(c.Scopes, " "), c.Audience, c.Introspect, c.RevokeEndsGrant, c.TokenMode, c.LogoURI, c.ClientURI})
}

// createUser is `grantd user create`.
func (e *environment) createUser(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	database := fs.String("database", "", "SQLite file path or postgres:// URL (default $GRANTD_DATABASE or grantd.db)")
	username := fs.String("username", "", "user name (required)")
	password := fs.String("password", "", "password")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	email := fs.String("email", "", "the user's e-mail address, released to clients granted the email scope")
	verified := fs.Bool("email-verified", false, "the e-mail address has been verified (email_verified: true)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" {
		return errors.New("user create: --username is required")
	}
	pw := *password
	switch {
	case *fromStdin && pw != "":
		return errors.New("user create: give --password or --password-stdin, not both")
	case *fromStdin:
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	case pw == "":
		return errors.New("user create: --password or --password-stdin is required")
	}
	st, err := e.openStore(ctx, *database)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := admin.CreateUser(ctx, st, rand.Reader, time.Now(),
		admin.UserSpec{Username: *username, Password: pw, Email: *email, EmailVerified: *verified})
	if err != nil {
		return err
	}
	return e.printJSON(struct {
		ID            string `json:"id"`
		Username      string `json:"username"`
		Email         string `json:"email,omitempty"`
		EmailVerified bool   `json:"email_verified,omitempty"`
	}{u.ID, u.Username, u.Email, u.EmailVerified})
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func (e *environment) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	return enc.Encode(v)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
