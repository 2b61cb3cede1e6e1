package main

import (
	"context"

	"github.com/grantd/grantd/internal/buildinfo"
)

// version is `grantd version`.
func (e *environment) version(_ context.Context, args []string) error {
	c := e.command("version", `usage: grantd version

Prints which grantd this is: {"version", "revision", "revision_time",
"modified", "go"} — the module version (a release tag, a pseudo-version
from the git revision, or (devel) when the build recorded none) and the git
revision it was built from, when the build recorded one.
`)
	if _, err := c.parse(args); err != nil {
		return err
	}
	return e.printJSON(buildinfo.Read())
}
