package main

import (
	"context"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/admin"
)

const clientUsage = `usage: grantd client SUB-COMMAND [ARGUMENTS] [--FLAGS]

  create         register a client and print it (with its secret, once, if generated)
  list           list the clients
  show ID        show a client
  update ID      change a client's settings; flags not given are left as they are
  rotate-secret ID   give a client a new secret; --grace keeps the old one working a while
  disable ID     refuse the client's requests and tokens until it is enabled again
  enable ID      accept a disabled client again
  delete ID      delete a client, revoking its grants and tokens

A change reaches running servers within 2 seconds (their client cache).
'grantd client SUB-COMMAND --help' describes each.
`

// clientFlags are the settings create and update share.
type clientFlags struct {
	spec                      admin.ClientSpec
	redirects, grants, scopes stringList
}

// addClientFlags adds the settings of a client to c.
func addClientFlags(c *cmdline, f *clientFlags) {
	c.StringVar(&f.spec.Name, "name", "", "display `NAME` shown on the approval page")
	c.Var(&f.redirects, "redirect-uri", "a redirect `URI` (repeatable)")
	c.Var(&f.grants, "grant-type", "a grant `TYPE`: urn:ietf:params:oauth:grant-type:device_code, "+
		"authorization_code or refresh_token (repeatable; default: the device grant and refresh_token)")
	c.Var(&f.scopes, "scope", "a `SCOPE` the client may request (repeatable)")
	c.StringVar(&f.spec.AuthMethod, "auth-method", "", "token endpoint auth `METHOD`: client_secret_basic (HTTP_BASIC), "+
		"client_secret_post (REQUEST_BODY_CREDENTIALS) or none (default: either secret method)")
	c.StringVar(&f.spec.Audience, "audience", "", "default aud `URI` of the client's access tokens (default: the issuer)")
	c.BoolVar(&f.spec.Introspect, "introspect", false,
		"allow the client to introspect other clients' tokens (every client may introspect its own)")
	c.StringVar(&f.spec.TokenMode, "token-mode", "", "what the client's device grants yield: `MODE` local "+
		"(grantd's tokens) or passthrough (the upstream provider's tokens of the user's sign-in) (default local)")
	c.StringVar(&f.spec.LogoURI, "logo-uri", "", "an https `URL` of the client's logo, shown on the consent page "+
		"(browsers load it; grantd never does)")
	c.StringVar(&f.spec.ClientURI, "client-uri", "", "an https `URL` of the client's home page, linked from the consent page")
	c.BoolVar(&f.spec.RevokeEndsGrant, "revoke-ends-grant", false,
		"revoking one of the client's access tokens revokes its whole grant (refresh and access tokens)")
}

// createClient is `grantd client create`.
func (e *environment) createClient(ctx context.Context, args []string) error {
	c := e.command("client create", `usage: grantd client create --id ID (--secret SECRET | --public) [--name NAME]
                            [--redirect-uri URI]... [--grant-type TYPE]... [--scope SCOPE]...
                            [--auth-method METHOD] [--audience URI] [--introspect] [--revoke-ends-grant]
                            [--token-mode local|passthrough] [--logo-uri URL] [--client-uri URL]

Registers a client and prints it as JSON. Without --secret or --public a
strong secret (256 random bits) is generated and printed once; grantd keeps
only its hash. A client that could never work is refused with the reason; one
whose settings make some requests fail is created with a warning that says
which.
`)
	database := c.database()
	var f clientFlags
	c.StringVar(&f.spec.ID, "id", "", "client `ID` (required)")
	c.StringVar(&f.spec.Secret, "secret", "", "client `SECRET` (default: generate one and print it once)")
	c.BoolVar(&f.spec.Public, "public", false, "a public client, with no secret")
	addClientFlags(c, &f)
	if _, err := c.parse(args); err != nil {
		return err
	}
	if err := c.required("id", f.spec.ID); err != nil {
		return err
	}
	if f.spec.Public && f.spec.Secret != "" {
		return usagef(c.Name(), "give --secret or --public, not both")
	}
	f.spec.RedirectURIs, f.spec.GrantTypes, f.spec.Scopes = f.redirects, f.grants, f.scopes
	op, done, err := e.operator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	created, err := op.CreateClient(ctx, f.spec)
	if err != nil {
		return err
	}
	e.warn(created.Warnings)
	v := viewClient(created.Client, op.Now())
	v.ClientSecret, v.Warnings = created.GeneratedSecret, created.Warnings
	return e.printJSON(v)
}

// listClients is `grantd client list`.
func (e *environment) listClients(ctx context.Context, args []string) error {
	c := e.command("client list", `usage: grantd client list [--output json|table]

Lists every client, ordered by id: {"clients": [...]}, each as client show
prints it.
`)
	database := c.database()
	c.withOutput()
	if _, err := c.parse(args); err != nil {
		return err
	}
	op, done, err := e.operator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	cs, err := op.Store.ListClients(ctx)
	if err != nil {
		return err
	}
	if c.table() {
		return table(e.stdout, clientHeader, clientRows(cs))
	}
	views := make([]clientView, len(cs))
	for i, cl := range cs {
		views[i] = viewClient(cl, op.Now())
	}
	return e.printJSON(struct {
		Clients []clientView `json:"clients"`
	}{views})
}

