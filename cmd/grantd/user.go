package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/grantd/grantd/internal/admin"
)

const userUsage = `usage: grantd user SUB-COMMAND [ARGUMENTS] [--FLAGS]

  create             create a local account and print its id
  list               list the users, a page at a time
  show USER          show a user
  set-password USER  set a user's password, read from standard input
  disable USER       refuse the user and end their sessions, grants and tokens
  enable USER        let a disabled user sign in again
  delete USER        delete the user with their sessions, grants and tokens

USER is a user's id or user name (an id wins). Changes take effect on
running servers at once. 'grantd user SUB-COMMAND --help' describes each.
`

// createUser is `grantd user create`.
func (e *environment) createUser(ctx context.Context, args []string) error {
	c := e.command("user create", `usage: grantd user create --username NAME (--password PW | --password-stdin)
                          [--email ADDRESS [--email-verified]]

Creates a local account and prints {"id", "username"}. The id is what tokens
carry as sub: 26 random lower-case base32 characters, never reused and
unrelated to the user name.
`)
	database := c.database()
	username := c.String("username", "", "user `NAME` (required)")
	password := c.String("password", "", "the `PASSWORD` (visible to other local users: prefer --password-stdin)")
	fromStdin := c.Bool("password-stdin", false, "read the password from the first line of standard input")
	email := c.String("email", "", "the user's e-mail `ADDRESS`, released to clients granted the email scope")
	verified := c.Bool("email-verified", false, "the e-mail address has been verified (email_verified: true)")
	if _, err := c.parse(args); err != nil {
		return err
	}
	if err := c.required("username", *username); err != nil {
		return err
	}
	pw := *password
	switch {
	case *fromStdin && pw != "":
		return usagef(c.Name(), "give --password or --password-stdin, not both")
	case *fromStdin:
		var err error
		if pw, err = e.readPassword(); err != nil {
			return err
		}
	case pw == "":
		return usagef(c.Name(), "--password or --password-stdin is required")
	}
	op, done, err := e.operator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	u, err := op.CreateUser(ctx, admin.UserSpec{Username: *username, Password: pw, Email: *email, EmailVerified: *verified})
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

// readPassword reads a password from the first line of standard input.
func (e *environment) readPassword() (string, error) {
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// listUsers is `grantd user list`.
func (e *environment) listUsers(ctx context.Context, args []string) error {
	c := e.command("user list", `usage: grantd user list [--limit N] [--after ID] [--output json|table]

Lists users ordered by id, a page at a time: {"users": [...], "next": ID}.
When next is present, --after ID gives the page after.
`)
	database := c.database()
	c.withOutput()
	limit := c.Int("limit", admin.DefaultUserPage, "most users on the page, `N`")
	after := c.String("after", "", "list users whose id sorts after `ID` (the previous page's next)")
	if _, err := c.parse(args); err != nil {
		return err
	}
	if *limit < 1 {
		return usagef(c.Name(), "--limit %d: must be at least 1", *limit)
	}
	op, done, err := e.operator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	page, err := admin.ListUsers(ctx, op.Store, *after, *limit)
	if err != nil {
		return err
	}
	if c.table() {
		if err := table(e.stdout, userHeader, userRows(page.Users)); err != nil || page.Next == "" {
			return err
		}
		_, err := fmt.Fprintf(e.stdout, "more: --after %s\n", page.Next)
		return err
	}
	views := make([]userView, len(page.Users))
	for i, u := range page.Users {
		views[i] = viewUser(u)
	}
	return e.printJSON(struct {
		Users []userView `json:"users"`
		Next  string     `json:"next,omitempty"`
	}{views, page.Next})
}

// showUser is `grantd user show`.
func (e *environment) showUser(ctx context.Context, args []string) error {
	c := e.command("user show", `usage: grantd user show USER

Prints the user (USER: an id or a user name) as JSON.
`, "USER")
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
	u, err := admin.FindUser(ctx, op.Store, pos[0])
	if err != nil {
		return err
	}
	return e.printJSON(viewUser(u))
}

// setPassword is `grantd user set-password`.
func (e *environment) setPassword(ctx context.Context, args []string) error {
	c := e.command("user set-password", `usage: grantd user set-password USER --password-stdin

Sets the user's password to the first line of standard input, signs the user
out of every browser (their devices and linked platforms keep their grants),
and prints the user.
`, "USER")
	database := c.database()
	fromStdin := c.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if !*fromStdin {
		return usagef(c.Name(), "--password-stdin is required (a password on the command line is visible to other users)")
	}
	pw, err := e.readPassword()
	if err != nil {
		return err
	}
	op, done, err := e.operator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	u, err := op.SetPassword(ctx, pos[0], pw)
	if err != nil {
		return err
	}
	return e.printJSON(viewUser(u))
}

// userAction runs one of the sub-commands that take a USER and change it:
// disable, enable, delete.
func (e *environment) userAction(ctx context.Context, args []string, verb, about string,
	act func(context.Context, *admin.Operator, string) (any, error)) error {
	c := e.command("user "+verb, fmt.Sprintf("usage: grantd user %s USER\n\n%s\n", verb, about), "USER")
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
	out, err := act(ctx, op, pos[0])
	if err != nil {
		return err
	}
	return e.printJSON(out)
}

// disabledUser is what user disable prints.
type disabledUser struct {
	userView
	GrantsRevoked int `json:"grants_revoked"`
}

func (e *environment) disableUser(ctx context.Context, args []string) error {
	return e.userAction(ctx, args, "disable", `Disables the user and ends everything that acts for them: their browser
sessions, their grants and refresh tokens (access tokens introspect
inactive, refreshes are refused) and remembered consents. Enabling the user
again brings none of them back. Prints the user and how many grants were
revoked.`, func(ctx context.Context, op *admin.Operator, user string) (any, error) {
		u, n, err := op.DisableUser(ctx, user)
		return disabledUser{viewUser(u), n}, err
	})
}

func (e *environment) enableUser(ctx context.Context, args []string) error {
	return e.userAction(ctx, args, "enable", `Lets a disabled user sign in again, and prints the user.`,
		func(ctx context.Context, op *admin.Operator, user string) (any, error) {
			u, err := op.EnableUser(ctx, user)
			return viewUser(u), err
		})
}

func (e *environment) deleteUser(ctx context.Context, args []string) error {
	return e.userAction(ctx, args, "delete", `Deletes the user with their browser sessions, grants, refresh tokens,
authorization codes and consents; their access tokens introspect inactive.
The id is never given out again; the user name is free. Prints
{"id", "username", "deleted": true}.`, func(ctx context.Context, op *admin.Operator, user string) (any, error) {
		u, err := op.DeleteUser(ctx, user)
		return struct {
			ID       string `json:"id"`
			Username string `json:"username"`
			Deleted  bool   `json:"deleted"`
		}{u.ID, u.Username, true}, err
	})
}
