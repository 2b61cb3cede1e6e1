package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/admin"
)

// scopeJSON is a scope as the scope sub-commands print it.
type scopeJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Hidden      bool   `json:"hidden"`
	Builtin     bool   `json:"built_in"`
}

// setScope is `grantd scope set NAME --description D [--hidden]`.
func (e *environment) setScope(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("scope set", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	database := fs.String("database", "", "SQLite file path or postgres:// URL (default $GRANTD_DATABASE or grantd.db)")
	var spec admin.ScopeSpec
	fs.StringVar(&spec.Description, "description", "", "what the scope lets a client do, in words, as the pages show it (required)")
	fs.BoolVar(&spec.Hidden, "hidden", false, "leave the scope out of the metadata's scopes_supported")
	name, err := parseNamed(fs, args)
	if err != nil {
		return err
	}
	if spec.Description == "" {
		return errors.New("scope set: --description is required")
	}
	spec.Name = name
	st, err := e.openStore(ctx, *database)
	if err != nil {
		return err
	}
	defer st.Close()
	sc, err := admin.SetScope(ctx, st, time.Now(), spec)
	if err != nil {
		return err
	}
	return e.printJSON(scopeJSON{sc.Name, sc.Description, sc.Hidden, false})
}

// deleteScope is `grantd scope delete NAME`.
func (e *environment) deleteScope(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("scope delete", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	database := fs.String("database", "", "SQLite file path or postgres:// URL (default $GRANTD_DATABASE or grantd.db)")
	name, err := parseNamed(fs, args)
	if err != nil {
		return err
	}
	st, err := e.openStore(ctx, *database)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := admin.DeleteScope(ctx, st, name); err != nil {
		return err
	}
	return e.printJSON(struct {
		Name    string `json:"name"`
		Deleted bool   `json:"deleted"`
	}{name, true})
}

// listScopes is `grantd scope list`: every scope in force, by name.
func (e *environment) listScopes(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("scope list", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	database := fs.String("database", "", "SQLite file path or postgres:// URL (default $GRANTD_DATABASE or grantd.db)")
	if err := parseFlags(fs, args); err != nil {
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
	out := make([]scopeJSON, 0, len(listed))
	for _, s := range listed {
		out = append(out, scopeJSON{s.Name, s.Description, s.Hidden, s.Builtin})
	}
	return e.printJSON(struct {
		Scopes []scopeJSON `json:"scopes"`
	}{out})
}

// parseNamed parses the flags of a sub-command that names one thing, its
// NAME given before, among or after the flags, and returns the name.
func parseNamed(fs *flag.FlagSet, args []string) (string, error) {
	var name string
	for {
		if err := fs.Parse(args); err != nil {
			return "", err
		}
		if args = fs.Args(); len(args) == 0 {
			break
		}
		if name != "" {
			return "", fmt.Errorf("%s: unexpected argument %q", fs.Name(), args[0])
		}
		name, args = args[0], args[1:]
	}
	if name == "" {
		return "", errors.New(fs.Name() + ": a NAME is required")
	}
	return name, nil
}
