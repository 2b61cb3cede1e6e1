package main

import (
	"context"

	"github.com/grantd/grantd/internal/admin"
)

const grantUsage = `usage: grantd grant SUB-COMMAND [ARGUMENTS] [--FLAGS]

  list (--user USER | --client ID)   list a user's or a client's live grants
  revoke ID                          revoke a grant and every token of it
  revoke --user USER                 revoke every grant of a user

A grant is a user's authorization of a client: an approved device code or a
redeemed authorization code, with the refresh and access tokens issued under
it. Revocations take effect at once: refreshes are refused and access tokens
introspect inactive. 'grantd grant SUB-COMMAND --help' describes each.
`

// listGrants is `grantd grant list`.
func (e *environment) listGrants(ctx context.Context, args []string) error {
	c := e.command("grant list", `usage: grantd grant list (--user USER | --client ID) [--output json|table]

Lists the live (unrevoked, unexpired) grants of a user (USER: an id or a
user name) or of a client, newest first: {"grants": [...]}.
`)
	database := c.database()
	c.withOutput()
	user := c.String("user", "", "the `USER` (an id or a user name) whose grants to list")
	client := c.String("client", "", "the client `ID` whose grants to list")
	if _, err := c.parse(args); err != nil {
		return err
	}
	if (*user == "") == (*client == "") {
		return usagef(c.Name(), "give --user or --client, one of them")
	}
	op, done, err := e.operator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	gs, err := admin.ListGrants(ctx, op.Store, op.Now(), *user, *client)
	if err != nil {
		return err
	}
	if c.table() {
		return table(e.stdout, grantHeader, grantRows(gs))
	}
	views := make([]grantView, len(gs))
	for i, g := range gs {
		views[i] = viewGrant(g)
	}
	return e.printJSON(struct {
		Grants []grantView `json:"grants"`
	}{views})
}

// revokeGrants is `grantd grant revoke`.
func (e *environment) revokeGrants(ctx context.Context, args []string) error {
	c := e.command("grant revoke", `usage: grantd grant revoke ID
       grantd grant revoke --user USER

Revokes the grant ID and every refresh and access token issued under it, and
prints the grant with its revoked_at; or, with --user, every grant of the user, every
refresh token issued to them and their remembered consents, and prints
{"user_id", "grants_revoked"}. A grant ID that begins with "-" (older
grants may have one) goes after "--": grantd grant revoke -- ID.
`)
	database := c.database()
	user := c.String("user", "", "revoke every grant of `USER` (an id or a user name)")
	c.optional = []string{"ID"}
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if (*user != "") == (len(pos) > 0) {
		return usagef(c.Name(), "give a grant ID or --user, one of them")
	}
	op, done, err := e.operator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	if *user != "" {
		u, n, err := op.RevokeUserGrants(ctx, *user)
		if err != nil {
			return err
		}
		return e.printJSON(struct {
			UserID        string `json:"user_id"`
			GrantsRevoked int    `json:"grants_revoked"`
		}{u.ID, n})
	}
	g, err := op.RevokeGrant(ctx, pos[0])
	if err != nil {
		return err
	}
	return e.printJSON(viewGrant(g))
}
