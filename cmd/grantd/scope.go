package main

import (
	"context"

	"github.com/grantd/grantd/internal/admin"
)

const scopeUsage = `usage: grantd scope SUB-COMMAND [ARGUMENTS] [--FLAGS]

  set NAME       describe a scope in words, as the approval pages show it
  list           list the scopes in force: the stored ones and the built-in ones
  delete NAME    delete a stored description (a built-in scope's reverts)

Running servers reload the scopes every GRANTD_KEY_RELOAD_INTERVAL.
'grantd scope SUB-COMMAND --help' describes each.
`

// scopeView is a scope as the scope commands print it.
type scopeView struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Hidden      bool   `json:"hidden"`
	Builtin     bool   `json:"built_in"`
}

// setScope is `grantd scope set NAME --description TEXT [--hidden]`.
func (e *environment) setScope(ctx context.Context, args []string) error {
	c := e.command("scope set", `usage: grantd scope set NAME --description TEXT [--hidden]

Stores what the scope NAME lets a client do, in words, as the approval and
account pages show it, and prints the scope. A built-in scope's
description (openid, profile, email, offline_access) may be replaced.
`, "NAME")
	database := c.database()
	var spec admin.ScopeSpec
	c.StringVar(&spec.Description, "description", "", "what the scope lets a client do, in `TEXT` (required)")
	c.BoolVar(&spec.Hidden, "hidden", false, "leave the scope out of the metadata's scopes_supported")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if err := c.required("description", spec.Description); err != nil {
		return err
	}
	spec.Name = pos[0]
	op, done, err := e.operator(ctx, *database)
	if err != nil {
		return err
	}
	defer done()
	sc, err := op.SetScope(ctx, spec)
	if err != nil {
		return err
	}
	return e.printJSON(scopeView{sc.Name, sc.Description, sc.Hidden, false})
}

// deleteScope is `grantd scope delete NAME`.
func (e *environment) deleteScope(ctx context.Context, args []string) error {
	c := e.command("scope delete", `usage: grantd scope delete NAME

Deletes the stored description of the scope NAME; a built-in scope's
reverts to the built-in one. Prints {"name", "deleted": true}.
`, "NAME")
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
	if err := op.DeleteScope(ctx, pos[0]); err != nil {
		return err
	}
	return e.printJSON(struct {
		Name    string `json:"name"`
		Deleted bool   `json:"deleted"`
	}{pos[0], true})
}

// listScopes is `grantd scope list`: every scope in force, by name.
func (e *environment) listScopes(ctx context.Context, args []string) error {
	c := e.command("scope list", `usage: grantd scope list [--output json|table]

Prints {"scopes": [...]}: every scope in force, by name, with its
description, whether it is hidden from the metadata and whether its
description is the built-in one.
`)
	database := c.database()
	c.withOutput()
	if _, err := c.parse(args); err != nil {
		return err
	}
	st, err := e.openStore(ctx, *database)
	if err != nil {
		return err
	}
	defer st.Close()
	listed, err := admin.ListScopes(ctx, st)
	if err != nil {
		return err
	}
	out := make([]scopeView, 0, len(listed))
	rows := make([][]string, 0, len(listed))
	for _, s := range listed {
		out = append(out, scopeView{s.Name, s.Description, s.Hidden, s.Builtin})
		rows = append(rows, []string{s.Name, yesNo(s.Hidden), yesNo(s.Builtin), s.Description})
	}
	if c.table() {
		return table(e.stdout, []string{"NAME", "HIDDEN", "BUILT-IN", "DESCRIPTION"}, rows)
	}
	return e.printJSON(struct {
		Scopes []scopeView `json:"scopes"`
	}{out})
}