// showClient is `grantd client show`.
func (e *environment) showClient(ctx context.Context, args []string) error {
	c := e.command("client show", `usage: grantd client show ID

Prints the client as JSON: its settings, whether it is disabled, and until
when a rotated-out secret still works (previous_secret_valid_until).
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
	cl, err := admin.ShowClient(ctx, op.Store, pos[0])
	if err != nil {
		return err
	}
	return e.printJSON(viewClient(cl, op.Now()))
}

// updateClient is `grantd client update`.
func (e *environment) updateClient(ctx context.Context, args []string) error {
	c := e.command("client update", `usage: grantd client update ID [--name NAME] [--redirect-uri URI]... [--grant-type TYPE]...
                            [--scope SCOPE]... [--auth-method METHOD] [--audience URI]
                            [--introspect[=false]] [--revoke-ends-grant[=false]] [--token-mode MODE]
                            [--logo-uri URL] [--client-uri URL]

Changes the settings given and leaves the others as they are, then prints
the client. A repeatable flag given replaces the whole list; given once
with an empty value (--scope '') it empties it. The result is checked as
client create checks a new client. The secret changes with rotate-secret;
whether a client is public never changes.
`, "ID")
	database := c.database()
	var f clientFlags
	addClientFlags(c, &f)
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	u := clientUpdate(c, &f)
	op, done, err := e.operator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	cl, warnings, err := op.UpdateClient(ctx, pos[0], u)
	if err != nil {
		return err
	}
	e.warn(warnings)
	v := viewClient(cl, op.Now())
	v.Warnings = warnings
	return e.printJSON(v)
}

// clientUpdate returns the update the flags of c, parsed into f, ask for.
func clientUpdate(c *cmdline, f *clientFlags) admin.ClientUpdate {
	var u admin.ClientUpdate
	list := func(name string, l stringList) *[]string {
		if !c.given(name) {
			return nil
		}
		out := []string{}
		for _, v := range l {
			if v != "" {
				out = append(out, v)
			}
		}
		return &out
	}
	u.RedirectURIs, u.GrantTypes, u.Scopes = list("redirect-uri", f.redirects), list("grant-type", f.grants), list("scope", f.scopes)
	for name, dst := range map[string]**string{"name": &u.Name, "auth-method": &u.AuthMethod, "audience": &u.Audience,
		"token-mode": &u.TokenMode, "logo-uri": &u.LogoURI, "client-uri": &u.ClientURI} {
		if c.given(name) {
			v := c.Lookup(name).Value.String()
			*dst = &v
		}
	}
	if c.given("introspect") {
		u.Introspect = &f.spec.Introspect
	}
	if c.given("revoke-ends-grant") {
		u.RevokeEndsGrant = &f.spec.RevokeEndsGrant
	}
	return u
}

// setClientDisabled is `grantd client disable` and `grantd client enable`.
func (e *environment) setClientDisabled(ctx context.Context, args []string, disabled bool) error {
	verb, about := "enable", "Accepts the client's requests and its tokens again, and prints the client."
	if disabled {
		verb, about = "disable", "Refuses the client's requests and makes its tokens introspect inactive until it is\n"+
			"enabled again (its grants are kept), and prints the client."
	}
	c := e.command("client "+verb, fmt.Sprintf("usage: grantd client %s ID\n\n%s\n", verb, about), "ID")
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
	cl, err := op.SetClientDisabled(ctx, pos[0], disabled)
	if err != nil {
		return err
	}
	return e.printJSON(viewClient(cl, op.Now()))
}

func (e *environment) disableClient(ctx context.Context, args []string) error {
	return e.setClientDisabled(ctx, args, true)
}

func (e *environment) enableClient(ctx context.Context, args []string) error {
	return e.setClientDisabled(ctx, args, false)
}

// deleteClient is `grantd client delete`.
func (e *environment) deleteClient(ctx context.Context, args []string) error {
	c := e.command("client delete", `usage: grantd client delete ID

Deletes the client and ends what it holds: its grants and refresh tokens are
revoked (its access tokens introspect inactive), its pending device codes,
authorization codes and remembered consents deleted. Prints
{"client_id": ID, "deleted": true}.
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
	if err := op.DeleteClient(ctx, pos[0]); err != nil {
		return err
	}
	return e.printJSON(struct {
		ClientID string `json:"client_id"`
		Deleted  bool   `json:"deleted"`
	}{pos[0], true})
}

// rotateSecret is `grantd client rotate-secret`.
func (e *environment) rotateSecret(ctx context.Context, args []string) error {
	c := e.command("client rotate-secret", `usage: grantd client rotate-secret ID [--secret SECRET] [--grace DURATION]

Gives a confidential client a new secret: --secret's, or a strong generated
one printed once. The old secret stops working at once (within 2 seconds on
running servers), or, with --grace, when the grace ends, so that a fleet of
devices can change over. Prints {"client_id", "client_secret" (when
generated), "previous_secret_valid_until" (with --grace)}.
`, "ID")
	database := c.database()
	sec := c.String("secret", "", "the new `SECRET` (default: generate one and print it once)")
	grace := c.Duration("grace", 0, "how long the old secret keeps working, a Go `DURATION` such as 24h (default: not at all)")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if *grace < 0 {
		return usagef(c.Name(), "--grace %v: must not be negative", *grace)
	}
	op, done, err := e.operator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	r, err := op.RotateClientSecret(ctx, pos[0], *sec, *grace)
	if err != nil {
		return err
	}
	var until string
	if !r.PreviousValidUntil.IsZero() {
		until = r.PreviousValidUntil.UTC().Format(time.RFC3339)
	}
	return e.printJSON(struct {
		ClientID           string `json:"client_id"`
		ClientSecret       string `json:"client_secret,omitempty"`
		PreviousValidUntil string `json:"previous_secret_valid_until,omitempty"`
	}{r.ClientID, r.GeneratedSecret, until})
}
